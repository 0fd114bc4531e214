"""Shared fixtures: a migrated PostgreSQL database per test, the app, and settings.

Each test gets a fresh database cloned from a template migrated once per session. Tests do
not share a rolled-back transaction because the dispatcher must see committed rows from its
own connections, as it does in production.
"""

import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from app.config import Settings
from app.db.engine import create_engine
from app.db.migrate import upgrade_to_head
from app.fakes.lamini_server import FakeLamini
from app.fakes.openai_server import FakeOpenAI
from app.main import create_app

SERVER_URL = os.environ.get(
    "LLM_COMPARE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


class IsolatedSettings(Settings):
    """Settings from the test's arguments only, never from the machine's environment."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def database_url(name: str) -> str:
    return SERVER_URL.rsplit("/", 1)[0] + f"/{name}"


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(SERVER_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def template_database() -> AsyncIterator[str]:
    name = f"llmc_template_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    engine = create_engine(database_url(name), pool_size=1)
    await upgrade_to_head(engine)
    await engine.dispose()
    yield name
    await _admin(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
async def db_url(template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"llmc_test_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield database_url(name)
    await _admin(f'DROP DATABASE "{name}" WITH (FORCE)')


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


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (database, dispatcher) running, and a client for it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield client


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
