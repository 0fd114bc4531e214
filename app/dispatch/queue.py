"""The work queue, which is the responses table: claim, renew, reap, record, finish runs.

Every claim stamps the rows with a fresh lease token; only the holder of the token may write
the result, so a worker that lost its lease (paused, partitioned) can never overwrite the
answer of the worker that took the row over. These run as Core statements on a connection:
this is the dispatcher's hot path, and it needs no ORM identity map.

Lock order, everywhere: a run's response rows first, then the run row, and several runs in id
order. Claims cannot do otherwise (they find their runs through the pairs they take), so
cancel, retry and delete (app/runs/repository.py) follow them; two orders would deadlock. A
run's tallies (its counts, migration 9d4b6e2a1c73) are written by the triggers on `responses`
with the pairs, and folded into the run's row only where no one holds them (`_fold`): they
wait for no run and no run waits for them. Runs are locked FOR NO KEY UPDATE, which a
tally's insert (checking its run exists) does not wait for.

The tables are never analyzed where autovacuum is off, and statistics that are there may be
stale, so each query here is shaped to have one cheap plan whatever the planner believes
(tests/db/test_query_plans.py checks them): statuses are written into the SQL (`status_in`)
so that the partial indexes serve the generic plans of cached statements too.
"""

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    SmallInteger,
    Table,
    Text,
    any_,
    bindparam,
    case,
    cast,
    column,
    delete,
    exists,
    func,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import ResponseRow, RunRow, RunTallyRow, status_in
from app.diagnostics import DIAGNOSTICS_VERSION, Diagnostics
from app.dispatch import budget
from app.dispatch.budget import Budget, Taken
from app.dispatch.notifications import notify_runs, notify_work
from app.domain import PENDING_STATUSES

responses: Table = ResponseRow.__table__  # type: ignore[assignment]
runs: Table = RunRow.__table__  # type: ignore[assignment]
tallies: Table = RunTallyRow.__table__  # type: ignore[assignment]
TALLIED_COLUMNS = [c.name for c in tallies.c if c.name not in ("run_id", "shard")]
r, u = responses.c, runs.c

PENDING = PENDING_STATUSES  # of runs as of pairs


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed pair: enough to call the model and write the answer back."""

    id: int
    run_id: uuid.UUID
    contender_index: int
    rendered_prompt: str
    attempts: int  # calls made for this pair before this claim
    lease_token: uuid.UUID
    sample: int = 0  # which of the pair's repeated samples
    fingerprint: uuid.UUID | None = None  # its request's identity, when deterministic


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one pair ended with, ready to be written."""

    id: int
    run_id: uuid.UUID
    lease_token: uuid.UUID
    status: str
    output: str | None = None
    finish_reason: str | None = None
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    diagnostics: Diagnostics | None = None  # of an answer
    called: bool = True  # False: dropped before its first call, which the claim counted
    cost_usd: float | None = None  # of an answer, at its contender's price
    uncosted: bool = False  # an answer of a priced model whose cost is unknown (no tokens)


@dataclass(frozen=True, slots=True)
class CallMade:
    """A call after the first for a pair (a retry), to count in `attempts`. Its writer stores
    it during the backoff before the call, so a process killed mid-pair leaves it counted."""

    id: int
    lease_token: uuid.UUID


async def claim(connection: AsyncConnection, model: str, limit: int, lease_s: float) -> list[Job]:
    """Take up to `limit` of the oldest queued pairs of `model` that no one else holds."""
    token = uuid.uuid4()
    # Ordered as ix_responses_queued is and no other index (by id alone, the primary key
    # would offer to walk every answered row first). The limit is a subquery the planner
    # cannot see into: told "256" while expecting ten queued rows (its guess without
    # statistics), it would read and sort all of them; told nothing, it plans to stop
    # early, which only the index in order allows.
    oldest = (
        select(r.id)
        .where(status_in(r.status, "queued"), r.model == model)
        .order_by(r.created_at, r.id)
        .limit(select(literal(limit)).scalar_subquery())
        .with_for_update(skip_locked=True)
    )
    claimed = await connection.execute(
        update(responses)
        # `= ANY(array(...))`, not `IN (...)`: an IN expecting many ids may hash them
        # against a scan of the whole table; an array is probed id by id.
        .where(r.id == any_(func.array(oldest.scalar_subquery())))
        .values(
            status="running",
            lease_token=token,
            lease_expires_at=func.now() + timedelta(seconds=lease_s),
            started_at=func.coalesce(r.started_at, func.now()),
            # The first call is counted now, before it is made: a process killed during the
            # call cannot leave it uncounted (a pair claimed and never called counts one more).
            attempts=r.attempts + 1,
        )
        .returning(
            r.id,
            r.run_id,
            r.contender_index,
            r.rendered_prompt,
            r.attempts,
            r.max_cost_usd,
            r.sample,
            r.fingerprint,
        )
    )
    rows = list(claimed)
    if not rows:
        return []
    dropped = await _lock_runs(connection, rows, token)
    return [
        Job(row_id, run_id, index, prompt, attempts - 1, token, sample, fingerprint)
        for row_id, run_id, index, prompt, attempts, _, sample, fingerprint in rows
        if row_id not in dropped
    ]


async def _lock_runs(connection: AsyncConnection, rows: list[Any], token: uuid.UUID) -> set[int]:
    """Mark the claimed pairs' queued runs running and keep budgeted runs within their
    budgets; returns the pairs the claim gave up (app/dispatch/budget.py)."""
    # Runs are locked after their pairs, in id order, as everywhere (see the header).
    budgeted = any(row.max_cost_usd is not None for row in rows)
    locked = await connection.execute(
        select(u.id, u.status, u.budget_usd, u.cost_usd)
        .where(
            u.id.in_({row.run_id for row in rows}),
            (u.status == "queued") | u.budget_usd.is_not(None)
            if budgeted
            else u.status == "queued",
        )
        .order_by(u.id)
        .with_for_update(key_share=True)
    )
    runs_of = list(locked)
    dropped: set[int] = set()
    budgets = [Budget(i, b, c) for i, _, b, c in runs_of if b is not None]
    if budgets:
        taken = [Taken(row.id, row.run_id, row.max_cost_usd) for row in rows]
        verdict = await budget.keep_within(connection, budgets, taken, token)
        dropped = {*verdict.requeue, *verdict.cancel}
        if verdict.cancel:
            ended = await finish_runs(connection, [b.run_id for b in budgets])
            await notify_runs(connection, progressed=[b.run_id for b in budgets], finished=ended)
    started = {row.run_id for row in rows if row.id not in dropped}
    if starting := [i for i, status, _, _ in runs_of if status == "queued" and i in started]:
        await connection.execute(update(runs).where(u.id.in_(starting)).values(status="running"))
    return dropped


async def renew(connection: AsyncConnection, tokens: Sequence[uuid.UUID], lease_s: float) -> None:
    """Extend the leases of pairs still held here."""
    if tokens:
        await connection.execute(
            update(responses)
            .where(r.lease_token.in_(tokens), status_in(r.status, "running"))
            .values(lease_expires_at=func.now() + timedelta(seconds=lease_s))
        )


async def release(
    connection: AsyncConnection, tokens: Sequence[uuid.UUID], uncalled: Sequence[int] = ()
) -> None:
    """Put pairs this process will not finish back in the queue at once (clean shutdown);
    `uncalled` are those never called, whose claim counted a call too many."""
    if tokens:
        await notify_work(connection)
        await connection.execute(
            update(responses)
            .where(r.lease_token.in_(tokens), status_in(r.status, "running"))
            .values(
                status="queued",
                lease_token=None,
                lease_expires_at=None,
                attempts=r.attempts - case((r.id.in_(uncalled), 1), else_=0),
            )
        )


async def requeue_expired(connection: AsyncConnection, max_lost_leases: int) -> list[uuid.UUID]:
    """Return pairs whose worker died (its lease ran out) to the queue.

    A pair whose lease has now run out `max_lost_leases` times probably kills its worker
    (out of memory, a crash in native code): it fails instead, so its run can end. Returns
    the runs of the pairs that failed.
    """
    gives_up = r.lost_leases + 1 >= max_lost_leases
    message = f"abandoned: its worker stopped {max_lost_leases} times while running it"
    result = await connection.execute(
        update(responses)
        .where(status_in(r.status, "running"), r.lease_expires_at < func.now())
        .values(
            status=case((gives_up, "failed"), else_="queued"),
            error=case((gives_up, message), else_=r.error),
            finished_at=case((gives_up, func.now()), else_=None),
            lost_leases=r.lost_leases + 1,
            lease_token=None,
            lease_expires_at=None,
        )
        .returning(r.run_id, r.status)
    )
    statuses = list(result)
    if any(status == "queued" for _, status in statuses):
        await notify_work(connection)
    return [run_id for run_id, status in statuses if status == "failed"]


# Outcomes are written as one statement a batch, from arrays (a column each): the triggers that
# tally each run's counts (migration 9d4b6e2a1c73) fire once a statement, and an executemany
# is a statement a pair, each adding to its run's tally again.
_OUTCOME_COLUMNS = {
    "id": BigInteger,
    "token": UUID(as_uuid=True),
    "status": Text,
    "output": Text,
    "finish_reason": Text,
    "error": Text,
    "prompt_tokens": Integer,
    "completion_tokens": Integer,
    "latency_ms": Float,
    "flags": Text,  # each answer's flags as an array's text form: arrays of arrays must be even
    "repetition": Float,
    "prompt_overlap": Float,
    "words": Integer,
    "version": SmallInteger,
    "cost_usd": Float,
    "attempts": Integer,
}


def _arrays(columns: dict[str, Any]) -> Any:
    """Rows from one array parameter a column (`b_<name>`), as the derived table `b`."""
    return (
        func.unnest(*(bindparam(f"b_{n}", type_=ARRAY(t)) for n, t in columns.items()))
        .table_valued(*(column(n, t) for n, t in columns.items()))
        .render_derived(name="b")
    )


_outcomes = _arrays(_OUTCOME_COLUMNS)
_record = (
    update(responses)
    .where(r.id == _outcomes.c.id, r.lease_token == _outcomes.c.token, r.status == "running")
    .values(
        status=_outcomes.c.status,
        output=_outcomes.c.output,
        finish_reason=_outcomes.c.finish_reason,
        error=_outcomes.c.error,
        prompt_tokens=_outcomes.c.prompt_tokens,
        completion_tokens=_outcomes.c.completion_tokens,
        latency_ms=_outcomes.c.latency_ms,
        flags=cast(_outcomes.c.flags, ARRAY(Text)),
        repetition=_outcomes.c.repetition,
        prompt_overlap=_outcomes.c.prompt_overlap,
        words=_outcomes.c.words,
        diagnostics_version=_outcomes.c.version,
        cost_usd=_outcomes.c.cost_usd,
        attempts=r.attempts + _outcomes.c.attempts,
        finished_at=func.now(),
        lease_token=None,
        lease_expires_at=None,
    )
)


def _storable(text: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL; one such answer would otherwise fail every batch write.
    return text.replace("\x00", "") if text else text


def _flags_text(flags: Sequence[str]) -> str:
    return "{" + ",".join(f'"{flag}"' for flag in flags) + "}"


def _diagnostics(d: Diagnostics | None) -> dict[str, Any]:
    if d is None:  # a failure or a cancel; or an answer whose diagnostics failed
        return dict.fromkeys(("flags", "repetition", "prompt_overlap", "words", "version"))
    return {
        "flags": _flags_text(d.flags),
        "repetition": d.repetition,
        "prompt_overlap": d.prompt_overlap,
        "words": d.words,
        "version": DIAGNOSTICS_VERSION,
    }


_calls = _arrays({"id": BigInteger, "token": UUID(as_uuid=True), "calls": Integer})
_count_calls = (
    update(responses)
    .where(r.id == _calls.c.id, r.lease_token == _calls.c.token)
    .values(attempts=r.attempts + _calls.c.calls)
)


def _columns(rows: list[dict[str, Any]], names: Any) -> dict[str, list[Any]]:
    """`rows` as one list a column, the parameters of `_arrays`."""
    return {f"b_{name}": [row[name] for row in rows] for name in names}


async def record(
    connection: AsyncConnection, outcomes: Sequence[Outcome], calls: Sequence[CallMade] = ()
) -> None:
    """Write many outcomes, and the retries made for pairs, each kind in one statement. A
    pair's retries are written with its outcome when both are in the batch."""
    counted = Counter(call.id for call in calls)
    rows: list[dict[str, Any]] = [
        {
            "id": o.id,
            "token": o.lease_token,
            "status": o.status,
            "output": _storable(o.output),
            "finish_reason": o.finish_reason,
            "error": _storable(o.error),
            "prompt_tokens": o.prompt_tokens,
            "completion_tokens": o.completion_tokens,
            "latency_ms": o.latency_ms,
            "attempts": counted.pop(o.id, 0) - (not o.called),
            "cost_usd": o.cost_usd,
            **_diagnostics(o.diagnostics),
        }
        for o in outcomes
    ]
    if counted:
        tokens = {call.id: call.lease_token for call in calls}
        retried = [{"id": i, "token": tokens[i], "calls": n} for i, n in counted.items()]
        await connection.execute(_count_calls, _columns(retried, ("id", "token", "calls")))
    charges = await _charges(connection, outcomes)
    if rows:
        await connection.execute(_record, _columns(rows, _OUTCOME_COLUMNS))
    if charges:
        await _charge(connection, charges)


async def _charges(
    connection: AsyncConnection, outcomes: Sequence[Outcome]
) -> dict[uuid.UUID, float | None]:
    """What each run is to be charged for the outcomes that will be written (None: a cost
    became unknown). Their rows are locked first: an outcome whose lease was lost is not
    written, and its cost is the new holder's to charge."""
    costly = [o for o in outcomes if o.cost_usd or o.uncosted]
    if not costly:
        return {}
    held = dict(
        list(
            await connection.execute(
                select(r.id, r.lease_token)
                .where(r.id == any_(literal([o.id for o in costly], ARRAY(BigInteger))))
                .where(status_in(r.status, "running"))
                .with_for_update(key_share=True)
            )
        )
    )
    charges: dict[uuid.UUID, float | None] = {}
    for o in costly:
        if held.get(o.id) != o.lease_token:
            continue
        so_far = charges.get(o.run_id, 0.0)
        if so_far is None or o.uncosted or o.cost_usd is None:
            charges[o.run_id] = None
        else:
            charges[o.run_id] = so_far + o.cost_usd
    return charges


async def _charge(connection: AsyncConnection, charges: dict[uuid.UUID, float | None]) -> None:
    """Add to each run's cost, or make it unknown; the runs locked in id order."""
    await connection.execute(
        select(u.id).where(u.id.in_(charges)).order_by(u.id).with_for_update(key_share=True)
    )
    await connection.execute(
        update(runs)
        .where(u.id == bindparam("b_run"))
        .values(
            cost_usd=case((bindparam("b_unknown"), None), else_=u.cost_usd + bindparam("b_add"))
        ),
        [
            {"b_run": run_id, "b_unknown": add is None, "b_add": add or 0.0}
            for run_id, add in sorted(charges.items())
        ],
    )


async def finish_runs(connection: AsyncConnection, run_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Give every run in `run_ids` with no pending pair its final status; return those."""
    # Two processes writing a run's last answers at once would each still see the other's
    # rows as pending and neither would finish the run. Locking the runs (in id order, so
    # writers never deadlock) after writing makes the later writer see the earlier's commit.
    await connection.execute(
        select(u.id)
        .where(u.id.in_(run_ids), u.status.in_(PENDING))
        .order_by(u.id)
        .with_for_update(key_share=True)
    )
    # Cheap first: the EXISTS probes ix_responses_unfinished (every pending pair is
    # unfinished: a check constraint says so); only runs that are done get counted.
    pending = exists().where(r.run_id == u.id, r.finished_at.is_(None), r.status.in_(PENDING))
    ended = list(
        await connection.scalars(
            select(u.id).where(u.id.in_(run_ids), u.status.in_(PENDING), ~pending)
        )
    )
    if not ended:
        return []
    done = (
        select(r.run_id)
        .where(r.run_id.in_(ended))
        .group_by(r.run_id)
        .add_columns(
            func.count().filter(r.status == "succeeded").label("succeeded"),
            func.count().filter(r.status == "failed").label("failed"),
            func.count().label("total"),
        )
        .subquery()
    )
    final = case(
        (u.cancel_requested_at.is_not(None), "cancelled"),
        (done.c.succeeded == done.c.total, "succeeded"),
        (done.c.succeeded > 0, "partial"),
        (done.c.failed > 0, "failed"),
        else_="cancelled",
    )
    result = await connection.execute(
        update(runs)
        .where(u.id == done.c.run_id, u.status.in_(PENDING))
        .values(status=final, finished_at=func.now())
        .returning(u.id)
    )
    finished = list(result.scalars())
    if finished:
        await connection.execute(_fold, {"b_runs": finished})
    return finished


# A run's tallies moved into its row (the runs locked): a finished run's counts are then read
# from its row, and an empty probe of `run_tallies`. Tallies that another transaction holds, or
# adds after this one, stay where they are, still counted.
_free = (
    select(tallies.c.run_id, tallies.c.shard)
    .where(tallies.c.run_id == any_(bindparam("b_runs", type_=ARRAY(UUID(as_uuid=True)))))
    .with_for_update(skip_locked=True)  # held by a writer: left where it is, still counted
)
_gone = (
    delete(tallies)
    .where(tuple_(tallies.c.run_id, tallies.c.shard).in_(_free))
    .returning(*tallies.c)
    .cte("gone")
)
_moved = (
    select(_gone.c.run_id, *(func.sum(_gone.c[name]).label(name) for name in TALLIED_COLUMNS))
    .group_by(_gone.c.run_id)
    .subquery("moved")
)
_fold = (
    update(runs)
    .where(u.id == _moved.c.run_id)
    .values({u[name]: u[name] + _moved.c[name] for name in TALLIED_COLUMNS})
    .add_cte(_gone)
)


async def cancelled_among(
    connection: AsyncConnection, run_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """Those of `run_ids` that were asked to stop."""
    found = await connection.scalars(
        select(u.id).where(u.id.in_(run_ids), u.cancel_requested_at.is_not(None))
    )
    return list(found)


async def contenders_of(
    connection: AsyncConnection, run_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[list[dict[str, Any]], str | None]]:
    """Each run's contenders, and the traceparent of the request that accepted it."""
    rows = await connection.execute(
        select(u.id, u.contenders, u.trace_parent).where(u.id.in_(run_ids))
    )
    return {run_id: (contenders, trace_parent) for run_id, contenders, trace_parent in rows}
