"""The queue's own promises, checked directly against PostgreSQL."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db.engine import create_engine
from app.dispatch import queue
from tests.support.app import serve


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url, pool_size=4)
    yield engine
    await engine.dispose()


async def _queue_run(make_settings: Callable[..., Settings], prompts: int) -> str:
    """Accept a run through the API of a process that does not dispatch."""
    async with serve(make_settings(dispatcher_enabled=False)) as client:
        body = {"prompts": [f"p{i}" for i in range(prompts)], "models": ["echo"]}
        run_id: str = (await client.post("/compare", json=body)).json()["id"]
    return run_id


async def _run_status(make_settings: Callable[..., Settings], run_id: str) -> httpx.Response:
    async with serve(make_settings(dispatcher_enabled=False)) as client:
        return await client.get(f"/runs/{run_id}")


async def _claim_one_and_let_the_lease_lapse(engine: AsyncEngine) -> queue.Job:
    """A worker that claims a pair and dies: its lease runs out without renewal."""
    async with engine.begin() as connection:
        (job,) = await queue.claim(connection, "echo", 10, lease_s=0.01)
    await asyncio.sleep(0.05)
    return job


async def test_concurrent_claims_never_take_the_same_pair(
    engine: AsyncEngine, make_settings: Callable[..., Settings]
) -> None:
    await _queue_run(make_settings, prompts=200)

    async def claimer() -> list[int]:
        taken: list[int] = []
        while True:
            async with engine.begin() as connection:
                jobs = await queue.claim(connection, "echo", 7, lease_s=60)
            if not jobs:
                return taken
            taken += [job.id for job in jobs]

    results = await asyncio.gather(*(claimer() for _ in range(8)))
    everything = [pair for taken in results for pair in taken]
    assert len(everything) == 200
    assert len(set(everything)) == 200


async def test_a_pair_whose_worker_keeps_dying_fails_and_ends_its_run(
    engine: AsyncEngine, make_settings: Callable[..., Settings]
) -> None:
    run_id = await _queue_run(make_settings, prompts=1)
    for _ in range(2):
        job = await _claim_one_and_let_the_lease_lapse(engine)
        async with engine.begin() as connection:
            failed = await queue.requeue_expired(connection, max_lost_leases=3)
        assert failed == []  # back in the queue
        assert job.run_id == uuid.UUID(run_id)
    await _claim_one_and_let_the_lease_lapse(engine)
    async with engine.begin() as connection:
        failed = await queue.requeue_expired(connection, max_lost_leases=3)
        ended = await queue.finish_runs(connection, failed)
    assert ended == [uuid.UUID(run_id)]
    run = (await _run_status(make_settings, run_id)).json()
    assert run["status"] == "failed"
    answer = run["prompts"][0]["responses"]["echo"]
    assert answer["status"] == "failed"
    assert "abandoned" in answer["error"]


async def test_a_stale_worker_cannot_overwrite_the_answer_of_the_one_that_took_over(
    engine: AsyncEngine, make_settings: Callable[..., Settings]
) -> None:
    run_id = await _queue_run(make_settings, prompts=1)
    stale = await _claim_one_and_let_the_lease_lapse(engine)
    async with engine.begin() as connection:
        await queue.requeue_expired(connection, max_lost_leases=3)
    async with engine.begin() as connection:
        (fresh,) = await queue.claim(connection, "echo", 1, lease_s=60)
    assert stale.id == fresh.id
    async with engine.begin() as connection:
        await queue.record(
            connection,
            [
                queue.Outcome(fresh.id, fresh.run_id, fresh.lease_token, "succeeded", output="new"),
                queue.Outcome(stale.id, stale.run_id, stale.lease_token, "succeeded", output="old"),
            ],
        )
    run = (await _run_status(make_settings, run_id)).json()
    assert run["prompts"][0]["responses"]["echo"]["output"] == "new"


async def test_a_hundred_cancels_racing_claims_all_succeed(
    engine: AsyncEngine, make_settings: Callable[..., Settings]
) -> None:
    """Claims lock pairs then their run; cancels must take locks in the same order, or some
    fail with `deadlock detected` and are lost."""
    async with serve(make_settings(dispatcher_enabled=False)) as client:
        # Small runs, so that most claims take a run's first pairs and mark the run running.
        body = {"prompts": ["p0", "p1"], "models": ["echo"]}
        run_ids = [(await client.post("/compare", json=body)).json()["id"] for _ in range(100)]
        stop = asyncio.Event()

        async def claimer() -> None:
            while not stop.is_set():
                async with engine.begin() as connection:
                    await queue.claim(connection, "echo", 5, lease_s=60)

        async def cancel(run_id: str) -> int:
            return (await client.post(f"/runs/{run_id}/cancel", json={})).status_code

        claimers = [asyncio.create_task(claimer()) for _ in range(3)]
        try:
            codes = await asyncio.gather(*(cancel(run_id) for run_id in run_ids))
        finally:
            stop.set()
            await asyncio.gather(*claimers)
        assert set(codes) <= {200, 202}, codes
        for run_id in run_ids:
            run = (await client.get(f"/runs/{run_id}")).json()
            assert run["counts"]["queued"] == 0
