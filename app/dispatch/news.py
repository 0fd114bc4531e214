"""News of runs in this process: a run advanced (answers were written) or finished, so
`?wait=` and progress streams answer at once instead of on their next poll.

News comes from this process's dispatcher and, through PostgreSQL notifications, from every
other process's (app/dispatch/notifications.py). No lock is shared between the announcer and
the waiters (requests and progress streams, which clients cancel at any moment): a waiter takes
the `Event` of the run it follows, an announcement sets it and forgets it. Setting an event
never blocks, and a cancelled waiter leaves nothing behind (the events are held weakly), so no
waiter can ever stop the dispatcher.
"""

import asyncio
import contextlib
import uuid
from collections.abc import Iterable
from weakref import WeakValueDictionary


class RunNews:
    def __init__(self) -> None:
        self._progress: WeakValueDictionary[uuid.UUID, asyncio.Event] = WeakValueDictionary()
        self._finish: WeakValueDictionary[uuid.UUID, asyncio.Event] = WeakValueDictionary()
        self._closing = asyncio.Event()

    def on_progress(self, run_id: uuid.UUID) -> asyncio.Event:
        """Set when the run advances or finishes. Take it before reading the database, then
        wait on it, so news between the read and the wait is not missed."""
        return self._progress.setdefault(run_id, asyncio.Event())

    def on_finish(self, run_id: uuid.UUID) -> asyncio.Event:
        """Set when the run finishes (or the service stops)."""
        return self._finish.setdefault(run_id, asyncio.Event())

    def progressed(self, run_ids: Iterable[uuid.UUID]) -> None:
        for run_id in run_ids:
            _set(self._progress.pop(run_id, None))

    def finished(self, run_ids: Iterable[uuid.UUID]) -> None:
        for run_id in run_ids:
            _set(self._progress.pop(run_id, None))
            _set(self._finish.pop(run_id, None))

    def wake_all(self) -> None:
        """Every waiter looks again: news may have been missed (a lost notification link)."""
        for events in (self._progress, self._finish):
            for event in list(events.values()):
                event.set()
            events.clear()

    def close(self) -> None:
        """The service is stopping: waiters return now with what they have."""
        self._closing.set()
        self.wake_all()

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    @staticmethod
    async def wait(news: asyncio.Event, timeout: float) -> None:
        """Return when `news` is set, or after `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await news.wait()


def _set(event: asyncio.Event | None) -> None:
    if event is not None:
        event.set()
