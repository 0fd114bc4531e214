"""The test PostgreSQL server: its URL, a database's URL, and statements run as its admin."""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

SERVER_URL = os.environ.get(
    "LLM_COMPARE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def database_url(name: str) -> str:
    return SERVER_URL.rsplit("/", 1)[0] + f"/{name}"


async def admin(sql: str) -> None:
    """Run `sql` (CREATE DATABASE, DROP DATABASE ...) on the server's admin database."""
    connection = await asyncpg.connect(SERVER_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@asynccontextmanager
async def scratch_database(template: str, prefix: str) -> AsyncIterator[str]:
    """A database of its own copied from `template` (migrated), dropped afterwards: its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield database_url(name)
    finally:
        await admin(f'DROP DATABASE "{name}" WITH (FORCE)')
