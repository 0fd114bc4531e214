"""The leaderboard of some runs: their votes read, the statistics done by app/judging/ranking.py.

A contender is its label, across runs: keep labels stable from run to run (`ckpt-42`) to rank
checkpoints over time. A vote's `item` is its run and prompt, so that people and judges are
matched on the same pair. A judge's vote on a pair is one (both orders agreed, or a tie); its
position inconsistency and its agreement with people are measured on the two orders it judged.
A judge that judged a pair again (`again`) counts with its latest judging run of the pair only:
its vote and its two orders from there (app/judging/voters.py `latest_verdicts`).
"""

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import RunRow
from app.domain import Winner
from app.errors import NotFoundError
from app.judging import judge
from app.judging import judgements as store
from app.judging import repository as repo
from app.judging.judgements import Verdict
from app.judging.ranking import Vote, agreement, judge_inconsistency, leaderboard
from app.judging.repository import StoredVote
from app.judging.schemas import LeaderboardOut
from app.judging.voters import is_judge, judge_voter, latest_verdicts, ranked_as
from app.state import ServiceState

Contenders = dict[uuid.UUID, list[dict[str, Any]]]


async def board(
    state: ServiceState,
    run_ids: Sequence[uuid.UUID],
    tags: dict[str, str],
    voter: str,
    bootstrap: int,
    seed: int,
    project_id: uuid.UUID | None = None,
) -> LeaderboardOut:
    """The leaderboard of the runs named, and of those with all the tags (neither: of every
    run with votes), among `project_id`'s runs (None: every project's)."""
    async with state.engine.connect() as connection:
        selected = await _select(connection, run_ids, tags, project_id)
    await judge.settle_judged(state.engine, selected)
    async with state.engine.connect() as connection:
        stored = latest_verdicts(await repo.votes_of(connection, selected))
        verdicts = await store.verdicts_of(connection, selected)
        runs = selected if selected is not None else sorted({v.run_id for v in stored})
        contenders = await repo.contenders_of(
            connection, sorted({*runs, *(v.judged_run_id for v in verdicts)})
        )
    # The bootstrap takes a CPU for up to a second: not on the event loop.
    return await asyncio.to_thread(
        _compute, runs, contenders, stored, verdicts, voter, bootstrap, seed
    )


async def _select(
    connection: AsyncConnection,
    run_ids: Sequence[uuid.UUID],
    tags: dict[str, str],
    project_id: uuid.UUID | None,
) -> list[uuid.UUID] | None:
    if not run_ids and not tags and project_id is None:
        return None
    in_project = [] if project_id is None else [RunRow.project_id == project_id]
    if not run_ids and not tags:
        return sorted(await connection.scalars(select(RunRow.id).where(*in_project)))
    found: set[uuid.UUID] = set()
    if run_ids:
        found.update(
            await connection.scalars(select(RunRow.id).where(RunRow.id.in_(run_ids), *in_project))
        )
        if missing := [str(run_id) for run_id in run_ids if run_id not in found]:
            raise NotFoundError(f"no run with id {', '.join(missing)}")
    if tags:
        found.update(
            await connection.scalars(
                select(RunRow.id).where(RunRow.tags.contains(tags), *in_project)
            )
        )
    return sorted(found)


def _compute(
    runs: list[uuid.UUID],
    contenders: Contenders,
    stored: list[StoredVote],
    verdicts: list[Verdict],
    voter: str,
    bootstrap: int,
    seed: int,
) -> LeaderboardOut:
    def label(run_id: uuid.UUID, index: int) -> str:
        return str(contenders[run_id][index]["label"])

    votes = [
        Vote(
            label(v.run_id, v.a_contender),
            label(v.run_id, v.b_contender),
            cast(Winner, v.winner),
            ranked_as(v.voter),
            item=f"{v.run_id}:{v.prompt_position}",
        )
        for v in stored
    ]
    # The judges' diagnostics look at each order judged; the other votes count as they are.
    orders = [
        vote
        for vote, v in zip(votes, stored, strict=True)
        if not is_judge(v.voter) or v.judgement_id is None
    ]
    orders += _orders_judged(verdicts, label)
    models: defaultdict[str, set[str]] = defaultdict(set)
    for run_id in runs:
        for c in contenders[run_id]:
            models[c["label"]].add(c["model"])
    board = leaderboard(votes, voter=voter, labels=models, bootstrap=bootstrap, seed=seed)
    board = replace(
        board,
        contenders=[
            replace(c, model=", ".join(sorted(models[c.label])) or None) for c in board.contenders
        ],
        judge_inconsistency=judge_inconsistency(orders),
        agreement=agreement(orders),
    )
    return LeaderboardOut.model_validate({"runs": runs, "voter": voter, **asdict(board)})


def _orders_judged(verdicts: list[Verdict], label: Callable[[uuid.UUID, int], str]) -> list[Vote]:
    """Each order of the pairs a judge judged in both orders in one judging run: in the
    latest such run of that judge on the pair, as its votes count."""
    pairs: defaultdict[tuple[uuid.UUID, frozenset[int]], list[Verdict]] = defaultdict(list)
    for v in verdicts:
        pairs[v.judging_run_id, frozenset((v.a_response_id, v.b_response_id))].append(v)
    latest: dict[tuple[str, frozenset[int]], list[Verdict]] = {}
    for (_, pair), both in sorted(pairs.items(), key=lambda item: item[1][0].judgement_id):
        if len(both) == 2:
            latest[both[0].judge, pair] = both
    return [
        Vote(
            label(v.judged_run_id, v.a_contender),
            label(v.judged_run_id, v.b_contender),
            v.verdict,
            judge_voter(v.judge),
            item=f"{v.judged_run_id}:{v.prompt_position}",
        )
        for both in latest.values()
        for v in both
    ]
