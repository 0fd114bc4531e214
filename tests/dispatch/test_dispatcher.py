"""The dispatcher against real HTTP fakes: retries, Retry-After, permanent errors, stalls."""

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.adapters.registry import AdapterRegistry
from app.catalogue.service import Catalogue
from app.config import Settings
from app.db.engine import create_engine
from app.dispatch import dispatcher
from app.dispatch.news import RunNews
from app.runs.examples import CLASSIC_EXAMPLE
from tests.support.app import serve
from tests.support.catalogues import openai_catalogue
from tests.support.fakes.lamini_server import FakeLamini
from tests.support.fakes.openai_server import FakeOpenAI


async def _run(client: httpx.AsyncClient, body: dict[str, Any], wait: float = 20) -> Any:
    response = await client.post("/compare", params={"wait": wait}, json=body)
    assert response.status_code in (200, 202), response.text
    return (await client.get(response.headers["location"])).json()


def _answer(run: Any, label: str, index: int = 0) -> Any:
    return run["prompts"][index]["responses"][label]


async def test_transient_errors_are_retried_until_an_answer(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next(503, times=2, message="overloaded")
    catalogue = openai_catalogue(tmp_path, gpt={"base_url": f"{fake_openai.url}/v1"})
    async with serve(make_settings(catalogue_file=catalogue)) as client:
        run = await _run(client, {"prompts": ["hello there"], "models": ["gpt"]})
    answer = _answer(run, "gpt")
    assert answer["status"] == "succeeded"
    assert answer["output"] == "answer to: hello there"
    assert answer["attempts"] == 3
    assert answer["error"] is None
    assert len(fake_openai.requests) == 3


async def test_retry_after_is_honoured(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next(429, retry_after=0.6, message="slow down")
    catalogue = openai_catalogue(tmp_path, gpt={"base_url": f"{fake_openai.url}/v1"})
    settings = make_settings(catalogue_file=catalogue, retry_initial_s=0.01, retry_max_s=5)
    async with serve(settings) as client:
        run = await _run(client, {"prompts": ["hi"], "models": ["gpt"]})
    assert _answer(run, "gpt")["attempts"] == 2
    first, second = fake_openai.requests
    assert second.at - first.at >= 0.55  # not the 10 ms backoff: the provider's 0.6 s


async def test_retries_give_up_after_max_attempts(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next(502, times=10, message="bad gateway today")
    catalogue = openai_catalogue(tmp_path, gpt={"base_url": f"{fake_openai.url}/v1"})
    async with serve(make_settings(catalogue_file=catalogue, max_attempts=3)) as client:
        run = await _run(client, {"prompts": ["hi"], "models": ["gpt"]})
    answer = _answer(run, "gpt")
    assert answer["status"] == "failed"
    assert answer["attempts"] == 3
    assert "502" in answer["error"]
    assert "bad gateway today" in answer["error"]
    assert run["status"] == "failed"


async def test_permanent_error_fails_at_once_with_the_providers_message(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.required_key = "sk-the-right-one"
    catalogue = openai_catalogue(tmp_path, gpt={"base_url": f"{fake_openai.url}/v1"})
    async with serve(make_settings(catalogue_file=catalogue)) as client:
        run = await _run(client, {"prompts": ["hi"], "models": ["gpt", "echo"]})
    answer = _answer(run, "gpt")
    assert answer["status"] == "failed"
    assert answer["attempts"] == 1
    assert len(fake_openai.requests) == 1
    assert "401" in answer["error"]
    assert "sk-test" not in answer["error"]  # the key never reaches the database
    assert _answer(run, "echo")["status"] == "succeeded"
    assert run["status"] == "partial"
    stats = {c["label"]: c["counts"] for c in run["contenders"]}
    assert stats["gpt"]["failed"] == 1
    assert stats["echo"]["succeeded"] == 1


async def test_a_stalled_provider_does_not_hold_up_other_models(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    async with FakeOpenAI() as stalled:
        stalled.stall = True
        catalogue = openai_catalogue(
            tmp_path,
            stuck={"base_url": f"{stalled.url}/v1", "concurrency": 2},
            quick={"base_url": f"{fake_openai.url}/v1", "concurrency": 2},
        )
        # The stalled calls time out after 3 s: room for the quick answers on a busy machine.
        settings = make_settings(catalogue_file=catalogue, request_timeout_s=3, max_attempts=1)
        async with serve(settings) as client:
            prompts = [f"question {i}" for i in range(4)]
            accepted = await client.post(
                "/compare", json={"prompts": prompts, "models": ["stuck", "quick"]}
            )
            location = accepted.headers["location"]
            for _ in range(100):
                run = (await client.get(location)).json()
                counts = {c["label"]: c["counts"] for c in run["contenders"]}
                if counts["quick"]["succeeded"] == 4:
                    break
                await asyncio.sleep(0.05)
            # Every quick answer is in while the stalled model still has all its pairs.
            assert counts["quick"]["succeeded"] == 4
            assert counts["stuck"]["succeeded"] + counts["stuck"]["failed"] == 0
            assert len(stalled.requests) == 2  # its own concurrency limit, no more
            run = (await client.get(location, params={"wait": 30})).json()
    stuck = [p["responses"]["stuck"] for p in run["prompts"]]
    assert [a["status"] for a in stuck] == ["failed"] * 4
    assert all("no answer within 3 s" in a["error"] for a in stuck)
    assert run["status"] == "partial"


async def test_the_classic_comparison_end_to_end(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI, fake_lamini: FakeLamini
) -> None:
    settings = make_settings(
        lamini_api_key="lamini-test-key",
        lamini_api_url=fake_lamini.url,
        openai_api_key="sk-test",
        openai_base_url=f"{fake_openai.url}/v1",
        chat_gpt_model="gpt-test",
    )
    async with serve(settings) as client:
        run = await _run(client, CLASSIC_EXAMPLE)
    assert run["status"] == "succeeded"
    labels = [
        "meta-llama/Llama-2-7b-hf",
        "meta-llama/Llama-2-7b-chat-hf",
        "chat [INST]",
        "chat-gpt",
    ]
    assert [c["label"] for c in run["contenders"]] == labels
    assert len(run["prompts"]) == 3
    dog = run["prompts"][0]
    assert list(dog["responses"]) == labels
    assert dog["responses"]["chat [INST]"]["rendered_prompt"] == (
        "[INST] Tell me how to train my dog to sit [/INST]"
    )
    assert dog["responses"]["meta-llama/Llama-2-7b-hf"]["output"] == (
        "answer to: Tell me how to train my dog to sit"
    )
    assert dog["responses"]["chat-gpt"]["finish_reason"] == "stop"
    assert dog["responses"]["chat-gpt"]["completion_tokens"] == 11  # "answer to:" + 9 words
    # What the providers received: Lamini's SDK body, OpenAI chat messages, the token limit.
    lamini_prompts = {r.body["prompt"] for r in fake_lamini.requests}
    assert "[INST] Tell me how to train my dog to sit [/INST]" in lamini_prompts
    assert "Tell me how to train my dog to sit" in lamini_prompts
    assert {r.body["max_new_tokens"] for r in fake_lamini.requests} == {256}
    assert {r.body["model_name"] for r in fake_lamini.requests} == set(labels[:2])
    chat = fake_openai.requests[0].body
    assert chat["model"] == "gpt-test"
    assert chat["max_tokens"] == 256
    assert chat["messages"][0]["role"] == "user"


async def test_the_token_limit_shows_as_truncation(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    settings = make_settings(openai_api_key="sk-test", openai_base_url=f"{fake_openai.url}/v1")
    async with serve(settings) as client:
        run = await _run(
            client,
            {
                "prompts": ["a long question with many words"],
                "models": ["chat-gpt"],
                "params": {"max_new_tokens": 3},
            },
        )
    answer = _answer(run, "chat-gpt")
    assert answer["finish_reason"] == "length"
    assert answer["output"] == "answer to: a"
    assert run["contenders"][0]["truncated"] == 1


async def test_an_answer_with_a_nul_character_is_stored_without_it(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.respond_next(
        200,
        {
            "choices": [
                {
                    "message": {"role": "assistant", "content": "bad\u0000byte"},
                    "finish_reason": "stop",
                }
            ]
        },
    )
    catalogue = openai_catalogue(tmp_path, gpt={"base_url": f"{fake_openai.url}/v1"})
    async with serve(make_settings(catalogue_file=catalogue)) as client:
        run = await _run(client, {"prompts": ["one", "two"], "models": ["gpt"]})
    assert run["status"] == "succeeded"
    outputs = sorted(p["responses"]["gpt"]["output"] for p in run["prompts"])
    assert outputs == ["answer to: two", "badbyte"]


async def test_many_small_runs_all_finish_even_when_the_contender_cache_turns_over(
    tmp_path: Path, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatcher, "_RUN_CACHE_RUNS", 2)
    path = tmp_path / "catalogue.json"
    path.write_text(
        json.dumps(
            {
                "models": [
                    {
                        "name": "tiny",
                        "adapter": "echo",
                        "upstream": "echo",
                        "concurrency": 2,
                        "options": {"delay_ms": 20},
                    }
                ]
            }
        )
    )
    async with serve(make_settings(catalogue_file=path)) as client:
        ids = []
        for i in range(12):  # queued faster than they run: claims span many runs at once
            accepted = await client.post(
                "/compare", json={"prompts": [f"p{i}"], "models": ["tiny"]}
            )
            ids.append(accepted.json()["id"])
        runs = [(await client.get(f"/runs/{i}", params={"wait": 20})).json() for i in ids]
    assert [r["status"] for r in runs] == ["succeeded"] * 12


@pytest.mark.parametrize("turns", range(8))
async def test_stop_ends_however_a_wake_up_meets_it(settings: Settings, turns: int) -> None:
    # Python 3.11's wait_for returns instead of raising when a cancellation meets a wait that
    # has just ended: the claim loop, woken `turns` steps before the stop, once went on forever.
    engine = create_engine(settings.database_url or "", 2)
    catalogue = Catalogue.from_settings(settings)
    adapters = AdapterRegistry(settings, catalogue.concurrency)
    worker = dispatcher.Dispatcher(engine, catalogue, adapters, settings, RunNews())
    try:
        await worker.start()
        await asyncio.sleep(0.5)  # claimed nothing; waiting to be woken
        worker.wake()
        for _ in range(turns):
            await asyncio.sleep(0)
        async with asyncio.timeout(10):
            await worker.stop()
    finally:
        await adapters.aclose()
        await engine.dispose()
