"""Queries the API uses to store and read runs."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, literal, literal_column, select, tuple_, union
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Prompt, Response, Run, search_vector
from app.fields import INT4_MAX


async def insert_run(
    session: AsyncSession,
    run: Run,
    prompts: list[dict[str, Any]],
    responses: list[dict[str, Any]],
) -> None:
    session.add(run)
    await session.flush()
    await session.execute(insert(Prompt), prompts)
    await session.execute(insert(Response), responses)


async def get_run(session: AsyncSession, run_id: uuid.UUID) -> Run | None:
    return await session.get(Run, run_id)


async def get_run_by_idempotency_key(session: AsyncSession, key: str) -> Run | None:
    return await session.scalar(select(Run).where(Run.idempotency_key == key))


@dataclass(frozen=True)
class RunFilters:
    statuses: Sequence[str] = ()
    model: str | None = None
    tags: dict[str, str] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    text: str | None = None


def _search_query(text: str) -> Any:
    return func.websearch_to_tsquery(literal_column("'simple'::regconfig"), text)


async def is_searchable(session: AsyncSession, text: str) -> bool:
    """Whether `text` has a word to look up in the search indexes. A search of negations only
    (`-word`) would have to read every prompt and answer; PostgreSQL's `querytree` says `T`
    (or nothing) for such a query."""
    tree = await session.scalar(select(func.querytree(_search_query(text))))
    return tree not in ("T", "", None)


def _runs_containing(text: str) -> Any:
    """Ids of runs with a prompt or an output matching `text`, found through the search indexes."""
    wanted = _search_query(text)
    return union(
        select(Prompt.run_id).where(search_vector(Prompt.text).op("@@")(wanted)),
        select(Response.run_id).where(search_vector(Response.output).op("@@")(wanted)),
    )


def runs_query(
    filters: RunFilters, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> Select[Run]:
    """Newest first; `after` is the (created_at, id) of the last run of the previous page."""
    query = select(Run).order_by(Run.created_at.desc(), Run.id.desc()).limit(limit)
    if filters.statuses:
        query = query.where(Run.status.in_(filters.statuses))
    if filters.model:
        query = query.where(Run.models.contains([filters.model]))
    if filters.tags:
        query = query.where(Run.tags.contains(filters.tags))
    if filters.created_after:
        query = query.where(Run.created_at >= filters.created_after)
    if filters.created_before:
        query = query.where(Run.created_at < filters.created_before)
    if filters.text:
        query = query.where(Run.id.in_(_runs_containing(filters.text)))
    if after is not None:
        query = query.where(tuple_(Run.created_at, Run.id) < tuple_(literal(after[0]), after[1]))
    return query


async def list_runs(
    session: AsyncSession,
    filters: RunFilters,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Sequence[Run]:
    return (await session.scalars(runs_query(filters, limit, after))).all()


async def status_counts(
    session: AsyncSession, run_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    """Per run, how many responses are in each status."""
    rows = await session.execute(
        select(Response.run_id, Response.status, func.count())
        .where(Response.run_id.in_(run_ids))
        .group_by(Response.run_id, Response.status)
    )
    counts: dict[uuid.UUID, dict[str, int]] = {run_id: {} for run_id in run_ids}
    for run_id, status, n in rows:
        counts[run_id][status] = n
    return counts


async def prompts_page(
    session: AsyncSession, run_id: uuid.UUID, offset: int, limit: int
) -> Sequence[Prompt]:
    # Positions are 0..n-1, so the page is a closed range: no plan can read past it.
    last = min(offset + limit - 1, INT4_MAX)
    query = (
        select(Prompt)
        .where(Prompt.run_id == run_id, Prompt.position.between(offset, last))
        .order_by(Prompt.position)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def responses_for_prompts(
    session: AsyncSession, run_id: uuid.UUID, first: int, last: int
) -> Sequence[Response]:
    query = select(Response).where(
        Response.run_id == run_id,
        Response.prompt_position.between(first, last),
    )
    return (await session.scalars(query)).all()


async def contender_stats(session: AsyncSession, run_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """Per contender: counts by status, latency percentiles, tokens, truncated answers."""
    done = Response.status == "succeeded"
    query = (
        select(
            Response.contender_index,
            Response.status,
            func.count(),
            func.percentile_cont(0.5).within_group(Response.latency_ms).filter(done),
            func.percentile_cont(0.95).within_group(Response.latency_ms).filter(done),
            func.sum(Response.prompt_tokens),
            func.sum(Response.completion_tokens),
            func.count().filter(Response.finish_reason == "length"),
        )
        .where(Response.run_id == run_id)
        .group_by(Response.contender_index, Response.status)
    )
    return [tuple(row) for row in await session.execute(query)]
