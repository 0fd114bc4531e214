"""Adapters by explicit name, built once per catalogue model."""

from collections.abc import Callable

from app.adapters.base import Adapter
from app.adapters.echo import EchoAdapter
from app.adapters.lamini import LaminiAdapter
from app.adapters.local import LocalAdapter
from app.adapters.openai import OpenAIAdapter
from app.adapters.options import AdapterConfigError
from app.config import Settings
from app.domain import ModelSpec

ADAPTERS: dict[str, type[Adapter]] = {
    adapter.kind: adapter for adapter in (EchoAdapter, OpenAIAdapter, LaminiAdapter, LocalAdapter)
}


def adapter_class(kind: str) -> type[Adapter] | None:
    """The adapter class a catalogue entry's `adapter` names, or None."""
    return ADAPTERS.get(kind)


def build_adapter(spec: ModelSpec, settings: Settings, concurrency: int) -> Adapter:
    """The adapter `spec.adapter` names; `AdapterConfigError` when the entry cannot be used."""
    adapter = adapter_class(spec.adapter)
    if adapter is None:
        raise AdapterConfigError(f"model {spec.name}: no adapter named {spec.adapter!r}")
    return adapter(spec, settings, concurrency)


class AdapterRegistry:
    """One adapter (and so one HTTP session) per catalogue model, made on first use."""

    def __init__(self, settings: Settings, concurrency_for: Callable[[ModelSpec], int]) -> None:
        self._settings = settings
        self._concurrency_for = concurrency_for
        self._adapters: dict[str, Adapter] = {}

    def get(self, spec: ModelSpec) -> Adapter:
        adapter = self._adapters.get(spec.name)
        if adapter is None:
            adapter = build_adapter(spec, self._settings, self._concurrency_for(spec))
            self._adapters[spec.name] = adapter
        return adapter

    async def aclose(self) -> None:
        adapters, self._adapters = list(self._adapters.values()), {}
        for adapter in adapters:
            await adapter.aclose()
