"""Engine and sessions: one async engine per process, one session per unit of work."""

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.ext import asyncio as sa_asyncio
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

_CONNECT_TIMEOUT_S = 5.0


def async_url(url: str) -> str:
    """Accept the usual `postgresql://` and `postgres://` forms and use asyncpg."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername in ("postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername != "postgresql+asyncpg":
        raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, got {parsed.drivername!r}")
    return parsed.render_as_string(hide_password=False)


PING_AFTER_IDLE_S = 5.0


def _ping_when_idle(engine: AsyncEngine, idle_s: float) -> None:
    """Check that a pooled connection is alive before handing it out, as `pool_pre_ping` does,
    but only once it has sat unused for `idle_s`: a dead connection (the database restarted,
    a proxy dropped it) is met after a pause, and pre-pinging every checkout costs three
    round trips (BEGIN, a ping, ROLLBACK) on every request. A failed ping drops the pooled
    connections made before it, and the pool connects anew."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < idle_s:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise InvalidatePoolError(f"a pooled connection is gone: {exc}") from exc


def create_engine(
    url: str,
    pool_size: int = 10,
    *,
    max_overflow: int | None = None,
    pool_timeout_s: float = 30.0,
    statement_timeout_s: float | None = None,
    ping_after_idle_s: float = PING_AFTER_IDLE_S,
) -> AsyncEngine:
    """An engine with `pool_size` connections (plus as many again in overflow unless
    `max_overflow` says), a bounded wait for one, optionally a statement timeout, and its
    connections checked before use after `ping_after_idle_s` unused."""
    server_settings = {"application_name": "llm-compare"}
    if statement_timeout_s:
        server_settings["statement_timeout"] = str(round(statement_timeout_s * 1000))
    # Looked up at each call: tracing (app/tracing.py) wraps it to instrument new engines.
    engine = sa_asyncio.create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_timeout=pool_timeout_s,
        # JSONB columns (contenders, params, tags, kept aggregates) come back as text: a page of
        # 50 runs is 150 documents, which the standard library parses several times slower.
        json_deserializer=orjson.loads,
        # A database that does not answer at all must not hold a request for asyncpg's 60 s.
        connect_args={"server_settings": server_settings, "timeout": _CONNECT_TIMEOUT_S},
    )
    _ping_when_idle(engine, ping_after_idle_s)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session whose work commits on success and rolls back on error."""
    async with sessions() as session, session.begin():
        yield session


# deadlock_detected, serialization_failure: the transaction did nothing; running it again works.
_CONFLICTS = frozenset({"40P01", "40001"})
_CONFLICT_ATTEMPTS = 5

T = TypeVar("T")


def is_conflict(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in _CONFLICTS


async def in_transaction(engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """`work` in a transaction of its own, run again if PostgreSQL aborted it for a deadlock or
    a serialization failure. Lock order rules out deadlocks among our own statements; this is
    the safety net for orders no one foresaw."""
    for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
        try:
            async with engine.begin() as connection:
                return await work(connection)
        except DBAPIError as exc:
            if not is_conflict(exc) or attempt == _CONFLICT_ATTEMPTS:
                raise
            await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover
