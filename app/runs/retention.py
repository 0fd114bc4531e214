"""Retention: finished runs older than `LLM_COMPARE_RETENTION_DAYS`, or than their project's
own `retention_days`, are deleted in the background, a batch of runs per transaction, as
`DELETE /runs/{id}` deletes one.

Every process runs the sweep; a transaction-level advisory lock lets one process at a time
delete, and a process that finds it taken leaves the work to the holder. Runs still going
are never deleted, however old: they are deleted by a later sweep once they end.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.engine import in_transaction
from app.db.tables import ProjectRow, RunRow
from app.runs import repository as runs_repo

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process (and differ from the
# migrations' lock, app/db/migrate.py).
RETENTION_LOCK_ID = 0x6C6C7274


async def delete_expired_runs(
    engine: AsyncEngine,
    created_before: datetime,
    batch_size: int,
    scope: ColumnElement[bool] | None = None,
) -> int:
    """Delete the finished runs created before `created_before` (of those in `scope`, a
    condition on the runs) a batch per transaction, until none is left or another process
    holds the lock; returns how many this process deleted."""

    async def batch(connection: AsyncConnection) -> int | None:
        if not await connection.scalar(select(func.pg_try_advisory_xact_lock(RETENTION_LOCK_ID))):
            return None  # another process is deleting
        run_ids = await runs_repo.expired_runs(connection, created_before, batch_size, scope)
        for run_id in run_ids:
            await runs_repo.delete_finished(connection, run_id)
        return len(run_ids)

    deleted = 0
    while done := await in_transaction(engine, batch):
        deleted += done
        if done < batch_size:
            break
    return deleted


def cutoff(days: int, now: datetime | None = None) -> datetime:
    """Runs created before this are past a retention of `days`."""
    return (now or datetime.now(UTC)) - timedelta(days=days)


async def sweep(
    engine: AsyncEngine, days: int | None, batch_size: int, now: datetime | None = None
) -> int:
    """Delete the runs past their retention: each project's own (`projects.retention_days`)
    for its runs, `days` (the service's; None: forever) for the others. Returns how many."""
    async with engine.connect() as connection:
        own = (
            await connection.execute(
                select(ProjectRow.id, ProjectRow.retention_days).where(
                    ProjectRow.retention_days.is_not(None)
                )
            )
        ).all()
    deleted = 0
    for project_id, project_days in own:
        assert project_days is not None  # as selected
        scope = RunRow.project_id == project_id
        deleted += await delete_expired_runs(engine, cutoff(project_days, now), batch_size, scope)
    if days is not None:
        others = RunRow.project_id.not_in([project_id for project_id, _ in own])
        deleted += await delete_expired_runs(engine, cutoff(days, now), batch_size, others)
    return deleted


class RetentionSweeper:
    """Deletes runs past their retention (`sweep`) every `interval_s`, from start-up on."""

    def __init__(self, engine: AsyncEngine, days: int | None, interval_s: float, batch_size: int):
        self._engine = engine
        self._days = days
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                deleted = await sweep(self._engine, self._days, self._batch_size)
                if deleted:
                    log.info("deleted %d runs past their retention", deleted)
            except Exception:  # the sweep must outlive any one failure
                log.exception("deleting runs past their retention failed; trying again later")
            await asyncio.sleep(self._interval_s)
