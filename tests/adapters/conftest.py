"""Fixtures for adapter tests: fake providers on 127.0.0.1 and settings free of the environment."""

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest

from app.adapters.base import Adapter
from app.config import Settings
from tests.conftest import IsolatedSettings

AdapterT = TypeVar("AdapterT", bound=Adapter)
SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings() -> SettingsFactory:
    """`make_settings(openai_api_key="sk-test", request_timeout_s=0.5, ...)`."""

    def make(**values: Any) -> Settings:
        return IsolatedSettings(**values)

    return make


class AdapterCloser:
    """Closes every adapter handed to it when the test ends."""

    def __init__(self) -> None:
        self._adapters: list[Adapter] = []

    def __call__(self, adapter: AdapterT) -> AdapterT:
        self._adapters.append(adapter)
        return adapter

    async def aclose(self) -> None:
        for adapter in self._adapters:
            await adapter.aclose()


@pytest.fixture
async def closing() -> AsyncIterator[AdapterCloser]:
    closer = AdapterCloser()
    yield closer
    await closer.aclose()
