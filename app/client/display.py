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


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.6g}"


def dry_run_table(plan: dict[str, Any]) -> Table:
    """What a run would send (`POST /compare?dry_run=true`), a contender a row."""
    table = Table(
        "contender",
        "tokenizer",
        "prompt tokens",
        "max new tokens",
        "max cost",
        box=None,
        title=f"{plan['pairs']} pairs: {plan['prompt_count']} prompts x "
        f"{len(plan['contenders'])} contenders; at most {_usd(plan['max_cost_usd'])}",
    )
    for c in plan["contenders"]:
        limit = c["max_completion_tokens"]
        table.add_row(
            escape(c["label"]),
            c["tokenizer"],
            str(c["prompt_tokens"]),
            "no limit" if limit is None else str(limit),
            _usd(c["max_cost_usd"]),
        )
    return table


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


def _sample_cells(prompt: dict[str, Any], label: str, width: int) -> str:
    """A contender's answer to the prompt, or each of its repeated samples, numbered."""
    samples = prompt.get("samples", {}).get(label)
    if not samples:
        return _cell(prompt["responses"].get(label), width)
    k = len(samples)
    return "\n".join(
        f"[dim]sample {i}/{k}[/dim] {_cell(answer, width)}" for i, answer in enumerate(samples, 1)
    )


def _samples(contender: dict[str, Any]) -> str:
    """How many samples a prompt gets, and how often they agree (identical pairs)."""
    k = contender.get("samples", 1)
    agreement = contender.get("sample_agreement")
    if k == 1 or not agreement or agreement["share_identical"] is None:
        return str(k)
    return f"{k}, {agreement['share_identical']:.0%} same"


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
        "samples",
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
            _samples(c),
        )
    labels = [c["label"] for c in run["contenders"]]
    answers = Table("#", "prompt", *map(escape, labels), show_lines=True, title="answers")
    for prompt in run["prompts"]:
        answers.add_row(
            str(prompt["index"]),
            escape(prompt["text"][:width]),
            *(_sample_cells(prompt, label, width) for label in labels),
        )
    shown = len(run["prompts"])
    footer = (
        f"prompts {run['prompt_offset']}-{run['prompt_offset'] + shown - 1} of "
        f"{run['prompt_count']}; --offset and --limit show others"
        if shown < run["prompt_count"]
        else ""
    )
    return [header, contenders, answers, footer]


# Judging


def _cut(text: str, width: int) -> str:
    return escape(text[:width]) + ("[dim]…[/dim]" if len(text) > width else "")


def battle_view(battle: dict[str, Any], number: int, width: int) -> list[Any]:
    """A blind battle: the prompt, then the answers A and B side by side."""
    prompt = battle["prompt"]
    key = f" ({escape(prompt['key'])})" if prompt["key"] else ""
    header = f"[bold]battle {number}[/bold] · prompt {prompt['index']}{key}"
    answers = Table(show_lines=True, expand=True)
    for side in ("A", "B"):
        answers.add_column(side, ratio=1)  # as wide as each other, whatever they hold
    answers.add_row(*(_answer(battle[side]["output"], width) for side in ("a", "b")))
    return [header, _cut(prompt["text"], width), answers]


def _answer(text: str, width: int) -> str:
    return _cut(text, width) if text.strip() else "[dim](empty)[/dim]"


KEYS = {"a": "a", "b": "b", "t": "tie", "n": "both_bad"}
KEY_HELP = "a: A is better, b: B is better, t: tie, n: both bad, q: stop"


def reveal_line(vote: dict[str, Any]) -> str:
    def side(name: str) -> str:
        answer = vote[name]
        model = "" if answer["model"] == answer["label"] else f" ({answer['model']})"
        return f"{name.upper()} was {answer['label']}{model}"

    return f"{side('a')}, {side('b')}; your vote: {vote['winner']}"


def _num(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _interval(low: float | None, high: float | None, digits: int = 0) -> str:
    return "" if low is None or high is None else f"{low:.{digits}f}–{high:.{digits}f}"


def leaderboard_view(board: dict[str, Any]) -> list[Any]:
    """The ranking with intervals, the pairs' win rates, and the diagnostics."""
    ranking = Table(
        "#", "contender", "model", "score", "95% CI", "votes", "W-L-T", box=None, title="ranking"
    )
    for rank, c in enumerate(board["contenders"], 1):
        ranking.add_row(
            str(rank) if c["score"] is not None else "",
            escape(c["label"]),
            escape(c["model"] or ""),
            _num(c["score"]),
            _interval(c["ci_low"], c["ci_high"]),
            str(c["votes"]),
            f"{c['wins']}-{c['losses']}-{c['ties']}",
        )
    rates = Table("a", "b", "a wins", "95% CI", "votes", box=None, title="win rates (ties half)")
    for w in board["win_rates"]:
        rates.add_row(
            escape(w["a"]),
            escape(w["b"]),
            f"{w['rate']:.0%}",
            _interval(100 * w["ci_low"], 100 * w["ci_high"]) + "%",
            str(w["votes"]),
        )
    runs = len(board["runs"])
    notes = [f"{runs} run{'' if runs == 1 else 's'}; votes of: {board['voter']}"]
    bias = board["position_bias"]
    if bias["share_a"] is not None:
        notes.append(
            f"people chose the left answer (A) in {bias['share_a']:.0%} of {bias['decisive']} "
            f"decisive votes (95% CI {_interval(100 * bias['ci_low'], 100 * bias['ci_high'])}%)"
        )
    for row in board["judge_inconsistency"]:
        if row["share"] is not None:
            notes.append(
                f"{escape(row['judge'])}: the two orders disagreed on {row['inconsistent']} of "
                f"{row['pairs']} pairs ({row['share']:.0%})"
            )
    for row in board["agreement"]:
        if row["share"] is not None:
            notes.append(
                f"{escape(row['judge'])} agreed with people on {row['agree']} of {row['votes']} "
                f"votes ({row['share']:.0%})"
            )
    if not board["connected"]:
        notes.append("some contenders were never compared, even through others: their scores")
        notes.append("rest on the prior alone")
    return [ranking, rates, "\n".join(notes)]


def judgements_line(result: dict[str, Any]) -> str:
    counts = result["counts"]
    return (
        f"{result['judge']} judged run {result['judged_run_id']}: {counts['votes']} votes "
        f"({counts['inconsistent']} of them ties because the two orders disagreed); "
        f"judgements: {counts['judged']} judged, {counts['failed']} failed, "
        f"{counts['pending']} pending"
    )


# Diffs


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _signed(value: float | None) -> str:
    return "" if value is None else f"{round(value):+d}"


def _win_cell(win: dict[str, Any] | None) -> str:
    """b's win rate over a with its interval and votes, e.g. `83% (44–97%) of 6`."""
    if win is None:
        return "–"
    interval = f"{100 * win['ci_low']:.0f}–{100 * win['ci_high']:.0f}%"
    return f"{win['rate']:.0%} ({interval}) of {win['votes']}"


def _flag_cells(c: dict[str, Any]) -> str:
    """The flags and failures whose rate is not 0 on both sides: a → b (p), worse in red."""
    cells = []
    for name, change in [*c["flags"].items(), ("failed", c["failed"])]:
        if not change["only_a"] and not change["only_b"] and not change["rate_a"]:
            continue
        text = (
            f"{name} {_share(change['rate_a'])}→{_share(change['rate_b'])} "
            f"(p={change['p_value']:.2g})"
        )
        cells.append(f"[red]{text}[/red]" if change["worse"] else text)
    return "\n".join(cells)


def diff_view(diff: dict[str, Any], width: int) -> list[Any]:
    """Each contender pair's figures, the paired prompts shown, and what has no partner."""
    a, b = diff["a"], diff["b"]
    header = (
        f"[bold]a[/bold] {a['id']} {escape(a['name'] or '')}\n"
        f"[bold]b[/bold] {b['id']} {escape(b['name'] or '')}\n"
        f"{diff['paired_prompts']} prompts paired"
    )
    summary = Table(
        "a → b", "pairs", "changed", "similarity", "flags a→b", "p50 ms Δ", "out tokens Δ",
        "b wins (95%)", box=None, title="contenders",
    )  # fmt: skip
    for c in diff["contenders"]:
        summary.add_row(
            escape(
                c["label_a"] if c["label_a"] == c["label_b"] else f"{c['label_a']} → {c['label_b']}"
            ),
            str(c["pairs"]),
            f"{c['changed']} ({_share(c['changed_share'])})",
            _num(c["mean_similarity"], 2),
            _flag_cells(c),
            _signed(c["latency_ms"]["p50_delta"]),
            _signed(c["completion_tokens"]["mean_delta"]),
            _win_cell(c["win_rate"]),
        )
    rows = Table("#", "prompt", "pair", "a", "b", "sim", show_lines=True, title="answers")
    for prompt in diff["prompts"]:
        for answer in prompt["answers"]:
            rows.add_row(
                f"{prompt['index_a']}→{prompt['index_b']}",
                _cut(prompt["text"], width),
                escape(answer["label_a"]),
                _cut(answer["output_a"] or answer["status_a"], width),
                _cut(answer["output_b"] or answer["status_b"], width),
                _num(answer["similarity"], 2),
            )
    unpaired = diff["unpaired"]
    notes = [
        f"{unpaired[f'prompt_count_{side}']} prompts of {side} have no partner"
        for side in ("a", "b")
        if unpaired[f"prompt_count_{side}"]
    ]
    notes += [
        f"contenders of {side} with no partner: {escape(', '.join(unpaired[f'labels_{side}']))}"
        for side in ("a", "b")
        if unpaired[f"labels_{side}"]
    ]
    if any(c["win_rate"] is None for c in diff["contenders"]):
        notes.append(f"b wins: {diff['contenders'][0]['win_rate_reason'] or 'no votes'}")
    if diff["next_prompt_offset"] is not None:
        notes.append(f"more prompts from --offset {diff['next_prompt_offset']}")
    return [header, summary, rows, "\n".join(notes)]
