"""`llm-compare replay | diff`: a run's prompts sent again, and two runs compared (and judged,
with `--judge`), with a gate for CI (exit code 1 when it fails). Exit codes as the other
commands (app/client/commands.py)."""

import json
import sys
import uuid
from typing import Annotated, Any

import typer

from app.client import display
from app.client.commands import (
    DEFAULT_URL,
    AllowFailures,
    AsJson,
    Quiet,
    RunId,
    Url,
    Wait,
    err,
    finish,
    out,
    service_at,
    tag_pairs,
)
from app.client.judging import Again, Cache, rejudging
from app.client.service import EXIT_FAILED_PAIRS


def replay(
    run_id: RunId,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Other models (repeat); default: the run's own."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Default: the run's name.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="key=value; repeat. Default: the run's.")
    ] = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="Token limit per answer.")] = None,
    temperature: Annotated[float | None, typer.Option()] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Default: a new one, so each command makes a new run.")
    ] = None,
    wait: Wait = False,
    allow_failures: AllowFailures = False,
    quiet: Quiet = False,
    url: Url = DEFAULT_URL,
) -> None:
    """Send a run's prompts again, to its contenders or others; print the new run's id."""
    params = {"max_new_tokens": max_new_tokens, "temperature": temperature}
    body: dict[str, Any] = {
        "models": model or None,
        "params": {k: v for k, v in params.items() if v is not None} or None,
        "name": name,
        "tags": dict(tag_pairs(tag, "=")) if tag else None,
    }
    key = idempotency_key or f"llm-compare-cli-replay-{uuid.uuid4()}"
    with service_at(url) as service:
        summary, replayed = service.replay(
            run_id, {k: v for k, v in body.items() if v is not None}, key
        )
        sys.stdout.write(f"{summary['id']}\n")
        sys.stdout.flush()
        if replayed:
            err.print(f"note: this key made run {summary['id']} before", markup=False)
        elif not quiet:
            err.print(f"replaying run {run_id} as run {summary['id']}", highlight=False)
        if wait:
            finish(service, summary, allow_failures, quiet)


def diff(
    a: Annotated[str, typer.Argument(help="The run before (e.g. yesterday's checkpoint).")],
    b: Annotated[str, typer.Argument(help="The run after.")],
    label_map: Annotated[
        list[str] | None,
        typer.Option("--map", help="label_in_a:label_in_b, to pair two contenders; repeat."),
    ] = None,
    fail_if_changed: Annotated[
        float | None,
        typer.Option(min=0, max=1, help="Exit 1 if a larger share of answers changed."),
    ] = None,
    fail_on_flag: Annotated[
        list[str] | None,
        typer.Option(help="Exit 1 if this flag (or `failed`) got significantly worse; repeat."),
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Show every paired prompt, not only the changed ones.")
    ] = False,
    offset: Annotated[int, typer.Option(min=0, help="First prompt of a to show.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Prompts to show.")] = 20,
    width: Annotated[int, typer.Option(min=10, help="Characters of each text shown.")] = 200,
    judge_model: Annotated[
        str | None,
        typer.Option(
            "--judge",
            help="First have this model judge B's answers against A's (waits for it): the "
            "votes make the table's win rate.",
        ),
    ] = None,
    again: Again = False,
    cache: Cache = None,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
) -> None:
    """Compare run B with run A answer by answer: what changed, whether each flag's rate
    moved more than chance would (exact McNemar test), and how often B's answers win where
    votes or a judge compared them."""
    with service_at(url) as service:
        if judge_model is not None:
            body = {"judge": judge_model, "map": label_map or [], **rejudging(again, cache)}
            judging = service.post(f"/runs/{a}/diff/{b}/judge", body)
            err.print(f"judging b against a: run {judging['id']}", highlight=False)
            final = display.follow(service.events(judging["id"]), err, quiet=True)
            err.print(display.outcome_line(final), markup=False, highlight=False)
        found: dict[str, Any] = service.get(
            f"/runs/{a}/diff/{b}",
            map=label_map or None,
            fail_if_changed=fail_if_changed,
            fail_on_flag=fail_on_flag or None,
            only=None if show_all else "changed",
            prompt_offset=offset,
            prompt_limit=limit,
        )
    if as_json:
        sys.stdout.write(json.dumps(found, indent=2) + "\n")
    else:
        for part in display.diff_view(found, width):
            out.print(part)
    for failure in found["gate"]["failures"]:
        err.print(f"gate: {failure}", markup=False, highlight=False)
    if not found["gate"]["passed"]:
        raise typer.Exit(EXIT_FAILED_PAIRS)


def register(cli: typer.Typer) -> None:
    cli.command()(replay)
    cli.command()(diff)
