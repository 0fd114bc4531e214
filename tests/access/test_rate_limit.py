"""Per-key rate limits: 429 with Retry-After once a key's minute is spent, counted across
processes (here two app instances on one database)."""

from collections.abc import Callable

from app.access.scopes import Scope
from app.config import Settings
from tests.support.access import bearer, make_key
from tests.support.app import serve


async def test_a_keys_minute_is_shared_by_every_process(
    make_settings: Callable[..., Settings], db_url: str
) -> None:
    limited = await make_key(db_url, [Scope.READ], rate_limit_per_minute=3)
    free = await make_key(db_url, [Scope.READ])
    settings = make_settings(auth="on")
    async with serve(settings) as first, serve(settings) as second:
        codes = [
            (await client.get("/models", headers=bearer(limited.key))).status_code
            for client in (first, second, first)
        ]
        assert codes == [200, 200, 200]
        refused = await second.get("/models", headers=bearer(limited.key))
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "3 requests a minute" in refused.json()["detail"]
        # Other keys keep their own count, and none is kept for keys without a limit.
        for _ in range(5):
            assert (await first.get("/models", headers=bearer(free.key))).status_code == 200


async def test_a_storage_of_the_limits_library_can_be_chosen(
    make_settings: Callable[..., Settings], db_url: str
) -> None:
    limited = await make_key(db_url, [Scope.READ], rate_limit_per_minute=1)
    settings = make_settings(auth="on", rate_limit_storage="memory://")
    async with serve(settings) as first, serve(settings) as second:
        assert (await first.get("/models", headers=bearer(limited.key))).status_code == 200
        assert (await first.get("/models", headers=bearer(limited.key))).status_code == 429
        # In memory, each process counts alone (what the PostgreSQL default is for).
        assert (await second.get("/models", headers=bearer(limited.key))).status_code == 200
