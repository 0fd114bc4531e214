"""Migrations are the only way the schema changes: they apply, reverse, and match the models."""

import asyncio
import os
import uuid
from asyncio.subprocess import PIPE, STDOUT
from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_engine
from app.db.migrate import current_revisions, downgrade_to, head_revisions, upgrade_to_head
from app.db.tables import Base
from tests.support.database import admin, database_url
from tests.support.service_process import LLM_COMPARE


@pytest.fixture
async def empty_engine() -> AsyncIterator[AsyncEngine]:
    name = f"llmc_empty_{uuid.uuid4().hex[:12]}"
    await admin(f'CREATE DATABASE "{name}"')
    engine = create_engine(database_url(name), pool_size=1)
    yield engine
    await engine.dispose()
    await admin(f'DROP DATABASE "{name}" WITH (FORCE)')


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


async def test_upgrade_head_on_an_empty_database(empty_engine: AsyncEngine) -> None:
    await upgrade_to_head(empty_engine)
    assert {"runs", "prompts", "responses"} <= await _tables(empty_engine)
    assert await current_revisions(empty_engine) == head_revisions()


async def test_downgrade_round_trip(empty_engine: AsyncEngine) -> None:
    await upgrade_to_head(empty_engine)
    await downgrade_to(empty_engine, "base")
    assert await _tables(empty_engine) == set()
    await upgrade_to_head(empty_engine)
    assert {"runs", "prompts", "responses"} <= await _tables(empty_engine)


async def test_models_and_migrations_agree(empty_engine: AsyncEngine) -> None:
    await upgrade_to_head(empty_engine)

    def diff(sync: object) -> list[object]:
        context = MigrationContext.configure(sync, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(context, Base.metadata))

    async with empty_engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []


async def test_indexes_have_the_storage_options_of_the_models(empty_engine: AsyncEngine) -> None:
    """What autogenerate does not compare: each index's options (`postgresql_with`)."""
    await upgrade_to_head(empty_engine)
    declared = {
        str(index.name): {k: str(v) for k, v in index.dialect_options["postgresql"]["with"].items()}
        for table in Base.metadata.tables.values()
        for index in table.indexes
    }
    async with empty_engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_index i "
                "ON i.indexrelid = c.oid WHERE c.relname = ANY(:names)"
            ),
            {"names": list(declared)},
        )
        found = {name: dict(o.split("=", 1) for o in options or ()) for name, options in rows}
    assert found == declared
    assert declared["ix_prompts_search"] == {"fastupdate": "off"}


async def test_concurrent_upgrades_do_not_race(empty_engine: AsyncEngine) -> None:
    other = create_engine(empty_engine.url.render_as_string(hide_password=False), pool_size=1)
    try:
        await asyncio.gather(upgrade_to_head(empty_engine), upgrade_to_head(other))
    finally:
        await other.dispose()
    assert await current_revisions(empty_engine) == head_revisions()


async def test_the_migrate_command_brings_a_database_to_head(empty_engine: AsyncEngine) -> None:
    url = empty_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "DATABASE_URL": url}
    process = await asyncio.create_subprocess_exec(
        LLM_COMPARE, "migrate", env=env, stdout=PIPE, stderr=STDOUT
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    assert await current_revisions(empty_engine) == head_revisions()
