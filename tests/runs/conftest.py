"""What the runs' tests share."""

from collections.abc import AsyncIterator

import asyncpg
import pytest


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the test's database, to look at or change what is stored behind
    the service's back."""
    connection = await asyncpg.connect(db_url)
    yield connection
    await connection.close()
