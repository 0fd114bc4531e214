"""How the command line shows runs: a progress bar, a list, the side-by-side view."""

from collections.abc import Iterable, Iterator
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table


def _done(counts: dict[str, int]) -> int:
    return counts["succeeded"] + counts["failed"] + counts["cancelled"]


def follow(events: Iterator[dict[str, Any]], console: Console, quiet: bool) -> dict[str, Any]:
    """Show a progress bar while the run advances; its final summary."""
    summary: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed}/{task.total} pairs, {task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    ) as progress:
        task = progress.add_task("queued", total=None, failed=0)
        for summary in events:
            counts = summary["counts"]
            progress.update(
                task,
                description=summary["status"],
                completed=_done(counts),
                total=counts["total"],
                failed=counts["failed"],
            )
    return summary


def outcome_line(summary: dict[str, Any]) -> str:
    counts = summary["counts"]
    parts = ", ".join(f"{counts[s]} {s}" for s in ("succeeded", "failed", "cancelled") if counts[s])
    return f"run {summary['id']} {summary['status']}: {parts or 'no pairs done'}"


def runs_table(runs: Iterable[dict[str, Any]]) -> Table:
    table = Table("created", "status", "name", "models", "done", "failed", box=None)
    table.add_column("id", no_wrap=True, min_width=36)
    for run in runs:
        counts = run["counts"]
        table.add_row(
            run["created_at"][:19].replace("T", " "),
            run["status"],
            escape(run["name"] or ""),
            escape(", ".join(run["models"])),
            f"{_done(counts)}/{counts['total']}",
            str(counts["failed"]),
            run["id"],
        )
    return table


def _cell(answer: dict[str, Any] | None, width: int) -> str:
    if answer is None:
        return ""
    if answer["status"] == "failed":
        return f"[red]failed: {escape(answer['error'] or '')}[/red]"
    if answer["status"] != "succeeded":
        return f"[dim]{answer['status']}[/dim]"
    text = answer["output"] or ""
    cut = len(text) > width
    text = escape(text[:width]) + ("…" if cut else "")
    if answer["finish_reason"] == "length":
        text += " [yellow]\\[cut off: token limit][/yellow]"
    return text


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def run_view(run: dict[str, Any], width: int) -> list[Any]:
    """The run's header, its contenders' figures and its prompts side by side."""
    counts = run["counts"]
    header = (
        f"[bold]run {run['id']}[/bold]  {run['status']}  {escape(run['name'] or '')}\n"
        f"{_done(counts)}/{counts['total']} pairs done, {counts['failed']} failed; "
        f"tags: {escape(str(run['tags']))}"
    )
    contenders = Table(
        "contender",
        "model",
        "template",
        "ok",
        "failed",
        "p50 ms",
        "p95 ms",
        "out tokens",
        "cut off",
        title="contenders",
        box=None,
    )
    for c in run["contenders"]:
        contenders.add_row(
            escape(c["label"]),
            escape(c["model"]),
            escape(c["template"]),
            str(c["counts"]["succeeded"]),
            str(c["counts"]["failed"]),
            _ms(c["latency_ms_p50"]),
            _ms(c["latency_ms_p95"]),
            "" if c["completion_tokens"] is None else str(c["completion_tokens"]),
            str(c["truncated"]),
        )
    labels = [c["label"] for c in run["contenders"]]
    answers = Table("#", "prompt", *map(escape, labels), show_lines=True, title="answers")
    for prompt in run["prompts"]:
        answers.add_row(
            str(prompt["index"]),
            escape(prompt["text"][:width]),
            *(_cell(prompt["responses"].get(label), width) for label in labels),
        )
    shown = len(run["prompts"])
    footer = (
        f"prompts {run['prompt_offset']}-{run['prompt_offset'] + shown - 1} of "
        f"{run['prompt_count']}; --offset and --limit show others"
        if shown < run["prompt_count"]
        else ""
    )
    return [header, contenders, answers, footer]
