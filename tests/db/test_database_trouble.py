"""The database gone, slow or saturated: the API answers 503 problems with Retry-After, the
dispatcher keeps its own connections, `/readyz` tells a stalled dispatcher, and the service
recovers by itself."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from app.db.engine import create_engine
from tests.support.app import serve
from tests.support.catalogues import echo_catalogue
from tests.support.tcp_proxy import TcpProxy

STEADY = {"concurrency": 2, "options": {"delay_ms": 50}}


@pytest.fixture
async def admin(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own, to take locks the service will run into."""
    connection = await asyncpg.connect(db_url)
    yield connection
    await connection.close()


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["status"] == 503


async def _statuses(admin: asyncpg.Connection, run_id: str) -> list[str]:
    rows = await admin.fetch("SELECT status FROM responses WHERE run_id = $1", uuid.UUID(run_id))
    return [row["status"] for row in rows]


async def test_the_database_gone_is_a_503_and_the_service_recovers(
    db_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    url = make_url(db_url)
    async with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
        catalogue = echo_catalogue(tmp_path, steady=STEADY)
        settings = make_settings(database_url=proxied, catalogue_file=catalogue)
        async with serve(settings) as client:
            body = {"prompts": ["one", "two"], "models": ["steady"]}
            run_id = (await client.post("/compare", json=body, params={"wait": 10})).json()["id"]

            await proxy.cut()
            _assert_unavailable(await client.post("/compare", json=body))
            _assert_unavailable(await client.get("/runs"))
            _assert_unavailable(await client.get(f"/runs/{run_id}"))
            _assert_unavailable(await client.post(f"/runs/{run_id}/retry", json={}))
            assert (await client.get("/readyz")).status_code == 503

            await proxy.restore()
            for _ in range(50):
                accepted = await client.post("/compare", json=body, params={"wait": 10})
                if accepted.status_code != 503:
                    break
                await asyncio.sleep(0.1)
            assert accepted.status_code == 200
            assert accepted.json()["status"] == "succeeded"
            assert (await client.get("/readyz")).status_code == 200


async def test_a_statement_over_the_timeout_is_a_503(
    make_settings: Callable[..., Settings], admin: asyncpg.Connection
) -> None:
    async with serve(make_settings(statement_timeout_s=0.3)) as client:
        async with admin.transaction():
            await admin.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
            response = await client.get("/runs")
        _assert_unavailable(response)
        assert "too long" in response.json()["detail"]
        assert (await client.get("/runs")).status_code == 200


async def test_an_exhausted_pool_is_a_503_and_the_dispatcher_keeps_writing(
    make_settings: Callable[..., Settings], admin: asyncpg.Connection, tmp_path: Path
) -> None:
    """The API's two connections held by slow reads: the next request gets a 503 at once
    while the dispatcher, on connections of its own, finishes the run."""
    catalogue = echo_catalogue(tmp_path, steady=STEADY)
    settings = make_settings(
        catalogue_file=catalogue, db_pool_size=1, db_pool_timeout_s=0.3, statement_timeout_s=60
    )
    async with serve(settings) as client:
        body = {"prompts": [f"p{i}" for i in range(20)], "models": ["steady"]}
        run_id = (await client.post("/compare", json=body)).json()["id"]
        async with admin.transaction():
            # Reading a run's prompts now waits; the dispatcher never reads them.
            await admin.execute("LOCK TABLE prompts IN ACCESS EXCLUSIVE MODE")
            held = [asyncio.create_task(client.get(f"/runs/{run_id}")) for _ in range(2)]
            await asyncio.sleep(0.2)
            _assert_unavailable(await client.get(f"/runs/{run_id}"))
            for _ in range(200):
                if set(await _statuses(admin, run_id)) == {"succeeded"}:
                    break
                await asyncio.sleep(0.05)
            assert set(await _statuses(admin, run_id)) == {"succeeded"}
        assert [(await task).status_code for task in held] == [200, 200]


async def test_readyz_fails_while_the_dispatcher_makes_no_progress(
    make_settings: Callable[..., Settings], admin: asyncpg.Connection, tmp_path: Path
) -> None:
    catalogue = echo_catalogue(tmp_path, steady=STEADY)
    async with serve(make_settings(catalogue_file=catalogue, stall_timeout_s=0.3)) as client:
        body = {"prompts": [f"p{i}" for i in range(10)], "models": ["steady"]}
        run_id = (await client.post("/compare", json=body)).json()["id"]
        while "running" not in await _statuses(admin, run_id):
            await asyncio.sleep(0.01)
        async with admin.transaction():
            # The dispatcher's writes of the answers it is getting wait for these row locks.
            await admin.execute(
                "SELECT id FROM responses WHERE run_id = $1 FOR UPDATE", uuid.UUID(run_id)
            )
            for _ in range(100):
                ready = await client.get("/readyz")
                if ready.status_code == 503:
                    break
                await asyncio.sleep(0.05)
            assert ready.status_code == 503
            assert "dispatch-writer" in ready.json()["detail"]["dispatcher"]["stalled"]
        run = (await client.get(f"/runs/{run_id}", params={"wait": 20})).json()
        assert run["status"] == "succeeded"
        assert (await client.get("/readyz")).status_code == 200


async def _terminated(admin: asyncpg.Connection, pid: int) -> None:
    await admin.execute("SELECT pg_terminate_backend($1)", pid)
    while await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("idle_s", [0.0, 3600.0])
async def test_a_connection_that_died_in_the_pool_is_replaced_once_it_sat_idle(
    db_url: str, admin: asyncpg.Connection, idle_s: float
) -> None:
    """A pooled connection unused for `ping_after_idle_s` is checked before it is handed out:
    one the server dropped meanwhile is replaced and the query succeeds. One used more
    recently is not checked (three round trips on every request), and meets its end."""
    engine = create_engine(db_url, pool_size=1, ping_after_idle_s=idle_s)
    try:
        async with engine.connect() as connection:
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        await _terminated(admin, pid)
        if idle_s == 0:
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT pg_backend_pid()")) != pid
        else:
            with pytest.raises(DBAPIError):
                async with engine.connect() as connection:
                    await connection.scalar(text("SELECT 1"))
    finally:
        await engine.dispose()
