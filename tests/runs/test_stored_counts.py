"""Each run's counts stored on it (kept by triggers on `responses`) stay equal to a fresh count
of its pairs through every path that adds, changes or removes pairs: accept, claim, record,
release, lease loss, retry, cancel, the cache, budgets, delete, retention, and writers racing."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.db.engine import create_engine, in_transaction
from app.db.tables import TALLIED, RunRow
from app.dispatch import queue
from app.dispatch.queue import Outcome
from app.runs import repository as runs_repo
from app.runs.retention import delete_expired_runs
from tests.support.app import serve
from tests.support.catalogues import OUTPUT_PER_MTOK, priced_catalogue
from tests.support.fakes.openai_server import FakeOpenAI

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
_FRESH = ", ".join(f"count(*) FILTER (WHERE status = '{s}')" for s in STATUSES)
COUNTS = [f"pairs_{s}" for s in STATUSES] + ["pairs_cached"]
# What is folded into the run's row plus its tallies, against a fresh count of its pairs.
DRIFT = f"""
SELECT r.id, ARRAY[{", ".join(f"r.{c} + coalesce(t.{c}, 0)" for c in COUNTS)}] AS stored,
       coalesce(c.fresh, ARRAY[0, 0, 0, 0, 0, 0]) AS fresh
  FROM runs r LEFT JOIN (
       SELECT run_id, ARRAY[{_FRESH}, count(cached_from)] AS fresh FROM responses GROUP BY run_id
  ) c ON c.run_id = r.id LEFT JOIN (
       SELECT run_id, {", ".join(f"sum({c}) AS {c}" for c in COUNTS)} FROM run_tallies
        GROUP BY run_id
  ) t ON t.run_id = r.id
"""


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url, pool_size=4)
    yield engine
    await engine.dispose()


async def _counts(db_url: str) -> dict[uuid.UUID, list[int]]:
    """Every run's stored counts (queued, running, succeeded, failed, cancelled, cached),
    asserted equal to a fresh count of its pairs."""
    connection = await asyncpg.connect(db_url)
    try:
        rows = await connection.fetch(DRIFT)
    finally:
        await connection.close()
    assert [(r["id"], r["stored"]) for r in rows] == [(r["id"], r["fresh"]) for r in rows]
    return {row["id"]: list(row["stored"]) for row in rows}


async def _accept(client: httpx.AsyncClient, body: dict[str, Any]) -> uuid.UUID:
    accepted = await client.post("/compare", json=body)
    assert accepted.status_code == 202, accepted.text
    return uuid.UUID(accepted.json()["id"])


async def test_the_queue_and_the_changes_of_a_run_keep_its_counts(
    engine: AsyncEngine, make_settings: Callable[..., Settings], db_url: str
) -> None:
    async with serve(make_settings(dispatcher_enabled=False)) as client:
        body = {"prompts": [f"p{i}" for i in range(6)], "models": ["echo"]}
        run = await _accept(client, body)
        assert (await _counts(db_url))[run] == [6, 0, 0, 0, 0, 0]
        # The summaries read what is stored: POST /compare's own and GET /runs.
        listed = (await client.get("/runs")).json()["items"][0]["counts"]
        assert (listed["queued"], listed["total"]) == (6, 6)

        async with engine.begin() as c:
            jobs = await queue.claim(c, "echo", 4, lease_s=60)
            await queue.renew(c, [jobs[0].lease_token], lease_s=60)  # moves no count
        assert (await _counts(db_url))[run] == [2, 4, 0, 0, 0, 0]

        async with engine.begin() as c:
            await queue.record(
                c,
                [
                    Outcome(jobs[0].id, run, jobs[0].lease_token, "succeeded", output="a"),
                    Outcome(jobs[1].id, run, jobs[1].lease_token, "failed", error="no"),
                ],
            )
            await queue.release(c, [jobs[0].lease_token])  # the other two back in the queue
        assert (await _counts(db_url))[run] == [4, 0, 1, 1, 0, 0]

        async with engine.begin() as c:
            await queue.claim(c, "echo", 1, lease_s=0.01)
        await asyncio.sleep(0.05)
        async with engine.begin() as c:  # its worker died: the pair fails
            assert await queue.requeue_expired(c, max_lost_leases=1) == [run]
        assert (await _counts(db_url))[run] == [3, 0, 1, 2, 0, 0]

        assert await in_transaction(engine, lambda c: runs_repo.retry_failed(c, run)) == 2
        assert (await _counts(db_url))[run] == [5, 0, 1, 0, 0, 0]
        assert (
            await client.post(f"/runs/{run}/cancel", headers={"X-Requested-With": "t"})
        ).is_success
        assert (await _counts(db_url))[run] == [0, 0, 1, 0, 5, 0]
        summary = (await client.get(f"/runs/{run}")).json()
        assert (summary["status"], summary["counts"]["cancelled"]) == ("cancelled", 5)

        assert (await client.delete(f"/runs/{run}")).status_code == 204
        assert run not in await _counts(db_url)


async def test_the_cache_budgets_and_retention_keep_the_counts(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    fake_openai: FakeOpenAI,
    engine: AsyncEngine,
    db_url: str,
) -> None:
    settings = make_settings(catalogue_file=priced_catalogue(tmp_path, fake_openai.url))
    prompts = [f"prompt {i}" for i in range(8)]
    deterministic = {"prompts": prompts, "models": ["priced"], "params": {"temperature": 0}}
    worst = 4 * OUTPUT_PER_MTOK / 1e6  # a pair cut at 4 tokens, at its worst
    async with serve(settings) as client:
        waited = {"wait": 60}
        first = (await client.post("/compare", params=waited, json=deterministic)).json()
        again = (await client.post("/compare", params=waited, json=deterministic)).json()
        budgeted = {
            "prompts": [f"other {i}" for i in range(8)],
            "models": ["priced"],
            "params": {"max_new_tokens": 4},
            "budget_usd": 2.5 * worst,
        }
        stopped = (await client.post("/compare", params=waited, json=budgeted)).json()
    counts = await _counts(db_url)
    assert counts[uuid.UUID(first["id"])] == [0, 0, 8, 0, 0, 0]
    assert counts[uuid.UUID(again["id"])] == [0, 0, 8, 0, 0, 8]  # all from the cache
    assert again["counts"]["cached"] == 8
    assert stopped["status"] == "partial"
    done, cancelled = counts[uuid.UUID(stopped["id"])][2], counts[uuid.UUID(stopped["id"])][4]
    assert (done + cancelled, cancelled > 0) == (8, True)  # the budget cancelled the rest

    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert await delete_expired_runs(engine, tomorrow, batch_size=2) == 3
    assert await _counts(db_url) == {}


async def test_writers_racing_on_one_run_keep_its_counts(
    engine: AsyncEngine, make_settings: Callable[..., Settings], db_url: str
) -> None:
    async with serve(make_settings(dispatcher_enabled=False)) as client:
        body = {"prompts": [f"p{i}" for i in range(300)], "models": ["echo"]}
        run = await _accept(client, body)

    async def worker() -> None:
        """Claims and answers as a dispatcher does, in small batches: every one locks the run."""
        while True:
            async with engine.begin() as c:
                jobs = await queue.claim(c, "echo", 7, lease_s=60)
            if not jobs:
                return
            outcomes = [
                Outcome(j.id, j.run_id, j.lease_token, "succeeded", output="x") for j in jobs
            ]
            await in_transaction(engine, partial(_record_and_finish, outcomes=outcomes))

    await asyncio.gather(*(worker() for _ in range(4)))
    assert (await _counts(db_url))[run] == [0, 0, 300, 0, 0, 0]


async def _record_and_finish(connection: AsyncConnection, outcomes: list[Outcome]) -> None:
    await queue.record(connection, outcomes)
    await queue.finish_runs(connection, list({o.run_id for o in outcomes}))


async def _shard(connection: AsyncConnection) -> int:
    async with connection.begin():
        return int(await connection.scalar(text("SELECT pg_backend_pid() % 16")) or 0)


async def test_two_writers_of_one_run_do_not_wait_for_each_other(
    engine: AsyncEngine, make_settings: Callable[..., Settings], db_url: str
) -> None:
    """Each adds to its own tally of the run, not to the run's row, so neither holds a lock
    the other needs: the second claims and answers while the first is still uncommitted."""
    async with serve(make_settings(dispatcher_enabled=False)) as client:
        run = await _accept(client, {"prompts": ["a", "b", "c", "d", "e"], "models": ["echo"]})
    async with engine.begin() as c:  # the run starts (its first claim locks it, to say so)
        started = await queue.claim(c, "echo", 1, lease_s=60)
        await queue.record(c, [Outcome(started[0].id, run, started[0].lease_token, "cancelled")])

    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(engine.connect())
        second = await stack.enter_async_context(engine.connect())
        while await _shard(second) == await _shard(first):  # two shards, as is most likely
            second = await stack.enter_async_context(engine.connect())
        async with first.begin():
            held = await queue.claim(first, "echo", 2, lease_s=60)
            async with second.begin():
                await second.execute(text("SET LOCAL lock_timeout = '2s'"))
                jobs = await queue.claim(second, "echo", 2, lease_s=60)
                await queue.record(
                    second,
                    [Outcome(j.id, run, j.lease_token, "succeeded", output="x") for j in jobs],
                )
            await queue.record(
                first, [Outcome(j.id, run, j.lease_token, "failed", error="no") for j in held]
            )
            assert await queue.finish_runs(first, [run]) == [run]
    assert (await _counts(db_url))[run] == [0, 0, 2, 2, 1, 0]
    async with engine.connect() as c:
        # Finishing folded the tallies into the run's row.
        assert await c.scalar(text(f"SELECT count(*) FROM run_tallies WHERE run_id = '{run}'")) == 0
        folded = await c.execute(
            text(f"SELECT pairs_succeeded, pairs_failed FROM runs WHERE id = '{run}'")
        )
        assert tuple(folded.one()) == (2, 2)
        # What the service reads: the folded part plus the tallies, as ints.
        tallied = await c.scalar(select(RunRow.tallied).where(RunRow.id == run))
        assert tallied is not None
        assert [type(n) for n in tallied] == [int] * len(TALLIED)
        assert dict(zip(TALLIED, tallied, strict=True))["succeeded"] == 2
