import pytest

from app.adapters.echo import EchoAdapter
from app.adapters.lamini import LaminiAdapter
from app.adapters.openai import OpenAIAdapter
from app.adapters.options import AdapterConfigError
from app.adapters.registry import AdapterRegistry, build_adapter
from app.domain import ModelSpec
from tests.support.adapters import SettingsFactory


def spec(name: str, adapter: str) -> ModelSpec:
    return ModelSpec(name=name, adapter=adapter, upstream="m")


@pytest.mark.parametrize(
    ("kind", "adapter_class"),
    [("echo", EchoAdapter), ("openai", OpenAIAdapter), ("lamini", LaminiAdapter)],
)
async def test_build_adapter_by_name(
    kind: str, adapter_class: type, make_settings: SettingsFactory
) -> None:
    adapter = build_adapter(spec("m", kind), make_settings(), concurrency=2)

    assert isinstance(adapter, adapter_class)
    await adapter.aclose()


def test_a_local_model_without_its_file_is_a_clear_permanent_error(
    make_settings: SettingsFactory,
) -> None:
    missing = ModelSpec(
        name="tiny", adapter="local", upstream="m", options={"path": "/nowhere/tiny.gguf"}
    )
    with pytest.raises(AdapterConfigError, match="no GGUF file at /nowhere/tiny.gguf") as caught:
        build_adapter(missing, make_settings(), concurrency=1)

    assert not caught.value.transient


async def test_registry_builds_one_adapter_per_model_lazily(make_settings: SettingsFactory) -> None:
    asked: list[str] = []

    def concurrency_for(model: ModelSpec) -> int:
        asked.append(model.name)
        return 3

    registry = AdapterRegistry(make_settings(), concurrency_for)
    a, b = spec("a", "echo"), spec("b", "openai")
    assert asked == []

    first = registry.get(a)
    assert registry.get(a) is first
    assert registry.get(b) is not first
    assert asked == ["a", "b"]

    await registry.aclose()
    assert registry.get(a) is not first  # closed adapters are not handed out again
    await registry.aclose()
