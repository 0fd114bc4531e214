"""The dispatcher: claims queued pairs, has them called, and hands their outcomes to the writer.

One runs in every service process. Processes share the work only through the database:
claims skip rows other processes hold, leases are renewed while a pair is in flight, and rows
whose process died return to the queue when their lease runs out.
"""

import asyncio
import logging
import math
import time
import uuid
from collections import Counter, OrderedDict, defaultdict, deque
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import logs, metrics, tracing
from app.adapters.registry import AdapterRegistry
from app.catalogue.service import Catalogue
from app.config import Settings
from app.dispatch import cache, queue
from app.dispatch.cache import Reused
from app.dispatch.calls import ModelCaller
from app.dispatch.news import RunNews
from app.dispatch.notifications import notify_runs
from app.dispatch.queue import CallMade, Job, Outcome
from app.dispatch.writer import ResultWriter
from app.domain import Contender, ModelSpec

log = logging.getLogger(__name__)

_RUN_CACHE_RUNS = 1024
# After the grace for calls in flight, how long writing their answers and releasing the rest
# may take before they are left to their leases.
_FINAL_WRITE_S = 3.0


@dataclass(frozen=True, slots=True)
class _Run:
    """What a run's pairs need beyond their own rows: its contenders, and the traceparent of
    the request that accepted it (their provider calls' spans link to it)."""

    contenders: list[Contender]
    trace_parent: str | None


class Dispatcher:
    """Keeps each model's in-flight pairs at its concurrency limit while work is queued."""

    def __init__(
        self,
        engine: AsyncEngine,
        catalogue: Catalogue,
        adapters: AdapterRegistry,
        settings: Settings,
        news: RunNews,
    ) -> None:
        self._engine = engine
        self._catalogue = catalogue
        self._settings = settings
        self._news = news
        self._caller = ModelCaller(adapters, settings)
        self._writer = ResultWriter(engine, settings, news)
        self._specs = {spec.name: spec for spec in catalogue}
        self._in_flight: dict[str, int] = defaultdict(int)
        # Claimed pairs waiting for a free slot, so a finished call starts the next at once
        # and claims come in batches rather than one query per finished call.
        self._ready: dict[str, deque[tuple[Job, _Run]]] = defaultdict(deque)
        self._maybe_queued: set[str] = set(self._specs)
        self._wake = asyncio.Event()
        self._runs: OrderedDict[uuid.UUID, _Run] = OrderedDict()
        self._pairs: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        self._stop_began = 0.0
        self._beats: dict[str, float] = {}  # when each loop last went round, for readiness
        # The share of each model's last claimed batch answered from the cache: those take no
        # slot, so the next claim asks for as many more as it expects to answer so.
        self._cached_share: dict[str, float] = defaultdict(float)

    async def start(self) -> None:
        self._writer.start()
        self._loops = [
            asyncio.create_task(self._claim_loop(), name="dispatch-claims"),
            asyncio.create_task(self._lease_loop(), name="dispatch-leases"),
        ]

    def wake(self) -> None:
        """New work was queued: look for it now rather than at the next poll."""
        self._maybe_queued.update(self._specs)
        self._wake.set()

    def drop_cancelled(self, run_ids: set[uuid.UUID]) -> None:
        """Runs were cancelled: their claimed pairs not yet started end `cancelled` instead."""
        for ready in self._ready.values():
            keep: deque[tuple[Job, _Run]] = deque()
            for job, run in ready:
                if job.run_id in run_ids:
                    cancelled = Outcome(
                        job.id, job.run_id, job.lease_token, status="cancelled", called=False
                    )
                    self._writer.put(cancelled)
                else:
                    keep.append((job, run))
            ready.clear()
            ready.extend(keep)

    def stalled(self) -> list[str]:
        """The loops that stopped, or made no progress for `LLM_COMPARE_STALL_TIMEOUT_S` past
        their own period; empty while the dispatcher works."""
        if self._stopping:
            return []
        now, patience = time.monotonic(), self._settings.stall_timeout_s
        periods = {
            "dispatch-claims": self._settings.poll_interval_s,
            "dispatch-leases": self._settings.lease_s / 3,
        }
        late = []
        for task in self._loops:
            name = task.get_name()
            if task.done() or now - self._beats.get(name, now) > periods[name] + patience:
                late.append(name)
        if self._writer.stalled(patience):
            late.append("dispatch-writer")
        return late

    def _beat(self, loop: str) -> None:
        self._beats[loop] = time.monotonic()

    # Stopping

    def begin_stop(self) -> None:
        """Stop claiming now; calls in flight go on. The service calls this as soon as it is
        asked to stop, so they use the grace while open requests drain."""
        if not self._stopping:
            self._stopping = True
            self._stop_began = time.monotonic()
            for task in self._loops:
                task.cancel()

    async def stop(self) -> None:
        """Stop claiming, let calls in flight finish within the grace period (counted from
        `begin_stop`), write their answers, and put what is left back in the queue. Bounded:
        a stuck database cannot hold the process; unwritten pairs then return by their lease."""
        self.begin_stop()
        await asyncio.gather(*self._loops, return_exceptions=True)
        grace_left = self._stop_began + self._settings.shutdown_grace_s - time.monotonic()
        if self._pairs:
            await asyncio.wait(self._pairs, timeout=max(0.0, grace_left))
        for task in self._pairs:
            task.cancel()
        await asyncio.gather(*self._pairs, return_exceptions=True)
        try:
            async with asyncio.timeout(_FINAL_WRITE_S):
                await self._writer.close()
                uncalled = [job.id for ready in self._ready.values() for job, _ in ready]
                async with self._engine.begin() as connection:
                    await queue.release(connection, self._writer.held_leases(), uncalled)
        except (TimeoutError, SQLAlchemyError, OSError):
            self._writer.cancel()
            log.warning(
                "could not write or release every claim on stop; they return when their lease ends"
            )

    # Claiming

    def _limit(self, model: str) -> int:
        return self._catalogue.concurrency(self._specs[model])

    def _room(self, model: str) -> int:
        """How many more pairs to claim: up to one limit in flight and one limit ready."""
        return 2 * self._limit(model) - self._in_flight[model] - len(self._ready[model])

    def _worth_claiming(self, model: str) -> bool:
        return self._room(model) >= max(1, self._limit(model) // 2)

    def _claim_size(self, model: str) -> int:
        """How many pairs to claim: the room, more when the cache answered the last batch."""
        batch = self._settings.claim_batch_size
        calls_each = 1 - self._cached_share[model]  # calls to expect per claimed pair
        room = self._room(model)
        if calls_each * batch <= room:  # the whole batch brings no more calls than there is room
            return batch
        return math.ceil(room / calls_each)

    async def _claim_loop(self) -> None:
        # `_stopping` as well as the cancellation ends the loop: a cancellation can be lost
        # (Python 3.11's wait_for drops one that meets a finished wait), and `stop` waits here.
        while not self._stopping:
            self._beat("dispatch-claims")
            self._wake.clear()
            try:
                with tracing.untraced():  # the pairs' own calls start traces of their own
                    more = await self._claim_once()
            except Exception:  # the loop must outlive any one failure, or pairs stall
                log.exception("claiming failed; trying again")
                more = False
            if more:
                continue
            try:
                async with asyncio.timeout(self._settings.poll_interval_s):
                    await self._wake.wait()
            except TimeoutError:
                self._maybe_queued.update(self._specs)  # other processes may have queued work

    async def _claim_once(self) -> bool:
        """Claim for every model with room; True if some model may have more right now."""
        more = False
        for model in list(self._maybe_queued):
            if not self._worth_claiming(model):
                continue
            wanted = self._claim_size(model)
            async with self._engine.begin() as connection:
                jobs = await queue.claim(connection, model, wanted, self._settings.lease_s)
                claimed = len(jobs)
                if jobs:
                    runs = await self._runs_of(jobs, connection)
                    jobs = await self._answer_from_cache(connection, jobs, runs)
                    self._cached_share[model] = 1 - len(jobs) / claimed
            if claimed < wanted:
                self._maybe_queued.discard(model)
            else:
                more = more or self._worth_claiming(model)
            if jobs:
                for job in jobs:
                    run = runs.get(job.run_id)
                    if run is None:  # the run was deleted meanwhile; so are its rows
                        continue
                    self._writer.hold(job.lease_token)
                    self._ready[model].append((job, run))
                self._start_ready(self._specs[model])
        return more

    async def _answer_from_cache(
        self,
        connection: AsyncConnection,
        jobs: list[Job],
        runs: dict[uuid.UUID, _Run],
    ) -> list[Job]:
        """Answer the claimed pairs whose request was answered before, in the claim's own
        transaction (one statement for the batch); returns the others, which need a call.
        The writer ends the runs that have nothing left, as for answers it writes itself."""
        if not self._settings.cache:
            return jobs
        reusable = [
            job
            for job in jobs
            if job.fingerprint is not None
            and (run := runs.get(job.run_id)) is not None
            and run.contenders[job.contender_index].cache
        ]
        if not reusable:
            return jobs
        try:
            async with connection.begin_nested():
                answered = await cache.answer_from_cache(connection, reusable)
        except SQLAlchemyError:  # the pairs are still claimed: calling the provider answers them
            log.exception("looking up %d pairs in the cache failed; calling instead", len(reusable))
            return jobs
        for run_id, pairs in Counter(run_id for _, run_id in answered).items():
            self._writer.put(Reused(run_id, pairs))
        metrics.CACHE_HITS.inc(len(answered))
        done = {row_id for row_id, _ in answered}
        return [job for job in jobs if job.id not in done]

    async def _runs_of(self, jobs: list[Job], connection: AsyncConnection) -> dict[uuid.UUID, _Run]:
        """These jobs' runs, from the cache or the database."""
        wanted = {job.run_id for job in jobs}
        missing = wanted - self._runs.keys()
        if missing:
            found = await queue.contenders_of(connection, list(missing))
            for run_id, (contenders, trace_parent) in found.items():
                self._runs[run_id] = _Run(
                    [Contender.model_validate(c) for c in contenders], trace_parent
                )
        # Taken before eviction: one batch may span more runs than the cache keeps.
        batch = {run_id: self._runs[run_id] for run_id in wanted if run_id in self._runs}
        for run_id in batch:
            self._runs.move_to_end(run_id)
        while len(self._runs) > _RUN_CACHE_RUNS:
            self._runs.popitem(last=False)
        return batch

    # Running pairs

    def _start_ready(self, spec: ModelSpec) -> None:
        ready = self._ready[spec.name]
        while not self._stopping and ready and self._in_flight[spec.name] < self._limit(spec.name):
            self._start_pair(spec, *ready.popleft())

    def _start_pair(self, spec: ModelSpec, job: Job, run: _Run) -> None:
        self._in_flight[spec.name] += 1
        metrics.labelled(metrics.IN_FLIGHT, spec.name).inc()
        task = asyncio.create_task(self._run_pair(spec, run, job))
        self._pairs.add(task)
        task.add_done_callback(self._pairs.discard)

    async def _run_pair(self, spec: ModelSpec, run: _Run, job: Job) -> None:
        logs.RUN_ID.set(str(job.run_id))  # this task's own context: its log lines say so
        logs.RESPONSE_ID.set(job.id)
        # A retry is counted before its backoff, so it is stored before it is made.
        retried = CallMade(job.id, job.lease_token)
        try:
            outcome = await self._caller.outcome(
                spec,
                run.contenders[job.contender_index],
                job,
                lambda: self._writer.put(retried),
                trace_parent=run.trace_parent,
            )
        finally:
            self._in_flight[spec.name] -= 1
            metrics.labelled(metrics.IN_FLIGHT, spec.name).dec()
            self._start_ready(spec)
            if self._worth_claiming(spec.name):
                self._wake.set()
        self._writer.put(outcome)

    # Leases

    async def _lease_loop(self) -> None:
        while not self._stopping:
            self._beat("dispatch-leases")
            await asyncio.sleep(self._settings.lease_s / 3)
            try:
                with tracing.untraced():
                    await self._renew_and_reap()
            except Exception:
                log.exception("renewing leases failed; trying again")

    async def _renew_and_reap(self) -> None:
        """Renew this process's leases, requeue (or fail) pairs whose lease ran out, and drop
        the waiting pairs of runs cancelled through another process."""
        async with self._engine.begin() as connection:
            await queue.renew(connection, self._writer.held_leases(), self._settings.lease_s)
            abandoned = await queue.requeue_expired(connection, self._settings.max_lost_leases)
            ended = await queue.finish_runs(connection, abandoned) if abandoned else []
            await notify_runs(connection, finished=ended)
            waiting = {job.run_id for ready in self._ready.values() for job, _ in ready}
            if waiting:
                self.drop_cancelled(set(await queue.cancelled_among(connection, list(waiting))))
        self._news.finished(ended)
