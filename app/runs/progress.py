"""Following a run: waiting for it to finish (`?wait=`), and its progress as server-sent
events. News of the run (app/dispatch/news.py), from this process or through PostgreSQL
notifications from any other, wakes both at once; polling is the fallback for news missed."""

import asyncio
import uuid
from collections.abc import AsyncIterator

from sse_starlette import ServerSentEvent

from app.domain import FINISHED_STATUSES
from app.runs import service
from app.runs.schemas import RunSummary
from app.state import ServiceState

_POLL_S = 2.0
# A progress stream reads the run at most this often, however often it advances.
_PROGRESS_EVERY_S = 0.25


async def wait_for_run(state: ServiceState, run_id: uuid.UUID, timeout: float) -> RunSummary:
    """The run's summary once it has finished, or as it stands after `timeout` seconds
    (at most `LLM_COMPARE_MAX_WAIT_S`) or when the service begins to stop."""
    timeout = min(timeout, state.settings.max_wait_s)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        news = state.news.on_finish(run_id)
        async with state.sessions() as session:
            summary = await service.get_summary(session, run_id)
        remaining = deadline - asyncio.get_running_loop().time()
        if summary.status in FINISHED_STATUSES or remaining <= 0 or state.news.closing:
            return summary
        await state.news.wait(news, min(remaining, _POLL_S))


async def run_events(
    state: ServiceState, first: RunSummary, poll_s: float = _POLL_S
) -> AsyncIterator[ServerSentEvent]:
    """A `progress` event whenever the run's counts or status change, then one `end` event
    with its final summary. Each event's data is the run summary as JSON. The stream also
    ends, with no `end` event, when the service stops; clients reconnect."""
    summary, sent = first, None
    news = state.news.on_progress(first.id)
    while True:
        if summary.status in FINISHED_STATUSES:
            yield ServerSentEvent(summary.model_dump_json(), event="end")
            return
        if summary != sent:
            yield ServerSentEvent(summary.model_dump_json(), event="progress")
            sent = summary
        if state.news.closing:
            return
        await asyncio.sleep(_PROGRESS_EVERY_S)
        await state.news.wait(news, poll_s)
        news = state.news.on_progress(first.id)
        async with state.sessions() as session:
            summary = await service.get_summary(session, first.id)
