"""The queue's own promises, checked directly against PostgreSQL."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import queue
from app.db.engine import create_engine
from tests.conftest import serve


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


async def test_a_claim_does_not_wait_for_a_run_being_cancelled(
    engine: AsyncEngine, make_settings: Callable[..., Settings]
) -> None:
    """Cancel locks the run, then its queued pairs; a claim holding some of those pairs must
    not then wait for the run, or the two deadlock and the cancel fails."""
    run_id = uuid.UUID(await _queue_run(make_settings, prompts=20))
    async with engine.connect() as cancelling, engine.connect() as claiming:
        await cancelling.begin()
        assert await queue.lock_run(cancelling, run_id) == "queued"
        await claiming.begin()
        await claiming.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
        jobs = await queue.claim(claiming, "echo", 5, lease_s=60)
        await claiming.commit()
        assert len(jobs) == 5
        assert await queue.cancel(cancelling, run_id) == 15
        await cancelling.commit()
    run = (await _run_status(make_settings, str(run_id))).json()
    assert run["counts"]["cancelled"] == 15
    assert run["counts"]["running"] == 5
