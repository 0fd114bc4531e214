"""The SQL of a model judge's judgements: which pairs are left to judge, the judgements of a
judging run, and turning its judge's answers into verdicts and votes.

A judgement is one judge call: one order of one pair of answers, the judge's prompt being a
prompt of the judging run and its answer that prompt's response. It stays `pending` until its
answer is read (`answered`, `record_verdicts`); a pair whose two orders are both judged gets
one vote (`vote_judged_pairs`), keyed by the judgement of its first order, so it can be made
only once.
"""

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
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
    run_id: uuid.UUID
    prompt_position: int
    contender_index: int
    output: str


async def succeeded_answers(
    connection: AsyncConnection, run_id: uuid.UUID, first: int, stop: int
) -> list[Answer]:
    """The run's succeeded answers to prompts `first` to `stop - 1`, in prompt order: each
    contender's first sample (judging compares contenders, not one's samples)."""
    rows = await connection.execute(
        select(r.id, r.run_id, r.prompt_position, r.contender_index, func.coalesce(r.output, ""))
        .where(
            r.run_id == run_id,
            r.prompt_position >= first,
            r.prompt_position < stop,
            status_in(r.status, "succeeded"),
            r.sample == 0,
        )
        .order_by(r.prompt_position, r.contender_index)
    )
    return [Answer(*row) for row in rows]


async def pairs_being_judged(
    connection: AsyncConnection, run_id: uuid.UUID, judge: str, first: int, stop: int
) -> set[frozenset[int]]:
    """The pairs of the run's answers to prompts `first` to `stop - 1` that `judge` has
    judged, or is judging, in both orders in one judging run (calls that failed do not count)."""
    return await _being_judged(
        connection,
        judge,
        j.judged_run_id == run_id,
        j.other_run_id.is_(None),
        j.prompt_position >= first,
        j.prompt_position < stop,
    )


async def pairs_across_being_judged(
    connection: AsyncConnection, runs: tuple[uuid.UUID, uuid.UUID], judge: str
) -> set[frozenset[int]]:
    """As `pairs_being_judged`, the pairs of an answer of one of two runs and one of the
    other (each order names the runs the other way round)."""
    return await _being_judged(
        connection, judge, j.judged_run_id.in_(runs), j.other_run_id.in_(runs)
    )


async def _being_judged(
    connection: AsyncConnection, judge: str, *where: Any
) -> set[frozenset[int]]:
    rows = (
        await connection.execute(
            select(
                j.judging_run_id, j.a_response_id, j.b_response_id, j.status, j.judge_response_id
            ).where(j.judge == judge, j.status.in_(("pending", "judged")), *where)
        )
    ).all()
    calls = await call_statuses(connection, [row[4] for row in rows if row[3] == "pending"])
    orders: Counter[tuple[uuid.UUID, frozenset[int]]] = Counter()
    for judging_run_id, a, b, status, call in rows:
        if status == "judged" or calls.get(call) in _CALL_ALIVE:
            orders[judging_run_id, frozenset((a, b))] += 1
    return {pair for (_, pair), n in orders.items() if n == 2}


_CALL_ALIVE = frozenset({*PENDING_STATUSES, "succeeded"})


def _any_id(ids: Sequence[int]) -> Any:
    """`= ANY(array)`: one parameter however many ids, probed one by one in the primary key."""
    return any_(bindparam("ids", list(ids), type_=ARRAY(BigInteger)))


async def call_statuses(connection: AsyncConnection, response_ids: Sequence[int]) -> dict[int, str]:
    """The status of each of the judge's calls (responses) named."""
    if not response_ids:
        return {}
    rows = await connection.execute(select(r.id, r.status).where(r.id == _any_id(response_ids)))
    return {row_id: status for row_id, status in rows}


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
    query = select(j.judging_run_id).where(status_in(j.status, "pending")).distinct()
    if judged_run_ids is not None:
        query = query.where(j.judged_run_id.in_(judged_run_ids))
    return sorted(await connection.scalars(query))


async def answered(connection: AsyncConnection, judging_run_id: uuid.UUID) -> list[tuple[int, str]]:
    """The pending judgements of the run whose judge has answered: (id, the answer)."""
    pending = (
        await connection.execute(
            select(j.id, j.judge_response_id).where(
                j.judging_run_id == judging_run_id, j.status == "pending"
            )
        )
    ).all()
    if not pending:
        return []
    answers = await connection.execute(
        select(r.id, r.output).where(
            r.id == _any_id([call for _, call in pending]), status_in(r.status, "succeeded")
        )
    )
    found = {row_id: output or "" for row_id, output in answers}
    return [(judgement_id, found[call]) for judgement_id, call in pending if call in found]


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
    orders agree on, else a tie. The first order (within a run, the contender listed first
    in the run shown as A; across two, the lower response id) is the vote's `a`; its
    judgement keys the vote, so a pair gets one at most."""
    first, second = judgements.alias("first"), judgements.alias("second")
    f, s = first.c, second.c
    agreed = case((f.verdict == _swapped(s.verdict), f.verdict), else_="tie")
    pairs = (
        select(
            f.judged_run_id,
            f.other_run_id,
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
            s.judging_run_id == judging_run_id,
            case(
                (f.other_run_id.is_(None), f.a_contender < f.b_contender),
                else_=f.a_response_id < f.b_response_id,
            ),
            f.status == "judged",
            s.status == "judged",
        )
    )
    columns = [
        "run_id",
        "other_run_id",
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


@dataclass(frozen=True)
class Judgement:
    judge_response_id: int
    judged_run_id: uuid.UUID
    other_run_id: uuid.UUID | None
    prompt_position: int
    a_response_id: int
    b_response_id: int
    a_contender: int
    b_contender: int
    status: str  # as stored: a pending judgement's call may have failed since
    verdict: JudgeVerdict | None
    error: str | None


async def judgements_of(connection: AsyncConnection, judging_run_id: uuid.UUID) -> list[Judgement]:
    """The run's judgements in the order of its prompts (at most a run's prompts: the
    sorting is done here, so no plan can walk another index in that order)."""
    rows = await connection.execute(
        select(
            j.judge_response_id,
            j.judged_run_id,
            j.other_run_id,
            j.prompt_position,
            j.a_response_id,
            j.b_response_id,
            j.a_contender,
            j.b_contender,
            j.status,
            j.verdict,
            j.error,
        ).where(j.judging_run_id == judging_run_id)
    )
    return sorted((Judgement(*row) for row in rows), key=lambda found: found.judge_response_id)


@dataclass(frozen=True)
class Call:
    status: str
    output: str | None
    error: str | None


async def calls(connection: AsyncConnection, response_ids: Sequence[int]) -> dict[int, Call]:
    """The judge's calls (responses) named: status, answer, error."""
    if not response_ids:
        return {}
    rows = await connection.execute(
        select(r.id, r.status, r.output, r.error).where(r.id == _any_id(response_ids))
    )
    return {row[0]: Call(*row[1:]) for row in rows}


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
    judgement_id: int


async def verdicts_of(
    connection: AsyncConnection, judged_run_ids: Sequence[uuid.UUID] | None
) -> list[Verdict]:
    """Every order judged on two answers of one of these runs (None: of any run), with its
    verdict; orders across two runs are not among them."""
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
        j.id.label("judgement_id"),
    ).where(j.status == "judged", j.other_run_id.is_(None))
    if judged_run_ids is not None:
        query = query.where(j.judged_run_id.in_(judged_run_ids))
    return [Verdict(**row._asdict()) for row in await connection.execute(query)]
