"""The response cache: an identical deterministic request takes a stored answer instead of a
provider call, counted in the run, and only when the cache is on."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.support.app import serve
from tests.support.catalogues import openai_catalogue
from tests.support.fakes.openai_server import FakeOpenAI

PROMPTS = ["what is 2 + 2?", "name a colour", "say hello"]


async def _run(client: httpx.AsyncClient, body: dict[str, Any]) -> Any:
    response = await client.post("/compare", params={"wait": 60}, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _answers(run: Any, label: str) -> list[Any]:
    return [prompt["responses"][label] for prompt in run["prompts"]]


@pytest.fixture
def cached_settings(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> Callable[..., Settings]:
    url = f"{fake_openai.url}/v1"
    catalogue = openai_catalogue(
        tmp_path, gpt={"base_url": url}, other={"upstream": "gpt", "base_url": url}
    )
    return lambda **values: make_settings(catalogue_file=catalogue, **values)


async def test_an_identical_deterministic_run_is_answered_from_the_cache(
    cached_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    body = {"prompts": PROMPTS, "models": ["gpt"], "params": {"temperature": 0}}
    async with serve(cached_settings()) as client:
        first = await _run(client, body)
        calls = len(fake_openai.requests)
        second = await _run(client, body)
    assert calls == len(PROMPTS)
    assert len(fake_openai.requests) == calls  # the provider was not called again
    assert second["status"] == "succeeded"
    assert second["counts"]["succeeded"] == second["counts"]["cached"] == len(PROMPTS)
    assert first["counts"]["cached"] == 0
    (stats,) = second["contenders"]
    assert stats["counts"]["cached"] == len(PROMPTS)
    for before, after in zip(_answers(first, "gpt"), _answers(second, "gpt"), strict=True):
        assert not before["cached"]
        assert before["cached_from"] is None
        assert after["cached"]
        assert after["cached_from"] == before["id"]
        assert after["output"] == before["output"]
        assert after["completion_tokens"] == before["completion_tokens"]
        assert after["flags"] == before["flags"]
        assert after["attempts"] == 0
        assert after["latency_ms"] is None


async def test_a_seed_makes_sampling_deterministic_and_the_summary_counts_cached(
    cached_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    body = {"prompts": PROMPTS, "models": ["gpt"], "params": {"seed": 7, "temperature": 1}}
    async with serve(cached_settings()) as client:
        await _run(client, body)
        await _run(client, body)
        listed = (await client.get("/runs")).json()["items"]
    assert len(fake_openai.requests) == len(PROMPTS)
    assert [run["counts"]["cached"] for run in listed] == [len(PROMPTS), 0]  # newest first


@pytest.mark.parametrize(
    "change",
    [
        {"params": {}},  # the provider's default temperature: not deterministic
        {"params": {"temperature": 0.7}},
        {"params": {"temperature": 0, "max_new_tokens": 3}},  # other params
        {"models": ["other"]},  # another catalogue name, the same upstream and endpoint...
        {"models": [{"model": "gpt", "template": "raw"}]},  # another rendered prompt
        {"cache": False},
        {"models": [{"model": "gpt", "cache": False}]},
    ],
)
async def test_a_request_that_differs_or_says_no_cache_calls_the_provider(
    cached_settings: Callable[..., Settings], fake_openai: FakeOpenAI, change: dict[str, Any]
) -> None:
    body = {"prompts": PROMPTS, "models": ["gpt"], "params": {"temperature": 0}}
    async with serve(cached_settings()) as client:
        await _run(client, body)
        again = {**body, **change}
        if change.get("params") == {}:
            await _run(client, again)  # stored without a fingerprint: never reused
        second = await _run(client, again)
    if change == {"models": ["other"]}:
        # ...is the same request: the catalogue's name is not sent.
        assert second["counts"]["cached"] == len(PROMPTS)
        return
    assert second["counts"]["cached"] == 0
    assert not any(answer["cached"] for answer in _answers(second, second["models"][0]))
    expected = 3 if change.get("params") == {} else 2
    assert len(fake_openai.requests) == expected * len(PROMPTS)


async def test_the_setting_turns_the_cache_off_and_fresh_answers_serve_later_runs(
    cached_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    body = {"prompts": PROMPTS, "models": ["gpt"], "params": {"temperature": 0}}
    async with serve(cached_settings(cache=False)) as client:
        await _run(client, body)
        fresh = await _run(client, body)
    assert len(fake_openai.requests) == 2 * len(PROMPTS)
    assert fresh["counts"]["cached"] == 0
    async with serve(cached_settings()) as client:
        reused = await _run(client, body)
    assert len(fake_openai.requests) == 2 * len(PROMPTS)
    # The newest answer is the one reused.
    assert [a["cached_from"] for a in _answers(reused, "gpt")] == [
        a["id"] for a in _answers(fresh, "gpt")
    ]


def test_the_setting_reads_off_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_COMPARE_CACHE", "off")
    assert Settings().cache is False


async def test_failed_answers_are_not_reused(
    cached_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    body = {"prompts": PROMPTS[:1], "models": ["gpt"], "params": {"temperature": 0}}
    fake_openai.fail_next(400, times=1, message="no")
    async with serve(cached_settings()) as client:
        failed = await _run(client, body)
        second = await _run(client, body)
    assert failed["status"] == "failed"
    assert second["status"] == "succeeded"
    assert second["counts"]["cached"] == 0
    assert len(fake_openai.requests) == 2
