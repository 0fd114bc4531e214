"""In-process news that runs finished, so `?wait=` answers at once instead of on its next poll."""

import asyncio
import uuid
from collections.abc import Iterable


class RunFinishedSignal:
    """Wakes everyone waiting when this process finishes runs; waiters re-check the database."""

    def __init__(self) -> None:
        self._condition = asyncio.Condition()

    async def announce(self, run_ids: Iterable[uuid.UUID]) -> None:
        if run_ids:
            async with self._condition:
                self._condition.notify_all()

    async def wait(self, timeout: float) -> None:
        """Return when some run finished here, or after `timeout` seconds."""
        async with self._condition:
            try:
                await asyncio.wait_for(self._condition.wait(), timeout)
            except TimeoutError:
                pass
