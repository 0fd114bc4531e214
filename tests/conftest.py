"""Shared fixtures: a migrated PostgreSQL database per test, the app, and settings.

Each test gets a fresh database cloned from a template migrated once per session. Tests do
not share a rolled-back transaction because the dispatcher must see committed rows from its
own connections, as it does in production.
"""

import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from app.config import Settings
from app.db.engine import create_engine
from app.db.migrate import upgrade_to_head
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


@pytest.fixture
async def running_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(running_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=running_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
