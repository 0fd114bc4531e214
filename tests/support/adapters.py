"""What adapter tests share: a settings factory's type and a closer for the adapters they build."""

from collections.abc import Callable
from typing import TypeVar

from app.adapters.base import Adapter
from app.config import Settings

AdapterT = TypeVar("AdapterT", bound=Adapter)
SettingsFactory = Callable[..., Settings]


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
