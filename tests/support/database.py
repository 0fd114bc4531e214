"""The test PostgreSQL server: its URL, a database's URL, and statements run as its admin."""

import os

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
