"""The durability promises, with real service processes on one real database.

- A service killed with SIGKILL mid-run, then restarted: the run completes, every pair once;
  only the pairs the killed process held are asked again.
- Two service processes on one database share a run without doing any pair twice.
- With no DATABASE_URL, the service runs on its embedded PostgreSQL.
"""

import asyncio
import json
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.fakes.openai_server import FakeOpenAI
from tests.support.service_process import ServiceProcess

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

MODELS = ["fake-a", "fake-b"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(latency_ms=100) as server:
        yield server


def _catalogue(tmp_path: Path, fake: FakeOpenAI, concurrency: int) -> Path:
    path = tmp_path / "catalogue.json"
    models = [
        {
            "name": name,
            "adapter": "openai",
            "upstream": name,
            "template": "chat",
            "base_url": f"{fake.url}/v1",
            "api_key": "sk-fake",
            "concurrency": concurrency,
        }
        for name in MODELS
    ]
    path.write_text(json.dumps({"models": models}))
    return path


def _env(db_url: str, catalogue: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url,
        "LLM_COMPARE_CATALOGUE_FILE": str(catalogue),
        "LLM_COMPARE_MIGRATE_ON_START": "false",
        "LLM_COMPARE_LEASE_S": "1.5",
        "LLM_COMPARE_POLL_INTERVAL_S": "0.1",
    }


async def _pair_rows(db_url: str, run_id: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(db_url)
    try:
        return await connection.fetch(
            "SELECT r.prompt_position, r.contender_index, r.status, r.output, r.attempts, p.text"
            " FROM responses r JOIN prompts p"
            " ON p.run_id = r.run_id AND p.position = r.prompt_position"
            " WHERE r.run_id = $1",
            uuid.UUID(run_id),
        )
    finally:
        await connection.close()


def _asked(fake: FakeOpenAI) -> Counter[tuple[str, str]]:
    """How often each (model, prompt) pair reached the provider."""
    return Counter((r.body["model"], r.body["messages"][-1]["content"]) for r in fake.requests)


async def _submit(url: str, prompts: list[str]) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/compare", json={"prompts": prompts, "models": MODELS})
        assert response.status_code == 202, response.text
        run_id: str = response.json()["id"]
        return run_id


async def _counts(url: str, run_id: str, wait: float = 0) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=wait + 10) as client:
        response = await client.get(f"/runs/{run_id}", params={"wait": wait, "prompt_limit": 1})
        body: dict[str, Any] = response.json()
        return body


async def test_sigkill_mid_run_then_restart_completes_every_pair_once(
    tmp_path: Path, db_url: str, fake: FakeOpenAI
) -> None:
    prompts = [f"prompt number {i}" for i in range(40)]
    env = _env(db_url.replace("+asyncpg", ""), _catalogue(tmp_path, fake, concurrency=4))
    first = ServiceProcess(env, tmp_path / "first.log")
    await asyncio.to_thread(first.start)
    try:
        run_id = await _submit(first.url, prompts)
        while (await _counts(first.url, run_id))["counts"]["succeeded"] < 10:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(first.kill)
    finally:
        first.__exit__(None, None, None)
    rows = await _pair_rows(db_url.replace("+asyncpg", ""), run_id)
    assert 10 <= sum(r["status"] == "succeeded" for r in rows) < 80  # killed mid-run
    asked_before_restart = sum(_asked(fake).values())
    held_at_kill = {
        (MODELS[row["contender_index"]], row["text"]) for row in rows if row["status"] == "running"
    }

    with ServiceProcess(env, tmp_path / "second.log") as second:
        run = await _counts(second.url, run_id, wait=60)
    assert run["status"] == "succeeded", run
    rows = await _pair_rows(db_url.replace("+asyncpg", ""), run_id)
    assert len(rows) == 80
    assert len({(r["prompt_position"], r["contender_index"]) for r in rows}) == 80
    for row in rows:
        assert row["status"] == "succeeded"
        assert row["text"] in row["output"]  # each answer belongs to its own prompt
    asked = _asked(fake)
    assert set(asked) == {(m, p) for m in MODELS for p in prompts}
    # Asked again: only pairs the killed process held (in flight, or answered but not yet
    # written, which SIGKILL loses), never one with a stored answer, and once at most.
    asked_again = {pair for pair, times in asked.items() if times > 1}
    assert asked_again <= held_at_kill
    assert max(asked.values()) <= 2
    assert asked_before_restart < sum(asked.values())
    # Calls are counted when they are made, so the killed process's calls are not lost with
    # it; a pair it claimed without calling may count one more than were made.
    for row in rows:
        made = asked[(MODELS[row["contender_index"]], row["text"])]
        assert made <= row["attempts"] <= made + 1, (row, made)


async def test_two_processes_share_a_run_without_doing_a_pair_twice(
    tmp_path: Path, db_url: str, fake: FakeOpenAI
) -> None:
    fake.latency_ms = 50
    prompts = [f"shared prompt {i}" for i in range(60)]
    env = _env(db_url.replace("+asyncpg", ""), _catalogue(tmp_path, fake, concurrency=3))
    with ServiceProcess(env, tmp_path / "a.log") as a, ServiceProcess(env, tmp_path / "b.log") as b:
        run_id = await _submit(a.url, prompts)
        run = await _counts(b.url, run_id, wait=60)
        assert run["status"] == "succeeded", run
        async with httpx.AsyncClient() as client:
            served = [
                _ok_calls((await client.get(f"{url}/metrics")).text) for url in (a.url, b.url)
            ]
    asked = _asked(fake)
    assert set(asked) == {(m, p) for m in MODELS for p in prompts}
    assert max(asked.values()) == 1, [k for k, n in asked.items() if n > 1]
    assert sum(served) == 120
    assert min(served) > 0, served  # both processes took part


def _ok_calls(metrics: str) -> int:
    total = 0
    for line in metrics.splitlines():
        if line.startswith("llm_compare_provider_calls_total{") and 'outcome="ok"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


async def test_embedded_default_needs_no_database_url(tmp_path: Path) -> None:
    env = {"LLM_COMPARE_DATA_DIR": str(tmp_path / "data")}
    with ServiceProcess(env, tmp_path / "embedded.log") as service:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            response = await client.post(
                "/compare", params={"wait": 20}, json={"prompts": ["hi"], "models": ["echo"]}
            )
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "succeeded"
            assert (await client.get("/readyz")).status_code == 200
        # uvicorn re-raises SIGTERM after its graceful shutdown, hence -15 rather than 0.
        assert await asyncio.to_thread(service.stop) in (0, -signal.SIGTERM)
    # The clean stop stopped the embedded server too.
    assert not (tmp_path / "data" / "pgdata" / "postmaster.pid").exists()
    # A second start finds its data again.
    with ServiceProcess(env, tmp_path / "embedded.log") as service:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            assert len((await client.get("/runs")).json()["items"]) == 1
        await asyncio.to_thread(service.stop)
    assert not (tmp_path / "data" / "pgdata" / "postmaster.pid").exists()
