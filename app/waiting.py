"""Waiting for a run to finish, for `?wait=`."""

import asyncio
import uuid

from app import runs
from app.schemas import RunSummary
from app.state import ServiceState

# Runs finished by other processes are only seen by polling.
_POLL_S = 0.5


async def wait_for_run(state: ServiceState, run_id: uuid.UUID, timeout: float) -> RunSummary:
    """The run's summary once it has finished, or as it stands after `timeout` seconds
    (at most `LLM_COMPARE_MAX_WAIT_S`) or when the service begins to stop."""
    timeout = min(timeout, state.settings.max_wait_s)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        news = state.finished.next()
        async with state.sessions() as session:
            summary = await runs.get_summary(session, run_id)
        remaining = deadline - asyncio.get_running_loop().time()
        if summary.status in runs.FINISHED_STATUSES or remaining <= 0 or state.finished.closing:
            return summary
        await state.finished.wait(news, min(remaining, _POLL_S))
