"""Shared fixtures: a migrated PostgreSQL database per test, the app, and settings.

Each test gets a fresh database cloned from a template migrated once per session. Tests do
not share a rolled-back transaction because the dispatcher must see committed rows from its
own connections, as it does in production. What the fixtures are built from lives in
`tests/support/`, which test modules import; no test module imports another.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db.engine import create_engine
from app.db.migrate import upgrade_to_head
from tests.support.access import ADMIN_KEY
from tests.support.app import serve
from tests.support.database import admin, database_url, scratch_database
from tests.support.fakes.lamini_server import FakeLamini
from tests.support.fakes.openai_server import FakeOpenAI
from tests.support.settings import IsolatedSettings


@pytest.fixture(scope="session")
async def template_database() -> AsyncIterator[str]:
    name = f"llmc_template_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    engine = create_engine(database_url(name), pool_size=1)
    await upgrade_to_head(engine)
    await engine.dispose()
    yield name
    await admin(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
async def db_url(template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    async with scratch_database(template_database, "llmc_test") as url:
        yield url


@pytest.fixture
def make_settings(db_url: str) -> Callable[..., Settings]:
    """Settings for this test's database, fast timings, plus the test's own values."""

    def make(**values: Any) -> Settings:
        defaults: dict[str, Any] = {
            "database_url": db_url,
            "migrate_on_start": False,
            "retry_initial_s": 0.01,
            "retry_max_s": 0.2,
            "poll_interval_s": 0.1,
            "write_interval_s": 0.005,
            "request_timeout_s": 5.0,
            "shutdown_grace_s": 1.0,
        }
        return IsolatedSettings(**{**defaults, **values})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings) as client:
        yield client


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def fake_lamini() -> AsyncIterator[FakeLamini]:
    async with FakeLamini() as server:
        yield server


@pytest.fixture
def auth_settings(make_settings: Callable[..., Settings]) -> Settings:
    """Keys required (`LLM_COMPARE_AUTH=on`), with the bootstrap admin key `ADMIN_KEY`."""
    return make_settings(auth="on", admin_key=ADMIN_KEY)


@pytest.fixture
async def guarded(auth_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with keys required."""
    async with serve(auth_settings) as client:
        yield client
