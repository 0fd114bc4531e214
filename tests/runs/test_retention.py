"""Retention: finished runs created before the cutoff are deleted with their prompts and
answers, in batches, by one process at a time; runs still going and newer runs stay."""

import asyncio
from collections.abc import Callable

import asyncpg
import httpx

from app.config import Settings
from app.db.engine import create_engine
from app.runs.retention import RETENTION_LOCK_ID, cutoff, delete_expired_runs, sweep
from tests.support.app import serve

DAYS = 30


async def _finished_run(client: httpx.AsyncClient, name: str) -> str:
    body = {"prompts": ["a", "b"], "models": ["echo"], "name": name}
    accepted = await client.post("/compare", params={"wait": 20}, json=body)
    assert accepted.status_code == 200, accepted.text
    run_id: str = accepted.json()["id"]
    return run_id


async def _age(db_url: str, run_id: str, days: int, status: str | None = None) -> None:
    connection = await asyncpg.connect(db_url)
    try:
        await connection.execute(
            "UPDATE runs SET created_at = now() - make_interval(days => $2), "
            "status = coalesce($3, status) WHERE id = $1::uuid",
            run_id,
            days,
            status,
        )
    finally:
        await connection.close()


async def _rows(db_url: str, run_id: str) -> tuple[int, int, int]:
    connection = await asyncpg.connect(db_url)
    try:
        return (
            await connection.fetchval("SELECT count(*) FROM runs WHERE id = $1::uuid", run_id),
            await connection.fetchval(
                "SELECT count(*) FROM prompts WHERE run_id = $1::uuid", run_id
            ),
            await connection.fetchval(
                "SELECT count(*) FROM responses WHERE run_id = $1::uuid", run_id
            ),
        )
    finally:
        await connection.close()


async def test_only_finished_runs_past_the_cutoff_are_deleted(
    client: httpx.AsyncClient, db_url: str
) -> None:
    old = [await _finished_run(client, f"old {i}") for i in range(3)]
    going, recent, young = [await _finished_run(client, n) for n in ("going", "recent", "young")]
    for run_id in old:
        await _age(db_url, run_id, DAYS + 1)
    await _age(db_url, going, DAYS + 10, status="running")  # old, but not finished
    await _age(db_url, recent, DAYS - 1)
    engine = create_engine(db_url, pool_size=1)
    try:
        # Another process sweeping: this one leaves the work to it.
        holder = await asyncpg.connect(db_url)
        async with holder.transaction():
            await holder.execute("SELECT pg_advisory_xact_lock($1)", RETENTION_LOCK_ID)
            assert await delete_expired_runs(engine, cutoff(DAYS), batch_size=2) == 0
        await holder.close()
        assert await _rows(db_url, old[0]) == (1, 2, 2)

        assert await delete_expired_runs(engine, cutoff(DAYS), batch_size=2) == 3
    finally:
        await engine.dispose()
    for run_id in old:
        assert await _rows(db_url, run_id) == (0, 0, 0)
    for run_id in (going, recent, young):
        assert await _rows(db_url, run_id) == (1, 2, 2)


async def test_the_service_deletes_them_in_the_background(
    make_settings: Callable[..., Settings], db_url: str
) -> None:
    async with serve(make_settings()) as client:
        old, young = await _finished_run(client, "old"), await _finished_run(client, "young")
    await _age(db_url, old, DAYS + 1)
    async with serve(make_settings(retention_days=DAYS, retention_interval_s=0.05)) as client:
        for _ in range(200):  # bounded: the sweep starts with the service
            if (await client.get(f"/runs/{old}")).status_code == 404:
                break
            await asyncio.sleep(0.05)
        assert (await client.get(f"/runs/{old}")).status_code == 404
        assert (await client.get(f"/runs/{young}")).status_code == 200


async def test_a_project_keeps_its_runs_as_long_as_it_says(
    client: httpx.AsyncClient, db_url: str
) -> None:
    made = await client.post("/projects", json={"name": "brief", "retention_days": 7})
    assert made.status_code == 201, made.text
    assert made.json()["retention_days"] == 7
    ours, theirs, default = [await _finished_run(client, n) for n in ("ours", "theirs", "x")]
    for run_id in (ours, theirs, default):
        await _age(db_url, run_id, 10)  # past the project's 7 days, within the service's 30
    connection = await asyncpg.connect(db_url)
    try:
        await connection.execute(
            "UPDATE runs SET project_id = $1::uuid WHERE id = $2::uuid", made.json()["id"], ours
        )
    finally:
        await connection.close()
    engine = create_engine(db_url, pool_size=1)
    try:
        assert await sweep(engine, DAYS, batch_size=10) == 1
        assert await sweep(engine, None, batch_size=10) == 0  # the service keeps the rest
        assert await sweep(engine, 9, batch_size=10) == 2  # now past the service's too
    finally:
        await engine.dispose()
    assert await _rows(db_url, ours) == (0, 0, 0)
    assert await _rows(db_url, theirs) == (0, 0, 0)
