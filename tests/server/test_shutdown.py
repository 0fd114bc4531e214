"""SIGTERM ends the service within its shutdown grace (plus a fixed margin), even when the
database stops answering its writes."""

import asyncio
import json
import signal
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.server.shutdown import SHUTDOWN_MARGIN_S
from tests.support.service_process import ServiceProcess

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

GRACE_S = 1


async def test_sigterm_ends_the_process_while_its_writes_are_stuck(
    tmp_path: Path, db_url: str
) -> None:
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(
        json.dumps({"models": [{"name": "steady", "adapter": "echo", "upstream": "echo",
                                "concurrency": 4, "options": {"delay_ms": 100}}]})
    )  # fmt: skip
    env = {
        "DATABASE_URL": db_url,
        "LLM_COMPARE_CATALOGUE_FILE": str(catalogue),
        "LLM_COMPARE_MIGRATE_ON_START": "false",
        "LLM_COMPARE_SHUTDOWN_GRACE_S": str(GRACE_S),
    }
    admin = await asyncpg.connect(db_url)
    try:
        with ServiceProcess(env, tmp_path / "service.log") as service:
            body = {"prompts": [f"p{i}" for i in range(100)], "models": ["steady"]}
            run_id = httpx.post(f"{service.url}/compare", json=body).json()["id"]
            query = "SELECT count(*) FROM responses WHERE run_id = $1 AND status = 'running'"
            while not await admin.fetchval(query, uuid.UUID(run_id)):
                await asyncio.sleep(0.01)
            async with admin.transaction():
                # Every write of this run's answers now waits for these locks, for good.
                await admin.execute(
                    "SELECT id FROM responses WHERE run_id = $1 FOR UPDATE", uuid.UUID(run_id)
                )
                stopped = asyncio.to_thread(service.stop, GRACE_S + SHUTDOWN_MARGIN_S)
                code = await stopped
            # The bounded stop gives up on the stuck writes and exits cleanly (uvicorn then
            # re-raises the signal); the watchdog, a last resort, would have exited with 1.
            assert code == -signal.SIGTERM
    finally:
        await admin.close()
