"""News between processes through PostgreSQL notifications: idle dispatchers start work queued
elsewhere at once, and `?wait=` in one process answers when another finishes the run."""

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg

from app.config import Settings
from app.dispatch.notifications import APPLICATION_NAME
from tests.support.app import serve
from tests.support.catalogues import echo_catalogue

# Far longer than anything below may take: only a notification can explain a quick start.
POLL_S = 10.0


async def _started_after_accepted(db_url: str, run_id: str) -> float:
    connection = await asyncpg.connect(db_url)
    try:
        for _ in range(400):
            gap = await connection.fetchval(
                "SELECT extract(epoch FROM min(r.started_at) - u.created_at)"
                " FROM responses r JOIN runs u ON u.id = r.run_id WHERE u.id = $1"
                " GROUP BY u.created_at",
                uuid.UUID(run_id),
            )
            if gap is not None:
                return float(gap)
            await asyncio.sleep(0.025)
    finally:
        await connection.close()
    raise AssertionError("the run was never started")


async def _listening(admin: asyncpg.Connection, wanted: int = 2) -> int:
    """How many listeners are connected to this database, once `wanted` are (or after 10 s)."""
    for _ in range(200):
        listening: int = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = $1 AND datname = current_database()",
            APPLICATION_NAME,
        )
        if listening == wanted:
            break
        await asyncio.sleep(0.05)
    return listening


async def test_an_idle_dispatcher_elsewhere_starts_a_run_at_once(
    db_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    catalogue = echo_catalogue(tmp_path, steady={"options": {"delay_ms": 50}})
    api_only = make_settings(catalogue_file=catalogue, dispatcher_enabled=False)
    worker = make_settings(catalogue_file=catalogue, poll_interval_s=POLL_S)
    async with serve(worker) as worker_client, serve(api_only) as client:
        await asyncio.sleep(0.5)  # both listening; the worker's first poll is long past
        started = time.monotonic()
        body = {"prompts": ["one", "two"], "models": ["steady"]}
        response = await client.post("/compare", json=body, params={"wait": 30})
        waited = time.monotonic() - started
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "succeeded"
        # Started by the other process well within its poll, and the wait here answered when
        # it finished, not at this process's next poll (2 s).
        assert await _started_after_accepted(db_url, response.json()["id"]) < 1.0
        assert waited < 1.5
        assert (await worker_client.get("/readyz")).status_code == 200


async def test_the_listener_reconnects_after_losing_its_connection(
    db_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    catalogue = echo_catalogue(tmp_path, steady={"options": {"delay_ms": 10}})
    api_only = make_settings(catalogue_file=catalogue, dispatcher_enabled=False)
    worker = make_settings(catalogue_file=catalogue, poll_interval_s=POLL_S)
    async with serve(worker), serve(api_only) as client:
        admin = await asyncpg.connect(db_url)
        try:
            assert await _listening(admin) == 2  # one listener per service
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = $1 AND datname = current_database()",
                APPLICATION_NAME,
            )
            assert killed == 2
            assert await _listening(admin) == 2  # both back
        finally:
            await admin.close()
        body = {"prompts": ["again"], "models": ["steady"]}
        response = await client.post("/compare", json=body, params={"wait": 30})
        assert response.json()["status"] == "succeeded"
        assert await _started_after_accepted(db_url, response.json()["id"]) < 1.0
