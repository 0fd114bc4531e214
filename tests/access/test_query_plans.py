"""What every request with a key reads (its key, the project of the run it names) and a
project's run list read what they return and little more, with no planner statistics (the
tables never analyzed), as custom plans and as the generic plan asyncpg's cached statements
switch to."""

import uuid

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.access import repository as access_repo
from app.access import tokens
from app.db.engine import create_engine
from app.db.tables import DEFAULT_PROJECT_ID
from app.runs.repository import RunFilters, runs_query
from tests.support.query_plans import PLAN_MODES, PlanMode, explain, only, statements_sent

OTHER_RUNS, OTHER_KEYS = 3000, 3000
SMALL = uuid.UUID(int=0x5)
SMALL_RUNS = 500
PAGE = 50


async def _fill(db_url: str) -> None:
    connection = await asyncpg.connect(db_url)
    try:
        await connection.execute(f"INSERT INTO projects (id, name) VALUES ('{SMALL}', 'small')")
        run = (
            "INSERT INTO runs (id, project_id, status, params, contenders, models, prompt_count)"
            " SELECT gen_random_uuid(), {project}, 'succeeded', '{{}}', '[]', ARRAY['echo'], 1"
            " FROM generate_series(1, {count})"
        )
        await connection.execute(run.format(project=f"'{DEFAULT_PROJECT_ID}'", count=OTHER_RUNS))
        await connection.execute(run.format(project=f"'{SMALL}'", count=SMALL_RUNS))
        await connection.execute(
            "INSERT INTO api_keys (id, project_id, name, prefix, secret_hash, scopes)"
            f" SELECT gen_random_uuid(), '{DEFAULT_PROJECT_ID}', 'k' || i, 'lc_' || i,"
            f" md5(i::text), '{{read}}' FROM generate_series(1, {OTHER_KEYS}) i"
        )
    finally:
        await connection.close()


@pytest.mark.parametrize("mode", PLAN_MODES)
async def test_a_requests_checks_and_a_projects_list_read_little(
    db_url: str, mode: PlanMode
) -> None:
    await _fill(db_url)
    engine = create_engine(db_url, pool_size=1)
    some_run = uuid.uuid4()

    async def work(connection: AsyncConnection) -> None:
        await access_repo.live_key(connection, tokens.digest("lc_nobody"))
        await access_repo.run_project(connection, some_run)
        await connection.execute(runs_query(RunFilters(project_id=SMALL), PAGE, None))

    try:
        sent = await statements_sent(engine, work)
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(db_url)
    try:
        key = await explain(connection, only(sent, "secret_hash"), mode)
        owner = await explain(connection, only(sent, "SELECT runs.project_id"), mode)
        listed = await explain(connection, only(sent, "ORDER BY runs.created_at DESC"), mode)
    finally:
        await connection.close()
    assert key.rows_read("api_keys") <= 1, key
    assert owner.rows_read("runs") <= 1, owner
    assert listed.rows_read("runs") <= PAGE, listed
    assert "Sort" not in listed.node_types(), listed
