"""Per-key rate limits: the `limits` library's fixed window, counted where every service
process sees the same counts.

`limits` ships storages for Redis, Memcached and MongoDB; the service must run on its one
PostgreSQL alone, so `PostgresStorage` gives the library a counter table there (one upsert
per request of a limited key). `LLM_COMPARE_RATE_LIMIT_STORAGE` may name one of the library's
own storages instead.
"""

import math
import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string
from sqlalchemy import delete, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.access.caller import Caller
from app.db.tables import RateLimitRow
from app.errors import TooManyRequestsError

counters = RateLimitRow.__table__.c

# One statement: the window restarts when it has expired, else the count goes up.
_INCREMENT = text(
    """
    INSERT INTO rate_limits (key, hits, expires_at)
    VALUES (:key, :amount, now() + make_interval(secs => :expiry))
    ON CONFLICT (key) DO UPDATE SET
        hits = CASE WHEN rate_limits.expires_at <= now() THEN excluded.hits
                    ELSE rate_limits.hits + excluded.hits END,
        expires_at = CASE WHEN rate_limits.expires_at <= now() THEN excluded.expires_at
                          ELSE rate_limits.expires_at END
    RETURNING hits
    """
)


class PostgresStorage(Storage):
    """A `limits` storage on the service's database (table `rate_limits`)."""

    STORAGE_SCHEME = None

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self.engine = engine

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        async with self.engine.begin() as connection:
            hits: int = await connection.scalar(
                _INCREMENT, {"key": key, "amount": amount, "expiry": expiry}
            )
        return hits

    async def get(self, key: str) -> int:
        async with self.engine.connect() as connection:
            hits = await connection.scalar(
                select(counters.hits).where(
                    counters.key == key, counters.expires_at > text("now()")
                )
            )
        return int(hits or 0)

    async def get_expiry(self, key: str) -> float:
        async with self.engine.connect() as connection:
            expires = await connection.scalar(
                select(text("extract(epoch FROM expires_at)"))
                .select_from(RateLimitRow.__table__)
                .where(counters.key == key)
            )
        return float(expires) if expires is not None else time.time()

    async def check(self) -> bool:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True

    async def reset(self) -> int | None:
        async with self.engine.begin() as connection:
            return (await connection.execute(delete(RateLimitRow))).rowcount

    async def clear(self, key: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(delete(RateLimitRow).where(counters.key == key))


def storage_for(setting: str, engine: AsyncEngine) -> Storage:
    """`postgres`: the service's database; otherwise a `limits` storage URI (async)."""
    if setting == "postgres":
        return PostgresStorage(engine)
    uri = setting if setting.startswith("async+") else f"async+{setting}"
    storage = storage_from_string(uri)
    assert isinstance(storage, Storage)
    return storage


class KeyRateLimiter:
    """Each key's requests per minute, as its row says."""

    def __init__(self, storage: Storage) -> None:
        self.strategy = FixedWindowRateLimiter(storage)

    async def hit(self, caller: Caller) -> None:
        """Count the request; `TooManyRequestsError` once the key's minute is spent."""
        per_minute = caller.rate_limit_per_minute
        if per_minute is None or caller.key_id is None:
            return
        item = RateLimitItemPerMinute(per_minute)
        if await self.strategy.hit(item, str(caller.key_id)):
            return
        reset_at, _ = await self.strategy.get_window_stats(item, str(caller.key_id))
        wait = max(1, math.ceil(reset_at - time.time()))
        raise TooManyRequestsError(
            f"this key may make {per_minute} requests a minute; try again in {wait} s",
            retry_after_s=wait,
        )
