"""Changing a run after it was accepted: cancel it, retry its failures, delete it."""

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import queue
from app.db.engine import in_transaction
from app.errors import ConflictError, NotFoundError
from app.runs import FINISHED_STATUSES
from app.state import ServiceState


def _not_found(run_id: uuid.UUID) -> NotFoundError:
    return NotFoundError(f"no run with id {run_id}")


async def cancel(state: ServiceState, run_id: uuid.UUID) -> None:
    """Stop the run's queued pairs; those in flight finish, then the run ends `cancelled`.
    Cancelling a cancelled run does nothing; any other finished run is a conflict."""

    async def work(connection: AsyncConnection) -> None:
        status = await queue.run_status(connection, run_id)
        if status is None:
            raise _not_found(run_id)
        if status == "cancelled":
            return
        if status in FINISHED_STATUSES:
            raise ConflictError(f"run {run_id} already finished ({status}); nothing to cancel")
        await queue.cancel(connection, run_id)

    await in_transaction(state.engine, work)
    if state.dispatcher is not None:
        state.dispatcher.drop_cancelled({run_id})
    state.finished.announce([run_id])


async def retry(state: ServiceState, run_id: uuid.UUID) -> int:
    """Queue the run's failed pairs again; returns how many (0 when none failed)."""

    async def work(connection: AsyncConnection) -> int:
        if await queue.run_status(connection, run_id) is None:
            raise _not_found(run_id)
        return await queue.retry_failed(connection, run_id)

    requeued = await in_transaction(state.engine, work)
    if requeued and state.dispatcher is not None:
        state.dispatcher.wake()
    return requeued


async def delete_run(state: ServiceState, run_id: uuid.UUID) -> None:
    """Remove a finished run with its prompts and responses."""

    async def work(connection: AsyncConnection) -> None:
        status = await queue.delete_finished(connection, run_id)
        if status is None:
            raise _not_found(run_id)
        if status not in FINISHED_STATUSES:
            raise ConflictError(
                f"run {run_id} is {status}; cancel it first (POST /runs/{run_id}/cancel)"
            )

    await in_transaction(state.engine, work)
