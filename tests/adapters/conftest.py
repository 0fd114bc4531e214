"""Fixtures for adapter tests: fake providers on 127.0.0.1 and settings free of the environment."""

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from app.adapters.base import Adapter
from app.config import Settings
from app.fakes.lamini_server import FakeLamini
from app.fakes.openai_server import FakeOpenAI

AdapterT = TypeVar("AdapterT", bound=Adapter)
SettingsFactory = Callable[..., Settings]


class _ArgumentsOnlySettings(Settings):
    """Settings from keyword arguments only, whatever OPENAI_API_KEY and friends say."""

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


@pytest.fixture
def make_settings() -> SettingsFactory:
    """`make_settings(openai_api_key="sk-test", request_timeout_s=0.5, ...)`."""

    def make(**values: Any) -> Settings:
        return _ArgumentsOnlySettings(**values)

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


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def fake_lamini() -> AsyncIterator[FakeLamini]:
    async with FakeLamini() as server:
        yield server
