"""In-process news that runs finished, so `?wait=` answers at once instead of on its next poll.

No lock is shared between the announcer (the dispatcher) and the waiters (requests, progress
streams, which clients cancel at any moment): each announcement sets the current `Event` and
puts a fresh one in its place. Setting an event never blocks, and a cancelled waiter leaves
nothing behind, so no waiter can ever stop the dispatcher.
"""

import asyncio
import contextlib
import uuid
from collections.abc import Collection


class RunFinishedSignal:
    """Wakes everyone waiting when this process finishes runs; waiters re-check the database."""

    def __init__(self) -> None:
        self._news = asyncio.Event()
        self._closing = asyncio.Event()

    def announce(self, run_ids: Collection[uuid.UUID]) -> None:
        if run_ids:
            self._wake()

    def close(self) -> None:
        """The service is stopping: waiters return now with what they have."""
        self._closing.set()
        self._wake()

    def _wake(self) -> None:
        news, self._news = self._news, asyncio.Event()
        news.set()

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    def next(self) -> asyncio.Event:
        """The event the next announcement sets. Take it before reading the database, then
        wait on it, so news between the read and the wait is not missed."""
        return self._news

    @staticmethod
    async def wait(news: asyncio.Event, timeout: float) -> None:
        """Return when `news` is set, or after `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await news.wait()
