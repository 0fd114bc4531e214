"""Writing what pairs ended with, in batches: one transaction writes a batch of outcomes and
retry counts, ends the runs that have nothing left, and tells every process which runs
advanced and which finished."""

import asyncio
import logging
import time
import uuid
from collections import Counter

from sqlalchemy.ext.asyncio import AsyncEngine

from app import metrics, tracing
from app.config import Settings
from app.dispatch import queue
from app.dispatch.cache import Reused
from app.dispatch.news import RunNews
from app.dispatch.notifications import notify_runs
from app.dispatch.queue import CallMade, Outcome

log = logging.getLogger(__name__)


class ResultWriter:
    """Takes outcomes as they come and writes them every `LLM_COMPARE_WRITE_INTERVAL_S`.

    It also counts, per lease, the claimed pairs whose outcome is not written yet: those
    leases must be renewed, and released on a clean stop.
    """

    def __init__(self, engine: AsyncEngine, settings: Settings, news: RunNews):
        self._engine = engine
        self._settings = settings
        self._news = news
        self._items: asyncio.Queue[Outcome | CallMade | Reused | None] = asyncio.Queue()
        self._unwritten: Counter[uuid.UUID] = Counter()
        self._writing_since: float | None = None  # when the batch being written arrived

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_loop(), name="dispatch-writer")

    def hold(self, lease_token: uuid.UUID) -> None:
        """A pair was claimed under `lease_token`; its outcome will come here."""
        self._unwritten[lease_token] += 1

    def put(self, item: Outcome | CallMade | Reused) -> None:
        self._items.put_nowait(item)

    def held_leases(self) -> list[uuid.UUID]:
        """The leases of claimed pairs whose outcome is not written yet."""
        return list(self._unwritten)

    def stalled(self, patience_s: float) -> bool:
        """Stopped, or holding a batch it has not written for `patience_s`."""
        since = self._writing_since
        return self._task.done() or (since is not None and time.monotonic() - since > patience_s)

    async def close(self) -> None:
        """Write what was put before this, then stop."""
        self._items.put_nowait(None)
        await asyncio.shield(self._task)

    def cancel(self) -> None:
        self._task.cancel()

    async def _write_loop(self) -> None:
        while True:
            self._writing_since = None
            first = await self._items.get()
            self._writing_since = time.monotonic()
            if first is None:
                return
            await asyncio.sleep(self._settings.write_interval_s)  # let a batch gather
            batch, stop = [first], False
            while len(batch) < self._settings.write_batch_size and not self._items.empty():
                item = self._items.get_nowait()
                if item is None:
                    stop = True
                    break
                batch.append(item)
            await self._flush(batch)
            if stop:
                return

    async def _flush(self, batch: list[Outcome | CallMade | Reused]) -> None:
        outcomes = [item for item in batch if isinstance(item, Outcome)]
        calls = [item for item in batch if isinstance(item, CallMade)]
        reused = [item for item in batch if isinstance(item, Reused)]
        touched = list({o.run_id for o in outcomes} | {r.run_id for r in reused})
        while True:
            try:
                with tracing.span(
                    "write answers",
                    {"llm_compare.outcomes": len(outcomes), "llm_compare.retries": len(calls)},
                ):
                    async with self._engine.begin() as connection:
                        await queue.record(connection, outcomes, calls)
                        ended = await queue.finish_runs(connection, touched)
                        await notify_runs(connection, progressed=touched, finished=ended)
                break
            except Exception:
                # Keep the answers: the leases are renewed meanwhile, so no one else takes them.
                log.exception("writing %d results failed; retrying", len(batch))
                await asyncio.sleep(1.0)
        for outcome in outcomes:
            self._unwritten[outcome.lease_token] -= 1
            if self._unwritten[outcome.lease_token] <= 0:
                del self._unwritten[outcome.lease_token]
            metrics.labelled(metrics.PAIRS_FINISHED, outcome.status).inc()
        if reused:
            metrics.labelled(metrics.PAIRS_FINISHED, "succeeded").inc(sum(r.pairs for r in reused))
        self._news.progressed(touched)
        self._news.finished(ended)
