"""Applying and inspecting Alembic migrations from inside the service."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

# Any constant works; it only has to be the same in every process that migrates.
_MIGRATION_LOCK_ID = 0x6C6C6D63


def script_location() -> Path:
    """`migrations/` in a source checkout, or the copy packed into the wheel."""
    here = Path(__file__).resolve()
    source = here.parents[2] / "migrations"
    return source if (source / "env.py").exists() else here.parents[1] / "_migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.attributes["connection"] = connection
    return config


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Migrate to head; concurrent starters wait on an advisory lock instead of racing."""
    async with engine.begin() as connection:
        # A migration may rewrite large tables; the API's statement timeout is not for it.
        await connection.execute(text("SET LOCAL statement_timeout = 0"))
        await connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})"))
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))


async def downgrade_to(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def current_revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        heads = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_heads()
        )
    return set(heads)
