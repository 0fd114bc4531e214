"""Adapters by explicit name, built once per catalogue model."""

from collections.abc import Callable

from app.adapters.base import Adapter
from app.adapters.echo import EchoAdapter
from app.adapters.openai import OpenAIAdapter
from app.adapters.options import AdapterConfigError
from app.catalogue import AdapterKind, ModelSpec
from app.config import Settings

AdapterBuilder = Callable[[ModelSpec, Settings, int], Adapter]


def _echo(spec: ModelSpec, settings: Settings, concurrency: int) -> Adapter:
    return EchoAdapter(spec)


def _openai(spec: ModelSpec, settings: Settings, concurrency: int) -> Adapter:
    return OpenAIAdapter(spec, settings, concurrency)


def _lamini(spec: ModelSpec, settings: Settings, concurrency: int) -> Adapter:
    # Imported on first use: the SDK pulls in pandas, a second or two at start-up.
    from app.adapters.lamini import LaminiAdapter

    return LaminiAdapter(spec, settings, concurrency)


def _local(spec: ModelSpec, settings: Settings, concurrency: int) -> Adapter:
    from app.adapters.local import LocalAdapter

    return LocalAdapter(spec, settings)


BUILDERS: dict[AdapterKind, AdapterBuilder] = {
    "echo": _echo,
    "openai": _openai,
    "lamini": _lamini,
    "local": _local,
}


def build_adapter(spec: ModelSpec, settings: Settings, concurrency: int) -> Adapter:
    """The adapter `spec.adapter` names; `AdapterConfigError` when the entry cannot be used."""
    builder = BUILDERS.get(spec.adapter)
    if builder is None:
        raise AdapterConfigError(f"model {spec.name}: no adapter named {spec.adapter!r}")
    return builder(spec, settings, concurrency)


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
