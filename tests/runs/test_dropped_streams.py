"""Progress streams that clients drop must never stop the service (the hardening issue's
critical defect): hundreds of `GET /runs/{id}/events` opened and dropped during a run, while
`?wait=` callers wait, and the run still finishes, `?wait=` still answers, and SIGTERM still
ends the process."""

import asyncio
import json
import signal
from pathlib import Path

import httpx
import pytest

from tests.support.service_process import ServiceProcess

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

ROUNDS, STREAMS_PER_ROUND = 15, 20


async def _open_and_drop(client: httpx.AsyncClient, run_id: str) -> int:
    """Open the progress stream, read two events (or the end), then disconnect."""
    events = 0
    async with client.stream("GET", f"/runs/{run_id}/events") as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                events += 1
                if events == 2 or line == "event: end":
                    break
    return events


async def _wait_for(client: httpx.AsyncClient, run_id: str) -> dict[str, object]:
    response = await client.get(f"/runs/{run_id}", params={"wait": 60, "prompt_limit": 1})
    assert response.status_code == 200
    result: dict[str, object] = response.json()
    return result


async def test_dropped_progress_streams_do_not_wedge_the_service(
    tmp_path: Path, db_url: str
) -> None:
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(
        json.dumps(
            {
                "models": [
                    {"name": "steady", "adapter": "echo", "upstream": "echo",
                     "concurrency": 2, "options": {"delay_ms": 40}},
                ]
            }
        )
    )  # fmt: skip
    env = {
        "DATABASE_URL": db_url,
        "LLM_COMPARE_CATALOGUE_FILE": str(catalogue),
        "LLM_COMPARE_MIGRATE_ON_START": "false",
        "LLM_COMPARE_POLL_INTERVAL_S": "0.1",
        "LLM_COMPARE_SHUTDOWN_GRACE_S": "3",
    }
    body = {"prompts": [f"prompt {i}" for i in range(300)], "models": ["steady"]}
    with ServiceProcess(env, tmp_path / "service.log") as service:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        # A wedged service hangs rather than fails: bound the whole exchange.
        async with (
            asyncio.timeout(120),
            httpx.AsyncClient(base_url=service.url, timeout=90, limits=limits) as client,
        ):
            run_id = (await client.post("/compare", json=body)).json()["id"]
            waiters = [asyncio.create_task(_wait_for(client, run_id)) for _ in range(10)]
            for _ in range(ROUNDS):
                await asyncio.gather(
                    *(_open_and_drop(client, run_id) for _ in range(STREAMS_PER_ROUND))
                )
            finished = await asyncio.gather(*waiters)
            assert {run["status"] for run in finished} == {"succeeded"}

            # The service still accepts, waits, cancels and answers readiness.
            again = await client.post(
                "/compare", params={"wait": 30}, json={"prompts": ["x"], "models": ["steady"]}
            )
            assert again.status_code == 200
            assert again.json()["status"] == "succeeded"
            slow = (await client.post("/compare", json=body)).json()["id"]
            cancelled = await client.post(f"/runs/{slow}/cancel", json={})
            assert cancelled.status_code in (200, 202)
            assert (await _wait_for(client, slow))["status"] == "cancelled"
            assert (await client.get("/readyz")).status_code == 200

        # uvicorn re-raises the signal once it has shut down cleanly; the watchdog exits with 1.
        assert service.stop(timeout=3 + 10) == -signal.SIGTERM
