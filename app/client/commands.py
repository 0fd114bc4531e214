"""`llm-compare submit | runs | show | export | retry | cancel | delete`: the service from
scripts, over HTTP. The run id goes to stdout, everything else to stderr. A service with
auth on takes the key in LLM_COMPARE_API_KEY.

Exit codes: 0 done; 1 pairs failed or the run was cancelled; 2 bad input or a request the
service refused; 3 the service could not be reached or failed.
"""

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from app.client import display
from app.client.inputs import InputError, InputFormat, PromptFile, Submission
from app.client.service import EXIT_FAILED_PAIRS, EXIT_REFUSED, Service, ServiceError

DEFAULT_URL = "http://127.0.0.1:8000"

Url = Annotated[
    str,
    typer.Option("--url", envvar="LLM_COMPARE_URL", help="The service.", show_default=DEFAULT_URL),
]
RunId = Annotated[str, typer.Argument(help="A run id, as `submit` printed it.")]
Wait = Annotated[bool, typer.Option("--wait", help="Follow the run with a progress bar.")]
AllowFailures = Annotated[
    bool, typer.Option("--allow-failures", help="Exit 0 even if some pairs failed.")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead.")]

err = Console(stderr=True, soft_wrap=True)
# Piped output is not squeezed into 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)


@contextmanager
def service_at(url: str) -> Iterator[Service]:
    """The service, with its errors turned into one line on stderr and an exit code."""
    retries = os.environ.get("LLM_COMPARE_RETRIES", "4")
    if not retries.isdigit():
        err.print(f"error: LLM_COMPARE_RETRIES={retries!r} is not a whole number", markup=False)
        raise typer.Exit(EXIT_REFUSED)
    api_key = os.environ.get("LLM_COMPARE_API_KEY") or None
    service = Service(url or DEFAULT_URL, attempts=1 + int(retries), api_key=api_key)
    try:
        yield service
    except ServiceError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None
    finally:
        service.close()


def finish(service: Service, summary: dict[str, Any], allow_failures: bool, quiet: bool) -> None:
    """Wait for the run, report it, and exit with what it came to."""
    final = display.follow(service.events(summary["id"]), err, quiet)
    err.print(display.outcome_line(final), markup=False, highlight=False)
    failed = final["counts"]["failed"] > 0 or final["status"] in ("failed", "partial")
    if final["status"] == "cancelled" or (failed and not allow_failures):
        raise typer.Exit(EXIT_FAILED_PAIRS)


def tag_pairs(values: list[str], separator: str) -> Iterator[tuple[str, str]]:
    for value in values:
        key, sep, tag = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{value!r} is not key=value", param_hint="--tag")
        yield key, tag if separator == "=" else f"{key}{separator}{tag}"


def submit(
    prompts: Annotated[
        str, typer.Argument(help="A .jsonl, .csv or text file (one prompt a line); - for stdin.")
    ],
    model: Annotated[
        list[str], typer.Option("--model", "-m", help="A model from GET /models; repeat.")
    ],
    name: Annotated[str | None, typer.Option(help="A name for the run.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="key=value; repeat.")] = None,
    template: Annotated[
        str | None, typer.Option(help="Template for every model (default: each model's own).")
    ] = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="Token limit per answer.")] = None,
    temperature: Annotated[float | None, typer.Option()] = None,
    budget_usd: Annotated[
        float | None,
        typer.Option(help="The most the run may spend (USD); needs --max-new-tokens."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print what the run would send and cost; send and store nothing."
        ),
    ] = False,
    fmt: Annotated[
        InputFormat, typer.Option("--format", help="How to read PROMPTS (default: by suffix).")
    ] = "auto",
    idempotency_key: Annotated[
        str | None,
        typer.Option(help="Default: derived from the input, so a re-run never makes a 2nd run."),
    ] = None,
    wait: Wait = False,
    allow_failures: AllowFailures = False,
    quiet: Quiet = False,
    url: Url = DEFAULT_URL,
) -> None:
    """Send the prompts in a file to the models; print the run id."""
    params = {"max_new_tokens": max_new_tokens, "temperature": temperature}
    head: dict[str, Any] = {
        "models": [{"model": m, "template": template} if template else m for m in model],
        "params": {k: v for k, v in params.items() if v is not None} or None,
        "name": name,
        "tags": dict(tag_pairs(tag or [], "=")),
    }
    if budget_usd is not None:
        head["budget_usd"] = budget_usd
    try:
        submission = Submission(PromptFile(prompts, fmt), head)
        count, digest = submission.check()
    except (InputError, OSError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_REFUSED) from None
    if dry_run:
        with service_at(url) as service:
            out.print(display.dry_run_table(service.dry_run(submission)))
        return
    key = idempotency_key or f"llm-compare-cli-{digest[:48]}"
    with service_at(url) as service:
        summary, replayed = service.submit(submission, key)
        sys.stdout.write(f"{summary['id']}\n")
        sys.stdout.flush()
        if replayed:
            err.print(
                f"note: this input was submitted before, as run {summary['id']}; pass "
                "--idempotency-key with a new value to submit it again as a new run",
                markup=False,
                highlight=False,
            )
        elif not quiet:
            err.print(f"submitted {count} prompts x {len(model)} models", highlight=False)
        if wait:
            finish(service, summary, allow_failures, quiet)


def runs(
    status: Annotated[list[str] | None, typer.Option(help="Repeat for any of several.")] = None,
    model: Annotated[str | None, typer.Option(help="Runs that used this model.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="key=value; repeat to require all.")] = None,
    q: Annotated[str | None, typer.Option("--q", help="Words in prompts or outputs.")] = None,
    created_after: Annotated[str | None, typer.Option(help="ISO 8601 date or time.")] = None,
    created_before: Annotated[str | None, typer.Option(help="ISO 8601 date or time.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs.")] = 20,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
) -> None:
    """List runs, newest first, with the API's filters."""
    params = {
        "status": status,
        "model": model,
        "tag": [t for _, t in tag_pairs(tag or [], ":")],
        "q": q,
        "created_after": created_after,
        "created_before": created_before,
    }
    with service_at(url) as service:
        found = service.runs({k: v for k, v in params.items() if v}, limit)
        if as_json:
            for run in found:
                sys.stdout.write(json.dumps(run) + "\n")
        else:
            out.print(display.runs_table(found))


def show(
    run_id: RunId,
    offset: Annotated[int, typer.Option(min=0, help="First prompt to show.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Prompts to show.")] = 20,
    width: Annotated[int, typer.Option(min=10, help="Characters of each text shown.")] = 400,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
) -> None:
    """One run side by side: a column per contender, a row per prompt."""
    with service_at(url) as service:
        run = service.run(run_id, prompt_offset=offset, prompt_limit=limit)
    if as_json:
        sys.stdout.write(json.dumps(run, indent=2) + "\n")
        return
    for part in display.run_view(run, width):
        out.print(part)


def export(
    run_id: RunId,
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: by -o's suffix).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Default: standard output.")
    ] = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Every pair of a run, streamed to a file."""
    fmt = fmt or ("csv" if output and output.suffix.lower() == ".csv" else "jsonl")
    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter(f"{fmt!r}: jsonl or csv", param_hint="--format")
    with service_at(url) as service:
        if output is None:
            service.export(run_id, fmt, sys.stdout.buffer)
            return
        partial = output.with_name(output.name + ".part")
        try:
            with partial.open("wb") as file:
                written = service.export(run_id, fmt, file)
            os.replace(partial, output)
        finally:
            partial.unlink(missing_ok=True)
        err.print(f"wrote {written} bytes to {output}", markup=False, highlight=False)


def _act(action: str) -> Callable[..., None]:
    def command(
        run_id: RunId,
        wait: Wait = False,
        allow_failures: AllowFailures = False,
        quiet: Quiet = False,
        url: Url = DEFAULT_URL,
    ) -> None:
        with service_at(url) as service:
            summary = service.action(run_id, action)
            err.print(display.outcome_line(summary), markup=False, highlight=False)
            if wait:
                finish(service, summary, allow_failures, quiet)

    return command


def delete(run_id: RunId, url: Url = DEFAULT_URL) -> None:
    """Delete a finished run with all its prompts and answers."""
    with service_at(url) as service:
        service.delete(run_id)
    err.print(f"deleted run {run_id}", markup=False, highlight=False)


def register(cli: typer.Typer) -> None:
    cli.command()(submit)
    cli.command()(runs)
    cli.command()(show)
    cli.command()(export)
    cli.command("retry", help="Send a run's failed pairs again (the others keep their answers).")(
        _act("retry")
    )
    cli.command("cancel", help="Stop a run: queued pairs are dropped, pairs in flight finish.")(
        _act("cancel")
    )
    cli.command()(delete)
