"""Budgets, kept in the claim's transaction: a budgeted run's pairs are taken only while what
the run spent plus the worst case of its pairs in flight stays within its budget.

The run rows are locked (after the pairs, in id order, as every claim does), so claims for
one run in any number of processes take turns, each seeing the pairs the others took as in
flight at their worst case, and the run's cost as the writer last committed it. A pair that
does not fit while others are in flight goes back to the queue, to fit once they are paid
for; one that cannot fit with nothing in flight never will (the cost only grows): it ends
`cancelled`, `budget exhausted`. A claim changes only the pairs it took: another claim may
hold the run's other queued pairs, and waiting for them while holding the run would deadlock.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Table, any_, case, func, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import ResponseRow, status_in

BUDGET_EXHAUSTED = "budget exhausted"

responses: Table = ResponseRow.__table__  # type: ignore[assignment]
r = responses.c


@dataclass(frozen=True, slots=True)
class Budget:
    """A locked budgeted run: its budget and what it spent so far (None: unknown)."""

    run_id: uuid.UUID
    budget_usd: float
    cost_usd: float | None


@dataclass(frozen=True, slots=True)
class Taken:
    """A pair a claim took: its id, run and worst case."""

    id: int
    run_id: uuid.UUID
    max_cost_usd: float | None


@dataclass(frozen=True, slots=True)
class Verdict:
    """Of the pairs a claim took: those to put back in the queue and those to cancel."""

    requeue: list[int]
    cancel: list[int]
    left_usd: float = 0.0  # what the run can still spend, when pairs are cancelled


def fit(budget: Budget, in_flight_usd: float, taken: Sequence[Taken]) -> Verdict:
    """Keep, in order, the pairs that fit in what the budget has left."""
    left = budget.budget_usd - (budget.cost_usd or 0.0) - in_flight_usd
    kept, over = 0, []
    for pair in taken:
        cost = pair.max_cost_usd or 0.0
        if budget.cost_usd is not None and cost <= left:
            left -= cost
            kept += 1
        else:
            over.append(pair.id)
    if kept or in_flight_usd > 0:
        return Verdict(requeue=over, cancel=[])
    return Verdict(requeue=[], cancel=over, left_usd=left if budget.cost_usd is not None else -1)


def _ids(ids: list[int]) -> Any:
    return literal(ids, ARRAY(BigInteger))


async def in_flight_usd(
    connection: AsyncConnection, run_ids: list[uuid.UUID], token: uuid.UUID
) -> dict[uuid.UUID, float]:
    """Per run, the worst case of its pairs in flight that this claim did not take."""
    rows = await connection.execute(
        select(r.run_id, func.sum(r.max_cost_usd))
        .where(
            r.run_id == any_(literal(run_ids, ARRAY(UUID(as_uuid=True)))),
            # As ix_responses_budgeted_in_flight's predicate says, so that it serves.
            status_in(r.status, "running"),
            r.max_cost_usd.is_not(None),
            r.lease_token != token,
        )
        .group_by(r.run_id)
    )
    return {run_id: total or 0.0 for run_id, total in rows}


async def keep_within(
    connection: AsyncConnection, budgets: list[Budget], taken: list[Taken], token: uuid.UUID
) -> Verdict:
    """Undo the claim of the pairs that do not fit their run's budget: back to the queue, or
    `cancelled` when they never can. The runs must be locked."""
    by_run: dict[uuid.UUID, list[Taken]] = defaultdict(list)
    for pair in taken:
        by_run[pair.run_id].append(pair)
    in_flight = await in_flight_usd(connection, [b.run_id for b in budgets], token)
    requeue: list[int] = []
    cancel: list[int] = []
    exhausted: dict[uuid.UUID, float] = {}
    for budget in budgets:
        verdict = fit(budget, in_flight.get(budget.run_id, 0.0), by_run[budget.run_id])
        requeue += verdict.requeue
        cancel += verdict.cancel
        if verdict.cancel:
            exhausted[budget.run_id] = verdict.left_usd
    if requeue or cancel:
        # Undone as if never claimed: the claim counted a call and may have set started_at.
        never_called = r.attempts - 1 == 0
        undone, cancelled = _ids(requeue + cancel), r.id == any_(_ids(cancel))
        await connection.execute(
            update(responses)
            .where(r.id == any_(undone), r.lease_token == token)
            .values(
                status=case((cancelled, "cancelled"), else_="queued"),
                error=case((cancelled, BUDGET_EXHAUSTED), else_=r.error),
                finished_at=case((cancelled, func.now()), else_=None),
                started_at=case((never_called, None), else_=r.started_at),
                attempts=r.attempts - 1,
                lease_token=None,
                lease_expires_at=None,
            )
        )
    for run_id, left in exhausted.items():
        await _cancel_rest(connection, run_id, left)
    return Verdict(requeue=requeue, cancel=cancel)


async def _cancel_rest(connection: AsyncConnection, run_id: uuid.UUID, left: float) -> None:
    """Cancel the run's other queued pairs that cannot fit in `left`, all at once rather than
    a claim's worth at a time; those another claim holds, that claim cancels."""
    rest = (
        select(r.id)
        .where(
            r.run_id == run_id,
            r.finished_at.is_(None),
            status_in(r.status, "queued"),
            r.max_cost_usd > left,
        )
        .with_for_update(skip_locked=True)
    )
    await connection.execute(
        update(responses)
        .where(r.id == any_(func.array(rest.scalar_subquery())))
        .values(status="cancelled", error=BUDGET_EXHAUSTED, finished_at=func.now())
    )
