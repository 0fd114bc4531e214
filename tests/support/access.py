"""Projects and keys made straight on a test database, the header that sends a key, and a
signed-in page session's headers."""

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from app.access import service
from app.access.schemas import CreatedKey, KeyRequest
from app.access.scopes import Scope
from app.access.sessions import COOKIE, CSRF_HEADER
from app.db.engine import create_engine

# The bootstrap key the tests give LLM_COMPARE_ADMIN_KEY.
ADMIN_KEY = "lc_test-bootstrap-admin-key-0123456789abcdef"


@asynccontextmanager
async def on_database(db_url: str) -> AsyncIterator[AsyncConnection]:
    engine = create_engine(db_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            yield connection
    finally:
        await engine.dispose()


async def make_project(db_url: str, name: str) -> None:
    async with on_database(db_url) as connection:
        await service.create_project(connection, name)


async def make_key(
    db_url: str,
    scopes: Sequence[Scope | str],
    project: str = "default",
    name: str = "test key",
    rate_limit_per_minute: int | None = None,
) -> CreatedKey:
    request = KeyRequest(
        name=name,
        project=project,
        scopes=[Scope(s) for s in scopes],
        rate_limit_per_minute=rate_limit_per_minute,
    )
    async with on_database(db_url) as connection:
        return await service.create_key(connection, request)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


async def sign_in(client: httpx.AsyncClient, key: str) -> dict[str, str]:
    """Sign in to the pages with `key` as a browser does; the headers that then send its
    session cookie and CSRF token (the client's own cookie jar is left empty)."""
    response = await client.post(
        "/ui/login", data={"key": key, "next": "/ui"}, headers={"Origin": str(client.base_url)}
    )
    assert response.status_code == 303, response.text
    cookie = {"Cookie": f"{COOKIE}={response.cookies[COOKIE]}"}
    client.cookies.clear()
    page = await client.get("/ui", headers={**cookie, "Accept": "text/html"})
    found = CSRF_META.search(page.text)
    assert found, page.text
    return {**cookie, CSRF_HEADER: found.group(1)}
