"""The SQL of a model judge's judgements: which pairs are left to judge, the judgements of a
judging run, and turning its judge's answers into verdicts and votes.

A judgement is one judge call: one order of one pair of answers, the judge's prompt being a
prompt of the judging run and its answer that prompt's response. It stays `pending` until its
answer is read (`answered`, `record_verdicts`); a pair whose two orders are both judged gets
one vote (`vote_judged_pairs`), keyed by the judgement of its first order, so it can be made
only once.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, Text, and_, bindparam, case, cast, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import JudgementRow, PromptRow, ResponseRow, RunRow, VoteRow, status_in
from app.domain import PENDING_STATUSES, JudgeVerdict

judgements: Table = JudgementRow.__table__  # type: ignore[assignment]
responses: Table = ResponseRow.__table__  # type: ignore[assignment]
prompts: Table = PromptRow.__table__  # type: ignore[assignment]
runs: Table = RunRow.__table__  # type: ignore[assignment]
votes: Table = VoteRow.__table__  # type: ignore[assignment]
j, r = judgements.c, responses.c

# Advisory lock classes: starting a judge on a run, and reading a judging run's answers.
_JUDGING_A_RUN, _SETTLING = 0x6A756467, 0x73657474


async def _lock(connection: AsyncConnection, kind: int, run_id: uuid.UUID) -> None:
    await connection.execute(
        select(func.pg_advisory_xact_lock(kind, func.hashtext(cast(str(run_id), Text))))
    )


async def lock_judging_of(connection: AsyncConnection, run_id: uuid.UUID) -> None:
    """Until the transaction ends, no other judge starts on this run: each sees which pairs
    the others took."""
    await _lock(connection, _JUDGING_A_RUN, run_id)


async def lock_settling(connection: AsyncConnection, judging_run_id: uuid.UUID) -> None:
    """Until the transaction ends, no one else reads this judging run's answers: the two
    orders of a pair are then never settled apart, each unaware of the other."""
    await _lock(connection, _SETTLING, judging_run_id)


# Starting a judge


@dataclass(frozen=True)
class Answer:
    id: int
    prompt_position: int
    contender_index: int
    output: str


async def succeeded_answers(
    connection: AsyncConnection, run_id: uuid.UUID, first: int, stop: int
) -> list[Answer]:
    """The run's succeeded answers to prompts `first` to `stop - 1`, in prompt order."""
    rows = await connection.execute(
        select(r.id, r.prompt_position, r.contender_index, func.coalesce(r.output, ""))
        .where(
            r.run_id == run_id,
            r.prompt_position >= first,
            r.prompt_position < stop,
            status_in(r.status, "succeeded"),
        )
        .order_by(r.prompt_position, r.contender_index)
    )
    return [Answer(*row) for row in rows]


async def pairs_being_judged(
    connection: AsyncConnection, run_id: uuid.UUID, judge: str, first: int, stop: int
) -> set[frozenset[int]]:
    """The pairs of answers to prompts `first` to `stop - 1` that `judge` has judged, or is
    judging, in both orders in one judging run (calls that failed do not count)."""
    alive = (j.status == "judged") | (
        (j.status == "pending") & r.status.in_(("queued", "running", "succeeded"))
    )
    rows = await connection.execute(
        select(j.judging_run_id, j.a_response_id, j.b_response_id)
        .join(responses, r.id == j.judge_response_id)
        .where(
            j.judged_run_id == run_id,
            j.judge == judge,
            j.prompt_position >= first,
            j.prompt_position < stop,
            alive,
        )
    )
    orders: dict[tuple[uuid.UUID, frozenset[int]], int] = {}
    for judging_run_id, a, b in rows:
        key = (judging_run_id, frozenset((a, b)))
        orders[key] = orders.get(key, 0) + 1
    return {pair for (_, pair), n in orders.items() if n == 2}


async def prompt_texts(
    connection: AsyncConnection, run_id: uuid.UUID, first: int, stop: int
) -> dict[int, str]:
    p = prompts.c
    rows = await connection.execute(
        select(p.position, p.text).where(p.run_id == run_id, p.position >= first, p.position < stop)
    )
    return {key: value for key, value in rows}


async def responses_by_prompt(connection: AsyncConnection, run_id: uuid.UUID) -> dict[int, int]:
    """A one-contender run's response ids by prompt position."""
    rows = await connection.execute(select(r.prompt_position, r.id).where(r.run_id == run_id))
    return {key: value for key, value in rows}


async def insert_judgements(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await connection.execute(insert(judgements), rows)


# Settling: reading the judge's answers


async def judging_runs_pending(
    connection: AsyncConnection, judged_run_ids: Sequence[uuid.UUID] | None
) -> list[uuid.UUID]:
    """The judging runs with judgements still pending on these runs (None: on any run)."""
    query = select(j.judging_run_id).where(j.status == "pending").distinct()
    if judged_run_ids is not None:
        query = query.where(j.judged_run_id.in_(judged_run_ids))
    return sorted(await connection.scalars(query))


async def answered(connection: AsyncConnection, judging_run_id: uuid.UUID) -> list[tuple[int, str]]:
    """The pending judgements of the run whose judge has answered: (id, the answer)."""
    rows = await connection.execute(
        select(j.id, r.output)
        .join(responses, r.id == j.judge_response_id)
        .where(
            j.judging_run_id == judging_run_id,
            j.status == "pending",
            status_in(r.status, "succeeded"),
        )
    )
    return [(judgement_id, output or "") for judgement_id, output in rows]


_record = (
    update(judgements)
    .where(j.id == bindparam("b_id"), j.status == "pending")
    .values(
        status=bindparam("b_status"), verdict=bindparam("b_verdict"), error=bindparam("b_error")
    )
)


async def record_verdicts(
    connection: AsyncConnection, found: Sequence[tuple[int, JudgeVerdict | None, str | None]]
) -> None:
    """Each (judgement, verdict or None, why not) becomes `judged`, or `failed` without one."""
    if found:
        await connection.execute(
            _record,
            [
                {
                    "b_id": judgement_id,
                    "b_status": "failed" if verdict is None else "judged",
                    "b_verdict": verdict,
                    "b_error": error,
                }
                for judgement_id, verdict, error in found
            ],
        )


def _swapped(verdict: Any) -> Any:
    """A verdict on the other order, said of this one: its A was this order's B."""
    return case((verdict == "a", "b"), (verdict == "b", "a"), else_="tie")


async def vote_judged_pairs(connection: AsyncConnection, judging_run_id: uuid.UUID) -> int:
    """A vote for each pair of the run judged in both orders that has none: the verdict both
    orders agree on, else a tie. The first order (the contender listed first in the run shown
    as A) is the vote's `a`; its judgement keys the vote, so a pair gets one at most."""
    first, second = judgements.alias("first"), judgements.alias("second")
    f, s = first.c, second.c
    agreed = case((f.verdict == _swapped(s.verdict), f.verdict), else_="tie")
    pairs = (
        select(
            f.judged_run_id,
            f.prompt_position,
            f.a_response_id,
            f.b_response_id,
            f.a_contender,
            f.b_contender,
            agreed,
            "judge:" + f.judge,
            f.id,
        )
        .select_from(first)
        .join(
            second,
            and_(
                s.judging_run_id == f.judging_run_id,
                s.a_response_id == f.b_response_id,
                s.b_response_id == f.a_response_id,
            ),
        )
        .where(
            f.judging_run_id == judging_run_id,
            f.a_contender < f.b_contender,
            f.status == "judged",
            s.status == "judged",
        )
    )
    columns = [
        "run_id",
        "prompt_position",
        "a_response_id",
        "b_response_id",
        "a_contender",
        "b_contender",
        "winner",
        "voter",
        "judgement_id",
    ]
    result = await connection.execute(
        pg_insert(votes).from_select(columns, pairs).on_conflict_do_nothing()
    )
    return int(result.rowcount)


# Reading judgements


async def judged_run_of(
    connection: AsyncConnection, judging_run_id: uuid.UUID
) -> tuple[uuid.UUID | None, list[dict[str, Any]]] | None:
    """The run this run judges (None if it judges none) and its contenders; None if there is
    no such run."""
    row = (
        await connection.execute(
            select(runs.c.judges, runs.c.contenders).where(runs.c.id == judging_run_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


def _reported_status() -> Any:
    """A pending judgement whose call failed or was cancelled is reported failed."""
    return case(
        (
            (j.status == "pending") & ~r.status.in_((*PENDING_STATUSES, "succeeded")),
            "failed",
        ),
        else_=j.status,
    )


async def status_counts(connection: AsyncConnection, judging_run_id: uuid.UUID) -> dict[str, int]:
    status = _reported_status()
    rows = await connection.execute(
        select(status, func.count())
        .join(responses, r.id == j.judge_response_id)
        .where(j.judging_run_id == judging_run_id)
        .group_by(status)
    )
    return {key: value for key, value in rows}


async def vote_counts(connection: AsyncConnection, judging_run_id: uuid.UUID) -> tuple[int, int]:
    """How many pairs of the run got a vote, and how many of those were position-inconsistent
    (both orders judged, verdicts apart)."""
    first, second = judgements.alias("first"), judgements.alias("second")
    f, s = first.c, second.c
    v = votes.c
    row = (
        await connection.execute(
            select(func.count(), func.count().filter(f.verdict != _swapped(s.verdict)))
            .select_from(votes)
            .join(first, f.id == v.judgement_id)
            .join(
                second,
                and_(
                    s.judging_run_id == f.judging_run_id,
                    s.a_response_id == f.b_response_id,
                    s.b_response_id == f.a_response_id,
                ),
            )
            .where(f.judging_run_id == judging_run_id)
        )
    ).one()
    return int(row[0]), int(row[1])


@dataclass(frozen=True)
class Judgement:
    prompt_position: int
    a_response_id: int
    b_response_id: int
    a_contender: int
    b_contender: int
    status: str
    verdict: JudgeVerdict | None
    error: str | None
    judge_output: str | None


async def page(
    connection: AsyncConnection, judging_run_id: uuid.UUID, offset: int, limit: int
) -> list[Judgement]:
    """Judgements in the order of the judging run's prompts, with the judge's answers."""
    rows = await connection.execute(
        select(
            j.prompt_position,
            j.a_response_id,
            j.b_response_id,
            j.a_contender,
            j.b_contender,
            _reported_status(),
            j.verdict,
            func.coalesce(j.error, r.error),
            r.output,
        )
        .join(responses, r.id == j.judge_response_id)
        .where(j.judging_run_id == judging_run_id)
        .order_by(j.judge_response_id)
        .offset(offset)
        .limit(limit)
    )
    return [Judgement(*row) for row in rows]


@dataclass(frozen=True)
class Verdict:
    judged_run_id: uuid.UUID
    judging_run_id: uuid.UUID
    judge: str
    prompt_position: int
    a_contender: int
    b_contender: int
    a_response_id: int
    b_response_id: int
    verdict: JudgeVerdict


async def verdicts_of(
    connection: AsyncConnection, judged_run_ids: Sequence[uuid.UUID] | None
) -> list[Verdict]:
    """Every order judged on these runs' answers (None: on any run's), with its verdict."""
    query = select(
        j.judged_run_id,
        j.judging_run_id,
        j.judge,
        j.prompt_position,
        j.a_contender,
        j.b_contender,
        j.a_response_id,
        j.b_response_id,
        j.verdict,
    ).where(j.status == "judged")
    if judged_run_ids is not None:
        query = query.where(j.judged_run_id.in_(judged_run_ids))
    return [Verdict(*row) for row in await connection.execute(query)]
