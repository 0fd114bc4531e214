"""The next battle's slot and the making of slots keep plans that read what they need, with
planner statistics missing, stale or fresh, as custom and as generic plans: a run of 2,000
prompts x 16 contenders (240,000 slots) beside a small one, most slots voted on once, the
fewest-voted ones held by open battles."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_engine
from app.judging import repository
from tests.support.database import admin, database_url
from tests.support.query_plans import PLAN_MODES, PlanMode, explain, only, statements_sent

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

BIG = uuid.UUID(int=0xB1)
SMALL = uuid.UUID(int=0x5)
PROMPTS, CONTENDERS = 2000, 16
BUSY = 100  # open battles on the fewest-voted slots
RANGE = 50  # prompts whose slots one fill makes


async def _run(connection: asyncpg.Connection, run_id: uuid.UUID, prompts: int, n: int) -> None:
    contenders = ", ".join(
        f'{{"label": "c{i}", "model": "m", "template": "raw"}}' for i in range(n)
    )
    await connection.execute(
        "INSERT INTO runs (id, status, params, contenders, models, prompt_count, finished_at) "
        f"VALUES ($1, 'succeeded', '{{}}', '[{contenders}]', ARRAY['m'], $2, now())",
        run_id,
        prompts,
    )
    await connection.execute(
        "INSERT INTO prompts (run_id, position, text) SELECT $1, p, 'prompt ' || p "
        "FROM generate_series(0, $2 - 1) p",
        run_id,
        prompts,
    )
    await connection.execute(
        "INSERT INTO responses (run_id, prompt_position, contender_index, model, status, "
        "rendered_prompt, output, attempts, finished_at) SELECT $1, p, c, 'm', 'succeeded', "
        "'prompt ' || p, 'answer ' || c, 1, now() FROM generate_series(0, $2 - 1) p, "
        "generate_series(0, $3 - 1) c ORDER BY p, c",
        run_id,
        prompts,
        n,
    )


async def _slots(engine: AsyncEngine, run_id: uuid.UUID, prompts: int) -> None:
    for first in range(0, prompts, 500):
        async with engine.begin() as connection:
            await repository.fill_slots(connection, run_id, first, min(first + 500, prompts))


async def _fill(connection: asyncpg.Connection, engine: AsyncEngine, statistics: str) -> None:
    for table in ("runs", "prompts", "responses", "battle_slots"):
        await connection.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    await _run(connection, SMALL, 20, 3)
    await _slots(engine, SMALL, 20)
    if statistics == "stale":
        await connection.execute("ANALYZE")
    await _run(connection, BIG, PROMPTS, CONTENDERS)
    await _slots(engine, BIG, PROMPTS)
    # Most slots have a vote; the fewest-voted ones are all held by open battles.
    await connection.execute("UPDATE battle_slots SET votes = 1 WHERE random_key >= 0.001")
    await connection.execute(
        "UPDATE battle_slots SET busy_until = now() + interval '1 hour' WHERE id IN ("
        "SELECT id FROM battle_slots WHERE run_id = $1 ORDER BY votes, random_key LIMIT $2)",
        BIG,
        BUSY,
    )
    if statistics == "fresh":
        await connection.execute("ANALYZE")


@dataclass(frozen=True)
class Lab:
    engine: AsyncEngine
    connection: asyncpg.Connection


@pytest.fixture(scope="module", params=["none", "stale", "fresh"])
async def lab(request: pytest.FixtureRequest, template_database: str) -> AsyncIterator[Lab]:
    name = f"llmc_battles_{uuid.uuid4().hex[:12]}"
    await admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    connection = await asyncpg.connect(database_url(name))
    engine = create_engine(database_url(name), pool_size=1)
    try:
        await _fill(connection, engine, request.param)
        yield Lab(engine, connection)
    finally:
        await engine.dispose()
        await connection.close()
        await admin(f'DROP DATABASE "{name}" WITH (FORCE)')


async def test_the_lab_holds_what_it_says(lab: Lab) -> None:
    count = await lab.connection.fetchval(
        "SELECT count(*) FROM battle_slots WHERE run_id = $1", BIG
    )
    assert count == PROMPTS * CONTENDERS * (CONTENDERS - 1) // 2


@pytest.mark.parametrize("mode", PLAN_MODES)
@pytest.mark.parametrize("pair", [None, (3, 11)])
async def test_the_next_slot_is_found_past_the_open_battles_alone(
    lab: Lab, mode: PlanMode, pair: tuple[int, int] | None
) -> None:
    sent = await statements_sent(lab.engine, lambda c: repository.take_slot(c, BIG, pair))
    plan = await explain(lab.connection, only(sent, "FROM battle_slots"), mode)
    assert plan.root["Actual Rows"] == 1
    assert "Sort" not in plan.node_types(), plan
    # The open battles' slots, skipped, then the one taken: not the 240,000 of the run.
    assert plan.rows_read("battle_slots") <= BUSY + 1, plan


@pytest.mark.parametrize("mode", PLAN_MODES)
async def test_making_slots_reads_only_its_range_of_prompts(lab: Lab, mode: PlanMode) -> None:
    first = PROMPTS // 2
    sent = await statements_sent(
        lab.engine, lambda c: repository.fill_slots(c, BIG, first, first + RANGE)
    )
    plan = await explain(lab.connection, only(sent, "FROM responses"), mode)
    answers = RANGE * CONTENDERS
    assert plan.root["Actual Rows"] == answers
    assert plan.rows_read("responses") == answers, plan
    for node in plan.scans_of("responses"):
        bounds = node.get("Index Cond") or node.get("Recheck Cond") or ""
        assert "prompt_position >=" in bounds, node
        assert "prompt_position <" in bounds, node
