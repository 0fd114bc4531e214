"""News between processes through PostgreSQL's LISTEN/NOTIFY, the one engine they share.

Two channels: `llm_compare_work` (pairs were queued: accepted, retried, released, their worker
died) wakes idle dispatchers in every process at once; `llm_compare_runs` carries which runs
advanced or finished, so `?wait=` and progress streams in every process answer at once. A
notification is sent in the transaction that made the change, so it arrives only if that
commits. Polling stays as the fallback for notifications missed while a listener reconnects.
"""

import asyncio
import logging
import uuid
from collections.abc import Callable, Collection, Iterator
from functools import partial

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.dispatch.news import RunNews

log = logging.getLogger(__name__)

WORK = "llm_compare_work"
RUNS = "llm_compare_runs"
# A payload holds at most 8,000 bytes; a run id is 32 hex digits and a space.
_IDS_PER_NOTIFICATION = 200
_RECONNECT_S = (0.5, 10.0)
APPLICATION_NAME = "llm-compare-listener"


async def notify_work(connection: AsyncConnection | AsyncSession) -> None:
    """Tell every dispatcher that pairs were queued, when this transaction commits."""
    await connection.execute(select(func.pg_notify(WORK, "")))


async def notify_runs(
    connection: AsyncConnection | AsyncSession,
    progressed: Collection[uuid.UUID] = (),
    finished: Collection[uuid.UUID] = (),
) -> None:
    """Tell every process that these runs advanced or finished, when this transaction commits."""
    for kind, run_ids in (("p", set(progressed) - set(finished)), ("f", finished)):
        for payload in _payloads(kind, run_ids):
            await connection.execute(select(func.pg_notify(RUNS, payload)))


def _payloads(kind: str, run_ids: Collection[uuid.UUID]) -> Iterator[str]:
    ids = [run_id.hex for run_id in run_ids]
    for start in range(0, len(ids), _IDS_PER_NOTIFICATION):
        yield " ".join([kind, *ids[start : start + _IDS_PER_NOTIFICATION]])


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """One connection of its own that listens, and hands what it hears to `news` and to
    `on_work`; it reconnects after a lost connection, and then wakes everyone (news may have
    been missed meanwhile)."""

    def __init__(self, url: str, news: RunNews, on_work: Callable[[], None]) -> None:
        self._dsn = _asyncpg_dsn(url)
        self._news = news
        self._on_work = on_work
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="notifications")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _listen(self) -> None:
        delay = _RECONNECT_S[0]
        # `_stopping` as well as the cancellation ends the loop: connecting can swallow a
        # cancellation that meets a connection just made (wait_for in Python 3.11).
        while not self._stopping:
            try:
                connection = await asyncpg.connect(
                    self._dsn, timeout=5, server_settings={"application_name": APPLICATION_NAME}
                )
            except Exception as exc:  # the loop must outlive any one failure
                log.warning("cannot listen for notifications (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RECONNECT_S[1])
                continue
            if self._stopping:
                await _close(connection)
                return
            delay = _RECONNECT_S[0]
            lost = asyncio.Event()
            connection.add_termination_listener(partial(_on_lost, lost))
            try:
                if connection.is_closed():  # lost before the listener above could hear it
                    continue
                await connection.add_listener(WORK, self._work)
                await connection.add_listener(RUNS, self._runs)
                self.connected.set()
                self._news.wake_all()
                self._on_work()
                await lost.wait()
                log.warning("lost the notification connection; reconnecting")
            except Exception as exc:  # e.g. the connection lost while subscribing
                log.warning("listening for notifications failed (%s); reconnecting", exc)
            finally:
                self.connected.clear()
                await _close(connection)

    def _work(self, *_: object) -> None:
        self._on_work()

    def _runs(self, _connection: object, _pid: int, _channel: str, payload: object) -> None:
        kind, *ids = str(payload).split()
        try:
            run_ids = [uuid.UUID(hex=i) for i in ids]
        except ValueError:
            return  # not ours
        if kind == "f":
            self._news.finished(run_ids)
        else:
            self._news.progressed(run_ids)


def _on_lost(lost: asyncio.Event, _connection: object) -> None:
    lost.set()


async def _close(connection: asyncpg.Connection) -> None:
    try:
        async with asyncio.timeout(2):
            await connection.close()
    except Exception:  # closing a lost connection: nothing is left to close politely
        connection.terminate()
