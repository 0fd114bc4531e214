"""The SQL of runs: storing a comparison, reading runs back, changing them (cancel, retry,
delete), and the pages of an export.

Changes lock a run's pairs before the run itself, as the dispatcher's claims do (see
app/dispatch/queue.py): one lock order everywhere, so they never deadlock.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Row,
    Select,
    Text,
    any_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    tuple_,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from app import tracing
from app.db.tables import (
    FLAGGED,
    TALLIED,
    PromptRow,
    ResponseRow,
    RunAggregatesRow,
    RunRow,
    search_term,
    search_vector,
)
from app.diagnostics import FLAGS
from app.dispatch.notifications import notify_runs, notify_work
from app.dispatch.queue import finish_runs
from app.domain import FINISHED_STATUSES, PENDING_STATUSES
from app.fields import INT4_MAX
from app.lru import LRU


async def insert_run(
    session: AsyncSession,
    run: RunRow,
    prompts: list[dict[str, Any]],
    responses: list[dict[str, Any]],
) -> None:
    """Store the run, then its prompts and its pairs (rows of their columns, the same keys
    in each) with one COPY each, in the session's transaction. An INSERT of a thousand rows
    has thousands of parameters to bind, send, parse and plan; COPY streams them, in about
    half the time for 1,000 x 3, and fires the same statement triggers (the run's counts).
    Each COPY gets a span of its own: the database instrumentation sees only statements."""
    session.add(run)
    await session.flush()
    connection = (await (await session.connection()).get_raw_connection()).driver_connection
    assert connection is not None
    for table, rows in ((PromptRow.__tablename__, prompts), (ResponseRow.__tablename__, responses)):
        if rows:
            columns = list(rows[0])
            records = [tuple(row[c] for c in columns) for row in rows]
            with tracing.span(f"COPY {table}", {"db.system": "postgresql", "db.rows": len(rows)}):
                await connection.copy_records_to_table(table, records=records, columns=columns)


async def get_run(session: AsyncSession, run_id: uuid.UUID) -> RunRow | None:
    return await session.get(RunRow, run_id)


async def get_run_by_idempotency_key(session: AsyncSession, key: str) -> RunRow | None:
    return await session.scalar(select(RunRow).where(RunRow.idempotency_key == key))


RunOrder = Literal["-created_at", "-cost_usd", "cost_usd"]
"""How `GET /runs` lists: newest first, or by cost (most or least expensive first; runs of
unknown cost are left out), the id breaking ties, in reverse for the newest and the costliest."""


@dataclass(frozen=True)
class RunFilters:
    statuses: Sequence[str] = ()
    model: str | None = None
    tags: dict[str, str] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    text: str | None = None
    min_cost_usd: float | None = None
    max_cost_usd: float | None = None
    parent: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    """Only this project's runs (None: every project's)."""


def _search_query(text: Any) -> Any:
    return func.websearch_to_tsquery(literal_column("'simple'::regconfig"), text)


_SEARCHABLE: dict[str, bool] = {}
_SEARCHABLE_KEPT = 4096


async def is_searchable(session: AsyncSession, text: str) -> bool:
    """Whether `text` has a word to look up in the search indexes. A search of negations only
    (`-word`) would have to read every prompt and answer; PostgreSQL's `querytree` says `T`
    (or nothing) for such a query. The answer depends on the text alone, so each process
    asks once per text (of the last few thousand)."""
    if (known := _SEARCHABLE.get(text)) is not None:
        return known
    tree = await session.scalar(select(func.querytree(_search_query(text))))
    if len(_SEARCHABLE) >= _SEARCHABLE_KEPT:
        _SEARCHABLE.clear()
    _SEARCHABLE[text] = searchable = tree not in ("T", "", None)
    return searchable


def _runs_containing(text: str) -> Any:
    """Ids of runs with a prompt or an output matching `text`, found through the search
    indexes: every match is read, which is cheap only for rare words."""
    wanted = _search_query(text)
    return union(
        select(PromptRow.run_id).where(
            search_vector(PromptRow.run_id, PromptRow.text).op("@@")(wanted)
        ),
        select(ResponseRow.run_id).where(
            search_vector(ResponseRow.run_id, ResponseRow.output).op("@@")(wanted)
        ),
    )


def _has_match(run_id: Any, text: Any) -> ColumnElement[bool]:
    """Whether the run has a prompt or an output matching `text`: two probes of the search
    indexes, each `text` AND the run's own term, which stops at the run's first match and
    skips through a common word's entries instead of reading them. The run is named only
    inside the search term, so no plan can read the run's rows or every match instead."""
    term = _search_query(text).op("&&")(search_term(run_id))
    return or_(
        exists().where(search_vector(PromptRow.run_id, PromptRow.text).op("@@")(term)),
        exists().where(search_vector(ResponseRow.run_id, ResponseRow.output).op("@@")(term)),
    )


def _sorted_by(order: RunOrder) -> Any:
    """The column `order` sorts runs on."""
    return RunRow.created_at if order == "-created_at" else RunRow.cost_usd


def _order_by(order: RunOrder) -> list[ColumnElement[Any]]:
    """The ORDER BY of `order`: its column, then the id to break ties."""
    columns = (_sorted_by(order), RunRow.id)
    return [c.asc() if order == "cost_usd" else c.desc() for c in columns]


def _ordered(order: RunOrder, after: tuple[Any, uuid.UUID] | None) -> Select[RunRow]:
    """The runs in `order`, from after `after` (the sort value and id of the last run of
    the previous page)."""
    query = select(RunRow).order_by(*_order_by(order))
    key = _sorted_by(order)
    if order != "-created_at":
        # `cost_usd IS NOT NULL` as ix_runs_cost_usd_id's predicate, so that it serves.
        query = query.where(RunRow.cost_usd.is_not(None))
    if after is None:
        return query
    last = tuple_(literal(after[0], key.type), literal(after[1]))
    if order == "cost_usd":
        return query.where(tuple_(key, RunRow.id) > last)
    return query.where(tuple_(key, RunRow.id) < last)


def runs_query(
    filters: RunFilters,
    limit: int,
    after: tuple[Any, uuid.UUID] | None,
    order: RunOrder = "-created_at",
) -> Select[RunRow]:
    """Runs in `order` (newest first by default), from after `after`."""
    query = _ordered(order, after).limit(limit)
    if filters.project_id is not None:
        # Without statistics a project looks like 0.5% of the runs, which PostgreSQL would
        # rather gather whole and sort; a limit it cannot see into makes it walk the project's
        # index in order and stop at the page's end (as in _pairs_of_run).
        query = query.where(RunRow.project_id == filters.project_id).limit(
            select(literal(limit, BigInteger)).scalar_subquery()
        )
    if filters.statuses:
        query = query.where(RunRow.status.in_(filters.statuses))
    if filters.model:
        query = query.where(RunRow.models.contains([filters.model]))
    if filters.tags:
        query = query.where(RunRow.tags.contains(filters.tags))
    if filters.created_after:
        query = query.where(RunRow.created_at >= filters.created_after)
    if filters.created_before:
        query = query.where(RunRow.created_at < filters.created_before)
    if filters.text:
        query = query.where(RunRow.id.in_(_runs_containing(filters.text)))
    if filters.min_cost_usd is not None:
        query = query.where(RunRow.cost_usd >= filters.min_cost_usd)
    if filters.max_cost_usd is not None:
        query = query.where(RunRow.cost_usd <= filters.max_cost_usd)
    if filters.parent:
        query = query.where(RunRow.parent_id == filters.parent)
    return query


PROBED_PAGES = 4
"""A search probes at most this many pages of runs, newest first (or in the page's order),
run by run; if they hold too few matches, the word is rare and the rest is found from its
matches."""


VERDICTS: LRU[bool] = LRU(100_000)
"""Whether a run matched a search, by the search's text, the run's id and the version of its
answers it was probed at (a run's prompts never change, and every change to its answers moves
that version). Per process: a search repeated, or paged through, probes only the runs that
are new or changed since."""


def _matching() -> Select[Any]:
    """The first `needed` of the runs `run_ids`, in that order, that hold a match for `text`,
    each probed on its own (`_has_match`). The array is scanned in its order and the limit
    stops the scan at the `needed`th match, so the runs before it were all probed and those
    after it not. Built once, everything bound at execution: building it cost more than
    running it for a few runs."""
    batch = (
        func.unnest(bindparam("run_ids", type_=ARRAY(UUID())))
        .table_valued("id")
        .render_derived(name="batch")
    )
    return (
        select(batch.c.id)
        .where(_has_match(batch.c.id, bindparam("text", type_=Text)))
        .limit(bindparam("needed", type_=Integer))
    )


_MATCHING = _matching()


async def _probed(
    session: AsyncSession,
    filters: RunFilters,
    limit: int,
    after: tuple[Any, uuid.UUID] | None,
    order: RunOrder,
) -> tuple[list[uuid.UUID], tuple[Any, uuid.UUID] | None]:
    """The ids of the first `limit` runs matching filters.text among the PROBED_PAGES pages of
    runs after `after` (the other filters applied), in the page's order; and the sort key of
    the last of those pages' runs if they were full (None: every run was probed).

    The candidates come in order from their index, with their answers' version. Those probed
    at that version before are not probed again (VERDICTS). The others are probed in order in
    one statement that stops once the page has what it needs, so a common word probes about a
    page of runs, and a search asked again probes only runs new or changed since."""
    text = filters.text
    assert text is not None
    answers_version = RunRow.tallied[len(TALLIED)]  # the last of them (SQL counts from 1)
    unfiltered = runs_query(replace(filters, text=None), PROBED_PAGES * limit, after, order)
    candidates = (
        await session.execute(
            unfiltered.with_only_columns(RunRow.id, _sorted_by(order), answers_version)
        )
    ).all()
    verdicts: dict[uuid.UUID, bool] = {}
    unknown: list[tuple[uuid.UUID, int]] = []
    first = 0  # the matches known before the first run not known
    for run_id, _, version in candidates:
        kept = VERDICTS.get((text, run_id, version))
        if kept is None:
            unknown.append((run_id, version))
        else:
            verdicts[run_id] = kept
            if kept and not unknown:
                first += 1
    # The page's matches then come from the runs not known and the known ones between them:
    # the page is full by the time the walk below reaches the `needed`th match not known.
    needed = limit - first
    if unknown and needed > 0:
        probed = {"run_ids": [run_id for run_id, _ in unknown], "text": text, "needed": needed}
        found = (await session.scalars(_MATCHING, probed)).all()
        # Probed: up to the last match found if the scan stopped there, else every one.
        reached = len(unknown)
        if len(found) == needed:
            reached = 1 + next(i for i, (r, _) in enumerate(unknown) if r == found[-1])
        matching = set(found)  # looked up for every run probed: a list compared each to all
        for run_id, version in unknown[:reached]:
            verdicts[run_id] = matched = run_id in matching
            VERDICTS.put((text, run_id, version), matched)
    matches: list[uuid.UUID] = []
    for run_id, *_ in candidates:
        verdict = verdicts.get(run_id)
        if verdict is None or len(matches) == limit:
            break  # not probed: the page was full before it
        if verdict:
            matches.append(run_id)
    last = candidates[-1] if len(candidates) == PROBED_PAGES * limit else None
    return matches, (last[1], last[0]) if last is not None else None


SUMMARY_COLUMNS = (
    RunRow.id,
    RunRow.status,
    RunRow.name,
    RunRow.tags,
    RunRow.created_at,
    RunRow.finished_at,
    RunRow.contenders,
    RunRow.prompt_count,
    RunRow.tallied,
    RunRow.judges,
    RunRow.cost_usd,
    RunRow.budget_usd,
    RunRow.parent_id,
    RunRow.created_by_key_name,
    RunRow.created_by_key_prefix,
)
"""What a run's summary shows (app/runs/service.py `summary`), which is what lists read: as
plain rows, since loading a page of runs as ORM objects cost more than the query."""


async def _summaries(session: AsyncSession, query: Select[Any]) -> Sequence[Row[Any]]:
    return (await session.execute(query.with_only_columns(*SUMMARY_COLUMNS))).all()


async def _runs_by_id(session: AsyncSession, run_ids: Sequence[uuid.UUID]) -> list[Row[Any]]:
    """The summary rows of `run_ids`, in that order (any deleted meanwhile left out)."""
    query = select(RunRow).where(_one_of(RunRow.id, run_ids))
    found = {run.id: run for run in await _summaries(session, query)}
    return [found[run_id] for run_id in run_ids if run_id in found]


async def list_runs(
    session: AsyncSession,
    filters: RunFilters,
    limit: int,
    after: tuple[Any, uuid.UUID] | None,
    order: RunOrder = "-created_at",
) -> Sequence[Row[Any]]:
    """The runs of a page, as rows of SUMMARY_COLUMNS."""
    if filters.text is None:
        return await _summaries(session, runs_query(filters, limit, after, order))
    # Listing the runs that hold matches would read every match: for a word in nearly every
    # answer, the whole table. The newest runs are probed one by one instead.
    matches, last = await _probed(session, filters, limit, after, order)
    found = await _runs_by_id(session, matches) if matches else []
    if len(matches) >= limit or last is None:
        return found
    # Too few among the probed runs: the word is rare, so its matches are read, from after
    # the last probed run.
    rest = await _summaries(session, runs_query(filters, limit - len(matches), last, order))
    return [*found, *rest]


def _pairs_of_run(run_id: Any, *columns: Any) -> Select[Any]:
    """`columns` of one run's pairs, read through its index whatever the statistics say.

    Without statistics, or with statistics from when the table held a single run, the
    planner may believe one run is the whole table and read all of it. Walking the unique
    index in its order, to a limit it cannot see into (a subquery: it plans to stop early),
    is then the only cheap plan, as for claims (app/dispatch/queue.py)."""
    return (
        select(*columns)
        .where(ResponseRow.run_id == run_id)
        .order_by(
            ResponseRow.run_id,
            ResponseRow.prompt_position,
            ResponseRow.contender_index,
            ResponseRow.sample,
        )
        .limit(select(literal(2**63 - 1, BigInteger)).scalar_subquery())
    )


async def prompts_page(
    session: AsyncSession, run_id: uuid.UUID, offset: int, limit: int
) -> Sequence[PromptRow]:
    # Positions are 0..n-1, so the page is a closed range: no plan can read past it.
    last = min(offset + limit - 1, INT4_MAX)
    query = (
        select(PromptRow)
        .where(PromptRow.run_id == run_id, PromptRow.position.between(offset, last))
        .order_by(PromptRow.position)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def responses_for_prompts(
    session: AsyncSession, run_id: uuid.UUID, first: int, last: int
) -> Sequence[Row[Any]]:
    """The pairs of the prompts at positions `first` to `last`, as rows with every column:
    only read, so read past the ORM (a page is hundreds of them, and the ORM's work on
    each row cost more than reading it)."""
    query = select(*ResponseRow.__table__.columns).where(
        ResponseRow.run_id == run_id,
        ResponseRow.prompt_position.between(first, last),
    )
    connection = await session.connection()
    return (await connection.execute(query)).all()


def _one_of(column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    # One array parameter, so that every length is the same prepared statement.
    return column == any_(literal(list(values), ARRAY(column.type)))  # type: ignore[no-any-return]


def _at_positions(
    table: type[PromptRow] | type[ResponseRow],
    run_id: uuid.UUID,
    positions: Sequence[int],
    each: int,
) -> tuple[Any, Select[Any]]:
    """The rows of `table` at these positions of the run (at most `each` a position), and
    the alias they are read under, to order them by.

    They are looked up one position at a time. `run_id = $1 AND position = ANY($2)` would
    read the whole run whenever the planner, without statistics, believes a run has few
    rows and scans them for the positions; a lateral subquery with a limit cannot be
    flattened into such a plan."""
    wanted = (
        func.unnest(literal(list(positions), ARRAY(Integer)))
        .table_valued("position")
        .render_derived(name="wanted")
    )
    column = PromptRow.position if table is PromptRow else ResponseRow.prompt_position
    rows = (
        select(table)
        .where(table.run_id == run_id, column == wanted.c.position)
        .limit(each)
        .lateral()
    )
    found = aliased(table, rows)
    return found, select(found).select_from(wanted).join(rows, true())


def flagged_prompts_query(
    run_id: uuid.UUID, flags: Sequence[str], first: int, stop: int | None = None
) -> Select[int]:
    """Positions from `first` (up to `stop`) of the prompts with an answer that has any of
    `flags`, in order."""
    query = (
        select(ResponseRow.prompt_position)
        .distinct()
        # FLAGGED in so many words: only then may ix_responses_flagged serve it.
        .where(ResponseRow.run_id == run_id, text(FLAGGED), ResponseRow.flags.overlap(flags))
        .where(ResponseRow.prompt_position >= first)
        .order_by(ResponseRow.prompt_position)
    )
    return query if stop is None else query.where(ResponseRow.prompt_position < stop)


async def flagged_prompts(
    session: AsyncSession, run_id: uuid.UUID, flags: Sequence[str], first: int, limit: int
) -> list[int]:
    """The first `limit` positions from `first` of the prompts with a flagged answer."""
    return list(await session.scalars(flagged_prompts_query(run_id, flags, first).limit(limit)))


async def prompts_at(
    session: AsyncSession, run_id: uuid.UUID, positions: Sequence[int]
) -> Sequence[PromptRow]:
    """The prompts at these positions, in order."""
    prompt, query = _at_positions(PromptRow, run_id, positions, 1)
    return (await session.scalars(query.order_by(prompt.position))).all()


async def responses_at(
    session: AsyncSession, run_id: uuid.UUID, positions: Sequence[int], contenders: int
) -> Sequence[ResponseRow]:
    """The pairs of the prompts at these positions."""
    _, query = _at_positions(ResponseRow, run_id, positions, contenders)
    return (await session.scalars(query)).all()


def _contender_stats_query() -> Select[Any]:
    r = ResponseRow
    pairs = _pairs_of_run(
        bindparam("run_id", type_=UUID(as_uuid=True)),
        r.contender_index,
        r.status,
        r.latency_ms,
        r.prompt_tokens,
        r.completion_tokens,
        r.finish_reason,
        r.diagnostics_version,
        r.flags,
        r.cost_usd,
        r.cached_from,
    ).subquery("pairs")
    done = pairs.c.status == "succeeded"
    return select(
        pairs.c.contender_index.label("contender"),
        pairs.c.status,
        func.count().label("n"),
        func.percentile_cont(0.5).within_group(pairs.c.latency_ms).filter(done).label("p50"),
        func.percentile_cont(0.95).within_group(pairs.c.latency_ms).filter(done).label("p95"),
        func.sum(pairs.c.prompt_tokens).label("prompt_tokens"),
        func.sum(pairs.c.completion_tokens).label("completion_tokens"),
        func.count().filter(pairs.c.finish_reason == "length").label("truncated"),
        func.count(pairs.c.diagnostics_version).label("diagnosed"),
        func.sum(pairs.c.cost_usd).label("cost_usd"),
        # Answers whose cost is unknown (no token counts): the contender's total is too.
        func.count().filter(done, pairs.c.cost_usd.is_(None)).label("uncosted"),
        func.count(pairs.c.cached_from).label("cached"),
        *(
            func.count().filter(literal(flag) == any_(pairs.c.flags)).label(f"flag_{flag}")
            for flag in FLAGS
        ),
    ).group_by(pairs.c.contender_index, pairs.c.status)


# Built once: every run page asks for it, and building it took as long as running it.
_CONTENDER_STATS = _contender_stats_query()


async def contender_stats(session: AsyncSession, run_id: uuid.UUID) -> Sequence[Row[Any]]:
    """Per contender and status: how many pairs, latency percentiles, tokens, truncated
    answers, diagnosed answers and, per flag (each labelled `flag_<name>`), flagged ones."""
    connection = await session.connection()
    rows: Sequence[Row[Any]] = (
        await connection.execute(_CONTENDER_STATS, {"run_id": run_id})
    ).all()
    return rows


async def kept_aggregates(
    session: AsyncSession, run_id: uuid.UUID, version: int
) -> list[dict[str, Any]] | None:
    """The run's kept aggregates if they were computed at `version` of its answers."""
    kept = RunAggregatesRow
    return await session.scalar(
        select(kept.rows).where(kept.run_id == run_id, kept.answers_version == version)
    )


async def keep_aggregates(
    session: AsyncSession, run_id: uuid.UUID, version: int, rows: list[dict[str, Any]]
) -> None:
    """Keep the run's aggregates as computed at `version`, unless newer ones are kept."""
    statement = pg_insert(RunAggregatesRow).values(
        run_id=run_id, answers_version=version, rows=rows
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[RunAggregatesRow.run_id],
            set_={"answers_version": version, "rows": statement.excluded.rows},
            where=RunAggregatesRow.answers_version < version,
        )
    )


async def sample_outputs(
    session: AsyncSession, run_id: uuid.UUID, contenders: Sequence[int]
) -> Sequence[Row[Any]]:
    """The answers of these contenders (those with repeated samples), in pair order: their
    `contender_index`, `prompt_position` and `output`."""
    r = ResponseRow
    query = _pairs_of_run(run_id, r.contender_index, r.prompt_position, r.output).where(
        r.status == "succeeded", _one_of(r.contender_index, contenders)
    )
    rows: Sequence[Row[Any]] = (await session.execute(query)).all()
    return rows


# Changing a run


async def run_status(connection: AsyncConnection, run_id: uuid.UUID) -> str | None:
    """The run's status, or None if there is no such run; locks nothing."""
    return await connection.scalar(select(RunRow.status).where(RunRow.id == run_id))


async def cancel(connection: AsyncConnection, run_id: uuid.UUID) -> int:
    """Cancel the run's queued pairs and mark it to end `cancelled`; pairs in flight still
    finish. Returns how many pairs were cancelled."""
    result = await connection.execute(
        update(ResponseRow)
        .where(
            ResponseRow.run_id == run_id,
            ResponseRow.finished_at.is_(None),
            ResponseRow.status == "queued",
        )
        .values(status="cancelled", finished_at=func.now())
    )
    await connection.execute(
        update(RunRow)
        .where(
            RunRow.id == run_id,
            RunRow.status.in_(PENDING_STATUSES),
            RunRow.cancel_requested_at.is_(None),
        )
        .values(cancel_requested_at=func.now())
    )
    ended = await finish_runs(connection, [run_id])
    await notify_runs(connection, progressed=[run_id], finished=ended)
    return int(result.rowcount)


async def retry_failed(connection: AsyncConnection, run_id: uuid.UUID) -> int:
    """Queue the run's failed pairs again and reopen the run; returns how many."""
    result = await connection.execute(
        update(ResponseRow)
        .where(ResponseRow.run_id == run_id, ResponseRow.status == "failed")
        .values(
            status="queued",
            output=None,
            finish_reason=None,
            error=None,
            prompt_tokens=None,
            completion_tokens=None,
            latency_ms=None,
            cost_usd=None,
            lost_leases=0,
            started_at=None,
            finished_at=None,
        )
    )
    if result.rowcount:
        await connection.execute(
            update(RunRow)
            .where(RunRow.id == run_id)
            .values(
                status=case((RunRow.status.in_(PENDING_STATUSES), RunRow.status), else_="queued"),
                finished_at=None,
                cancel_requested_at=None,
            )
        )
        await notify_work(connection)
    return int(result.rowcount)


async def delete_finished(connection: AsyncConnection, run_id: uuid.UUID) -> str | None:
    """Delete the run with its prompts and pairs if it has finished. Returns the status it
    had (the run is kept unless that is a finished one), or None if there is no such run."""
    await connection.execute(
        select(ResponseRow.id).where(ResponseRow.run_id == run_id).with_for_update()
    )
    status = await connection.scalar(
        select(RunRow.status).where(RunRow.id == run_id).with_for_update()
    )
    if status in FINISHED_STATUSES:
        await connection.execute(delete(RunRow).where(RunRow.id == run_id))
    return status


async def spent_since(
    session: AsyncSession, since: datetime, scope: ColumnElement[bool] | None = None
) -> float:
    """What the runs created since `since` (of those in `scope`) cost so far, in USD."""
    query = select(func.coalesce(func.sum(RunRow.cost_usd), 0.0)).where(RunRow.created_at >= since)
    if scope is not None:
        query = query.where(scope)
    return float(await session.scalar(query) or 0.0)


async def expired_runs(
    connection: AsyncConnection,
    created_before: datetime,
    limit: int,
    scope: ColumnElement[bool] | None = None,
) -> list[uuid.UUID]:
    """The oldest finished runs created before `created_before` (of those in `scope`)."""
    query = (
        select(RunRow.id)
        .where(RunRow.status.in_(FINISHED_STATUSES), RunRow.created_at < created_before)
        .order_by(RunRow.created_at)
        .limit(limit)
    )
    if scope is not None:
        query = query.where(scope)
    return list(await connection.scalars(query))


# Exporting

_answers = select(
    ResponseRow.id,
    ResponseRow.prompt_position,
    ResponseRow.contender_index,
    ResponseRow.model,
    ResponseRow.rendered_prompt,
    ResponseRow.status,
    ResponseRow.output,
    ResponseRow.finish_reason,
    ResponseRow.prompt_tokens,
    ResponseRow.completion_tokens,
    ResponseRow.latency_ms,
    ResponseRow.attempts,
    ResponseRow.error,
    ResponseRow.flags,
    ResponseRow.repetition,
    ResponseRow.prompt_overlap,
    ResponseRow.words,
    ResponseRow.cost_usd,
    ResponseRow.sample,
    ResponseRow.cached_from,
).order_by(ResponseRow.prompt_position, ResponseRow.contender_index, ResponseRow.sample)


def export_page_queries(
    run_id: uuid.UUID,
    statuses: Sequence[str],
    first: int,
    stop: int,
    kept: Sequence[int] | None = None,
) -> tuple[Select[*tuple[Any, ...]], Select[*tuple[Any, ...]]]:
    """The prompts at positions `first` to `stop - 1` (only those `kept`, if given), and
    their pairs in order.

    A page is a closed range of positions on one table per query, rather than "the next
    1,000 after (p, c)" or a join: whatever plan PostgreSQL picks, with statistics or none,
    it reads that range and no more (a join planned for one row a side may read one side's
    whole range again for every row of the other).
    """
    prompts = select(PromptRow.position, PromptRow.key, PromptRow.text).where(
        PromptRow.run_id == run_id, PromptRow.position >= first, PromptRow.position < stop
    )
    answers = _answers.where(
        ResponseRow.run_id == run_id,
        ResponseRow.prompt_position >= first,
        ResponseRow.prompt_position < stop,
    )
    if kept is not None:
        prompts = prompts.where(_one_of(PromptRow.position, kept))
        answers = answers.where(_one_of(ResponseRow.prompt_position, kept))
    if statuses:
        answers = answers.where(ResponseRow.status.in_(statuses))
    return prompts, answers
