"""`llm-compare serve --workers N`: N service processes on one port, each with its dispatcher,
sharing the database, and the embedded one started once for all."""

import asyncio
import os
import signal
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.dispatch.notifications import APPLICATION_NAME
from tests.support.catalogues import echo_catalogue
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.slow


async def _listeners(db_url: str, wanted: int) -> int:
    """Service processes connected to the database (each has one listener), once `wanted` are."""
    connection = await asyncpg.connect(db_url)
    try:
        for _ in range(200):
            count: int = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
                " AND datname = current_database()",
                APPLICATION_NAME,
            )
            if count == wanted:
                break
            await asyncio.sleep(0.05)
        return count
    finally:
        await connection.close()


def _two_workers(tmp_path: Path, **database: str) -> dict[str, str]:
    """The environment of `serve` with two workers, an echo model and `database` (its URL,
    or the embedded one's data directory)."""
    catalogue = echo_catalogue(tmp_path, steady={"concurrency": 4, "options": {"delay_ms": 20}})
    return {
        "LLM_COMPARE_CATALOGUE_FILE": str(catalogue),
        "LLM_COMPARE_WORKERS": "2",
        "LLM_COMPARE_SHUTDOWN_GRACE_S": "2",
        **database,
    }


async def _compare(url: str) -> dict[str, object]:
    body = {"prompts": [f"p{i}" for i in range(40)], "models": ["steady"]}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        response = await client.post("/compare", json=body, params={"wait": 30})
        assert response.status_code == 200, response.text
        run: dict[str, object] = response.json()
        return run


async def test_two_workers_share_the_port_and_the_database(tmp_path: Path, db_url: str) -> None:
    env = _two_workers(tmp_path, DATABASE_URL=db_url)
    with ServiceProcess(env, tmp_path / "service.log") as service:
        assert await _listeners(db_url, 2) == 2
        assert (await _compare(service.url))["status"] == "succeeded"
        assert await asyncio.to_thread(service.stop) in (0, -signal.SIGTERM)
    assert await _listeners(db_url, 0) == 0


async def test_workers_share_one_embedded_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _two_workers(tmp_path, LLM_COMPARE_DATA_DIR=str(data))
    with ServiceProcess(env, tmp_path / "service.log") as service:
        assert (await _compare(service.url))["status"] == "succeeded"
        assert await asyncio.to_thread(service.stop) in (0, -signal.SIGTERM)
    assert not (data / "pgdata" / "postmaster.pid").exists()  # stopped once, by the parent


async def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path, db_url: str) -> None:
    """SIGKILL reaches only the supervisor, which cannot pass it on: its workers see they
    were orphaned and stop on their own, instead of serving and dispatching on."""
    env = _two_workers(tmp_path, DATABASE_URL=db_url)
    with ServiceProcess(env, tmp_path / "service.log") as service:
        assert service.process is not None
        assert await _listeners(db_url, 2) == 2
        os.kill(service.process.pid, signal.SIGKILL)
        assert await _listeners(db_url, 0) == 0
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{service.url}/healthz", timeout=2)
