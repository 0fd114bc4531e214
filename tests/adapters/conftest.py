"""Fixtures for adapter tests: fake providers on 127.0.0.1 and settings free of the environment."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.config import Settings
from tests.support.adapters import AdapterCloser, SettingsFactory
from tests.support.settings import IsolatedSettings


@pytest.fixture
def make_settings() -> SettingsFactory:
    """`make_settings(openai_api_key="sk-test", request_timeout_s=0.5, ...)`."""

    def make(**values: Any) -> Settings:
        return IsolatedSettings(**values)

    return make


@pytest.fixture
async def closing() -> AsyncIterator[AdapterCloser]:
    closer = AdapterCloser()
    yield closer
    await closer.aclose()
