"""A run's per-contender aggregates (pairs by status, latency percentiles, tokens, flags,
cost), as rows of `repository.contender_stats`: computed from the run's pairs, and kept for a
finished run so that its pages do not read its pairs again.

They are kept with the run's `answers_version`, which triggers move whenever a statement
changes what they read (migrations f1a2c3d4e5b6, 9d4b6e2a1c73), and used only while it is still
the run's.
The version is read (with the run) before they are computed, so they are never kept under a
version newer than what they read: a change committed meanwhile makes them look stale, never
fresh. A running run's version moves with every batch of answers; its aggregates are not kept.
"""

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import RunRow
from app.domain import FINISHED_STATUSES
from app.runs import repository as runs_repo

log = logging.getLogger(__name__)


async def contender_rows(session: AsyncSession, run: RunRow) -> list[dict[str, Any]]:
    """The aggregates of `run`, as read with it: kept ones if still current, else computed
    (and kept, if the run has finished)."""
    finished = run.status in FINISHED_STATUSES
    if finished:
        kept = await runs_repo.kept_aggregates(session, run.id, run.answers_version)
        if kept is not None:
            return kept
    rows = [dict(row._mapping) for row in await runs_repo.contender_stats(session, run.id)]
    if finished:
        try:
            async with session.begin_nested():
                await runs_repo.keep_aggregates(session, run.id, run.answers_version, rows)
        except SQLAlchemyError as exc:
            # Keeping them only spares later reads: a run deleted meanwhile, or a database
            # that takes no writes (a read replica), must not fail this one.
            log.warning("run %s: its aggregates were not kept: %s", run.id, exc)
        else:
            await session.commit()
    return rows
