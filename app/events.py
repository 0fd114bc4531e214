"""Progress of a run as server-sent events, until it ends."""

from collections.abc import AsyncIterator

from sse_starlette import ServerSentEvent

from app import runs
from app.schemas import RunSummary
from app.state import ServiceState

# Progress made by other processes is only seen by polling.
_POLL_S = 0.5


async def run_events(
    state: ServiceState, first: RunSummary, poll_s: float = _POLL_S
) -> AsyncIterator[ServerSentEvent]:
    """A `progress` event whenever the run's counts or status change, then one `end` event
    with its final summary. Each event's data is the run summary as JSON. The stream also
    ends, with no `end` event, when the service stops; clients reconnect."""
    summary, sent = first, None
    news = state.finished.next()
    while True:
        if summary.status in runs.FINISHED_STATUSES:
            yield ServerSentEvent(summary.model_dump_json(), event="end")
            return
        if summary != sent:
            yield ServerSentEvent(summary.model_dump_json(), event="progress")
            sent = summary
        if state.finished.closing:
            return
        await state.finished.wait(news, poll_s)
        news = state.finished.next()
        async with state.sessions() as session:
            summary = await runs.get_summary(session, first.id)
