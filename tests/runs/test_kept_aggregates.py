"""A finished run's per-contender aggregates are kept with the version of its answers they
read (app/runs/aggregates.py), used while that is still the run's, and computed again once a
statement changes what they read."""

import json
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from app.config import Settings
from app.db.engine import create_engine, create_sessionmaker
from app.db.tables import RunRow
from app.runs import aggregates
from tests.support.runs import succeeded_run

BODY = {"prompts": ["Tell me how to train my dog to sit", "Who is the boss?"], "models": ["echo"]}


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """No kept pages (tests/runs/test_page_cache.py): each GET builds the page again."""
    return make_settings(page_cache_mb=0)


async def _version(db: asyncpg.Connection, run_id: str) -> int:
    version: int = await db.fetchval(
        "SELECT answers_version + (SELECT coalesce(sum(answers_version), 0) FROM run_tallies"
        " WHERE run_id = runs.id) FROM runs WHERE id = $1",
        uuid.UUID(run_id),
    )
    return version


async def _kept(db: asyncpg.Connection, run_id: str) -> tuple[int, list[dict[str, Any]]] | None:
    row = await db.fetchrow(
        "SELECT answers_version, rows FROM run_aggregates WHERE run_id = $1", uuid.UUID(run_id)
    )
    return None if row is None else (row["answers_version"], json.loads(row["rows"]))


async def _echo(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    run = (await client.get(f"/runs/{run_id}")).json()
    contender: dict[str, Any] = run["contenders"][0]
    return contender


async def test_kept_aggregates_serve_until_the_answers_change(
    client: httpx.AsyncClient, database: asyncpg.Connection
) -> None:
    run_id = await succeeded_run(client, BODY)
    fresh = await _echo(client, run_id)
    assert fresh["counts"]["succeeded"] == 2
    kept = await _kept(database, run_id)
    assert kept is not None
    assert kept[0] == await _version(database, run_id)

    # What is kept is what the page shows: altered in place, the page shows the alteration.
    rows = [{**row, "truncated": 7} for row in kept[1]]
    await database.execute(
        "UPDATE run_aggregates SET rows = $2::jsonb WHERE run_id = $1",
        uuid.UUID(run_id),
        json.dumps(rows),
    )
    assert (await _echo(client, run_id))["truncated"] == 7

    # A diagnosis rewrites flags and changes no status: the version moves all the same, and
    # the page reads the answers again (and keeps what it read).
    before = await _version(database, run_id)
    await database.execute(
        "UPDATE responses SET flags = ARRAY['refusal'] WHERE run_id = $1", uuid.UUID(run_id)
    )
    assert await _version(database, run_id) == before + 1
    again = await _echo(client, run_id)
    assert again["truncated"] == 0
    assert again["flags"]["refusal"] == 2
    assert (await _kept(database, run_id) or (0, []))[0] == before + 1


async def test_what_moves_a_runs_answers_version(
    client: httpx.AsyncClient, database: asyncpg.Connection
) -> None:
    run_id = await succeeded_run(client, BODY)
    run = uuid.UUID(run_id)
    version = await _version(database, run_id)

    # Leases renewed and calls counted change nothing the aggregates read.
    await database.execute(
        "UPDATE responses SET lease_expires_at = now(), attempts = attempts + 1 WHERE run_id = $1",
        run,
    )
    assert await _version(database, run_id) == version

    # A statement changing what they read moves it once, however many pairs it changes.
    for statement in (
        "UPDATE responses SET latency_ms = latency_ms + 1 WHERE run_id = $1",
        "UPDATE responses SET status = 'failed', error = 'x' WHERE run_id = $1 "
        "AND prompt_position = 0",
        "INSERT INTO responses (run_id, prompt_position, contender_index, sample, model, "
        "status, rendered_prompt) SELECT run_id, prompt_position, contender_index, 1, model, "
        "'cancelled', rendered_prompt FROM responses WHERE run_id = $1 AND prompt_position = 1",
        "DELETE FROM responses WHERE run_id = $1 AND sample = 1",
    ):
        await database.execute(statement, run)
        assert await _version(database, run_id) == version + 1, statement
        version += 1


async def test_a_running_runs_aggregates_are_not_kept(
    client: httpx.AsyncClient, database: asyncpg.Connection
) -> None:
    run_id = await succeeded_run(client, BODY)
    await database.execute("UPDATE runs SET status = 'running' WHERE id = $1", uuid.UUID(run_id))
    await database.execute("DELETE FROM run_aggregates")
    assert (await _echo(client, run_id))["counts"]["succeeded"] == 2
    assert await _kept(database, run_id) is None


async def test_aggregates_are_kept_under_the_version_read_before_computing_them(
    client: httpx.AsyncClient, database: asyncpg.Connection, db_url: str
) -> None:
    """A change committed between reading the run and computing its aggregates leaves them
    kept under the older version: stale-looking, so computed again, never stale and used."""
    run_id = await succeeded_run(client, BODY)
    await database.execute("DELETE FROM run_aggregates")
    engine = create_engine(db_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            run = await session.get(RunRow, uuid.UUID(run_id))
            assert run is not None
            read = run.answers_version
            await database.execute(
                "UPDATE responses SET flags = ARRAY['refusal'] WHERE run_id = $1",
                uuid.UUID(run_id),
            )
            rows = await aggregates.contender_rows(session, run)
    finally:
        await engine.dispose()
    assert rows[0]["flag_refusal"] == 2
    assert (await _kept(database, run_id) or (None, []))[0] == read
    assert await _version(database, run_id) == read + 1
    assert (await _echo(client, run_id))["flags"]["refusal"] == 2
    assert (await _kept(database, run_id) or (None, []))[0] == read + 1


async def test_a_page_is_read_where_aggregates_cannot_be_kept(
    client: httpx.AsyncClient, database: asyncpg.Connection, db_url: str
) -> None:
    """Keeping them only spares later reads: on a database that takes no writes (as a read
    replica), the page is read all the same."""
    run_id = await succeeded_run(client, BODY)
    await database.execute("DELETE FROM run_aggregates")
    engine = create_engine(db_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            await session.execute(text("SET TRANSACTION READ ONLY"))
            run = await session.get(RunRow, uuid.UUID(run_id))
            assert run is not None
            rows = await aggregates.contender_rows(session, run)
            assert rows[0]["n"] == 2
            assert (await session.scalar(text("SELECT count(*) FROM prompts"))) == 2
    finally:
        await engine.dispose()
    assert await _kept(database, run_id) is None
