"""`llm-compare vote | judge | leaderboard`: blind voting in the terminal, a model as judge,
the leaderboard. Exit codes as the other commands (app/client/commands.py)."""

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import click
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
    out,
    service_at,
    tag_pairs,
)
from app.client.service import EXIT_FAILED_PAIRS, EXIT_REFUSED, Service, ServiceError

Contenders = Annotated[
    list[str] | None,
    typer.Option("--contender", "-c", help="A contender's label; give two to pair only them."),
]

Again = Annotated[
    bool,
    typer.Option(
        "--again",
        help="Judge again the pairs this judge judged already, asking it anew (its latest "
        "verdict on a pair counts); without it they are skipped.",
    ),
]
Cache = Annotated[
    bool | None,
    typer.Option(
        "--cache/--no-cache",
        help="Reuse the judge's stored answers to identical judge prompts, or ask it every "
        "time. Default: reuse, except with --again.",
        show_default=False,
    ),
]


def rejudging(again: bool, cache: bool | None) -> dict[str, bool]:
    """The judge request's `again` and `cache`, as given."""
    return {"again": again} | ({} if cache is None else {"cache": cache})


def _pair(contenders: list[str] | None) -> list[str] | None:
    if contenders is not None and len(contenders) != 2:
        raise typer.BadParameter("give two contenders, or none", param_hint="--contender")
    return contenders


def _key() -> str:
    """The next key pressed (a terminal) or line typed (a pipe); `q` at the end of input."""
    if sys.stdin.isatty():
        return click.getchar().lower()
    line = sys.stdin.readline()
    return line.strip().lower()[:1] if line else "q"


def vote(
    run_id: RunId,
    contender: Contenders = None,
    voter: Annotated[
        str | None, typer.Option(help="Your name, stored with your votes as people:NAME.")
    ] = None,
    width: Annotated[int, typer.Option(min=10, help="Characters of each text shown.")] = 2000,
    url: Url = DEFAULT_URL,
) -> None:
    """Vote blind in the terminal, pair after pair.

    Two answers to a prompt are shown as A and B; press a or b for the better one, t for a
    tie, n if both are bad, q to stop. Whose answers they were is shown after each vote.
    """
    pair = _pair(contender)
    voted = 0
    with service_at(url) as service:
        while True:
            battle = _next_battle(service, run_id, pair, first=voted == 0)
            if battle is None:
                break
            for part in display.battle_view(battle, voted + 1, width):
                out.print(part)
            winner = _winner()
            if winner is None:  # the battle is left to expire
                break
            reveal = service.post(
                f"/battles/{battle['id']}/vote", {"winner": winner, "voter": voter}
            )
            out.print(display.reveal_line(reveal), markup=False, highlight=False)
            voted += 1
    err.print(
        f"{voted} votes; see them ranked: llm-compare leaderboard --run {run_id}",
        markup=False,
        highlight=False,
    )


def _next_battle(
    service: Service, run_id: str, pair: list[str] | None, first: bool
) -> dict[str, Any] | None:
    """A new battle; None when the run has none left to give (an error before any vote)."""
    try:
        battle: dict[str, Any] = service.post(
            f"/runs/{run_id}/battles", {"contenders": pair} if pair else {}
        )
    except ServiceError as exc:
        if first or "HTTP 409" not in str(exc):
            raise
        err.print(f"no more battles: {exc}", markup=False, highlight=False)
        return None
    return battle


def _winner() -> str | None:
    while True:
        err.print(display.KEY_HELP, markup=False, highlight=False)
        key = _key()
        if key == "q":
            return None
        if key in display.KEYS:
            return display.KEYS[key]


def judge(
    run_id: RunId,
    judge_model: Annotated[
        str, typer.Option("--judge", "-j", help="The judge: a model from GET /models.")
    ],
    contender: Contenders = None,
    rubric: Annotated[
        Path | None, typer.Option(help="A file with your rubric (default: GET /judge/rubric).")
    ] = None,
    max_prompts: Annotated[
        int | None, typer.Option(min=1, help="Judge at most this many prompts.")
    ] = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="The judge's token limit.")] = None,
    again: Again = False,
    cache: Cache = None,
    wait: Wait = False,
    allow_failures: AllowFailures = False,
    quiet: Quiet = False,
    url: Url = DEFAULT_URL,
) -> None:
    """Have a model judge a run's answers; print the judging run's id.

    Each pair of answers to a prompt is judged in both orders; with --wait, the judging run
    is followed to its end and the votes it made are reported.
    """
    body: dict[str, Any] = {"judge": judge_model, "contenders": _pair(contender)}
    if rubric is not None:
        try:
            body["rubric"] = rubric.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            err.print(f"error: {rubric}: {exc}", markup=False, highlight=False)
            raise typer.Exit(EXIT_REFUSED) from None
    if max_prompts is not None:
        body["max_prompts"] = max_prompts
    if max_new_tokens is not None:
        body["params"] = {"max_new_tokens": max_new_tokens}
    with service_at(url) as service:
        given = {k: v for k, v in body.items() if v}
        summary = service.post(f"/runs/{run_id}/judge", given | rejudging(again, cache))
        sys.stdout.write(f"{summary['id']}\n")
        sys.stdout.flush()
        if not wait:
            return
        final = display.follow(service.events(summary["id"]), err, quiet)
        err.print(display.outcome_line(final), markup=False, highlight=False)
        result = service.get(f"/runs/{summary['id']}/judgements", limit=1)
    err.print(display.judgements_line(result), markup=False, highlight=False)
    if result["counts"]["failed"] and not allow_failures:
        raise typer.Exit(EXIT_FAILED_PAIRS)


def leaderboard(
    run: Annotated[list[str] | None, typer.Option("--run", help="A run id; repeat.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="key=value: the runs with every such tag.")
    ] = None,
    voter: Annotated[str, typer.Option(help="people, judge:MODEL or all.")] = "all",
    bootstrap: Annotated[
        int, typer.Option(min=0, max=10_000, help="Resamples of the intervals.")
    ] = 1000,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
) -> None:
    """Contenders ranked by their votes, with 95% intervals.

    The votes of the runs named by --run and of those with every --tag; neither: every run.
    """
    tags = [t for _, t in tag_pairs(tag or [], ":")]
    with service_at(url) as service:
        board = service.get(
            "/leaderboard", run=run or None, tag=tags or None, voter=voter, bootstrap=bootstrap
        )
    if as_json:
        sys.stdout.write(json.dumps(board, indent=2) + "\n")
        return
    for part in display.leaderboard_view(board):
        out.print(part)


def register(cli: typer.Typer) -> None:
    cli.command()(vote)
    cli.command()(judge)
    cli.command()(leaderboard)
