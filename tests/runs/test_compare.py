"""POST /compare and reading the run back, with the keyless echo models."""

import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from app.config import Settings
from tests.support.app import serve

ECHO_RUN = {
    "prompts": [
        "Tell me how to train my dog to sit",
        {"text": "What do you think of Mars?", "key": "mars"},
    ],
    "models": ["echo", {"model": "echo", "template": "llama2-chat", "label": "echo [INST]"}],
    "params": {"max_new_tokens": 5},
    "name": "smoke",
    "tags": {"team": "eval"},
}


async def test_compare_is_accepted_and_answered_side_by_side(client: httpx.AsyncClient) -> None:
    accepted = await client.post("/compare", json=ECHO_RUN)
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["id"]
    assert accepted.headers["location"] == f"/runs/{run_id}"
    assert accepted.json()["counts"]["total"] == 4

    run = (await client.get(f"/runs/{run_id}", params={"wait": 10})).json()
    assert run["status"] == "succeeded"
    assert run["name"] == "smoke"
    assert run["tags"] == {"team": "eval"}
    assert [p["index"] for p in run["prompts"]] == [0, 1]
    assert run["prompts"][1]["key"] == "mars"
    dog = run["prompts"][0]["responses"]
    assert set(dog) == {"echo", "echo [INST]"}
    assert dog["echo"]["rendered_prompt"] == "Tell me how to train my dog to sit"
    assert (
        dog["echo [INST]"]["rendered_prompt"] == "[INST] Tell me how to train my dog to sit [/INST]"
    )
    # Five words allowed: the echo of an eight-word prompt is cut off by the token limit.
    assert dog["echo"]["output"] == "Tell me how to train"
    assert dog["echo"]["finish_reason"] == "length"
    assert dog["echo"]["completion_tokens"] == 5
    assert dog["echo"]["status"] == "succeeded"
    assert dog["echo"]["attempts"] == 1
    assert dog["echo"]["latency_ms"] is not None
    contenders = {c["label"]: c for c in run["contenders"]}
    assert contenders["echo"]["counts"]["succeeded"] == 2
    assert contenders["echo"]["truncated"] == 2
    assert contenders["echo [INST]"]["template"] == "llama2-chat"


async def test_wait_answers_200_with_the_run_as_get_shows_it(client: httpx.AsyncClient) -> None:
    response = await client.post("/compare", params={"wait": 10}, json=ECHO_RUN)
    assert response.status_code == 200
    run = response.json()
    assert run["status"] == "succeeded"
    assert run["counts"]["succeeded"] == 4
    assert run["prompts"][0]["responses"]["echo"]["output"] == "Tell me how to train"
    assert run == (await client.get(response.headers["location"])).json()


async def test_wait_shows_the_first_page_of_prompts(client: httpx.AsyncClient) -> None:
    body = {"prompts": [f"p{i}" for i in range(101)], "models": ["echo"]}
    response = await client.post("/compare", params={"wait": 20}, json=body)
    assert response.status_code == 200
    run = response.json()
    assert run["prompt_count"] == 101
    assert [p["text"] for p in run["prompts"]] == [f"p{i}" for i in range(100)]


async def test_wait_that_runs_out_answers_202_with_the_summary(client: httpx.AsyncClient) -> None:
    body = {"prompts": ["slow"], "models": ["echo-slow"]}
    response = await client.post("/compare", params={"wait": 0.2}, json=body)
    assert response.status_code == 202
    assert response.json()["status"] in ("queued", "running")
    assert "prompts" not in response.json()


async def test_transient_failures_are_retried_and_counted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/compare", params={"wait": 10}, json={"prompts": ["hi"], "models": ["echo-flaky"]}
    )
    run = (await client.get(response.headers["location"])).json()
    answer = run["prompts"][0]["responses"]["echo-flaky"]
    assert answer["status"] == "succeeded"
    assert answer["attempts"] == 3  # two 503s, then the answer


async def test_unknown_run_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/runs/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Not Found"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"prompts": [], "models": ["echo"]}, "prompts", "at least 1"),
        ({"prompts": ["  "], "models": ["echo"]}, "prompts[0]", "empty"),
        ({"prompts": [{"text": ""}], "models": ["echo"]}, "prompts[0].text", "empty"),
        ({"prompts": ["hi"], "models": []}, "models", "at least 1"),
        ({"prompts": ["hi"], "models": ["gpt-17"]}, "models[0]", "unknown model"),
        ({"prompts": ["hi"], "models": [{"model": "nope"}]}, "models[0].model", "unknown model"),
        (
            {"prompts": ["hi"], "models": ["meta-llama/Llama-2-7b-hf"]},
            "models[0]",
            "LAMINI_API_KEY",
        ),
        ({"prompts": ["hi"], "models": ["chat-gpt"]}, "models[0]", "OPENAI_API_KEY"),
        (
            {"prompts": ["hi"], "models": ["echo"], "params": {"temperature": 9}},
            "params.temperature",
            "less than or equal",
        ),
        (
            {"prompts": ["hi"], "models": ["echo"], "params": {"max_new_tokens": 0}},
            "params.max_new_tokens",
            "greater than or equal",
        ),
        (
            {"prompts": ["hi"], "models": ["echo"], "params": {"temprature": 1}},
            "params.temprature",
            "Extra inputs",
        ),
        (
            {"prompts": ["hi"], "models": [{"model": "echo", "template": "fancy"}]},
            "models[0].template",
            "unknown template",
        ),
        ({"prompts": ["hi"], "models": ["echo", "echo"]}, "models[1]", "used twice"),
        ({"prompts": ["hi"], "models": ["echo"], "colour": "red"}, "colour", "Extra inputs"),
        ({"prompts": ["a\u0000b"], "models": ["echo"]}, "prompts[0]", "NUL"),
        ({"prompts": [{"text": "a\u0000b"}], "models": ["echo"]}, "prompts[0].text", "NUL"),
        ({"prompts": ["hi"], "models": ["echo"], "name": "\u0000"}, "name", "NUL"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, object], field: str, words: str
) -> None:
    response = await client.post("/compare", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]], problem
    assert words in problem["detail"], problem


async def test_too_many_prompts_is_refused_before_anything_is_stored(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/compare", json={"prompts": ["p"] * 10_001, "models": ["echo"]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "prompts"
    assert (await client.get("/runs")).json()["items"] == []


async def test_oversized_body_is_a_413(client: httpx.AsyncClient) -> None:
    huge = "x" * (17 * 1024 * 1024)
    response = await client.post("/compare", json={"prompts": [huge], "models": ["echo"]})
    assert response.status_code == 413
    assert response.json()["title"] == "Content Too Large"


async def test_a_chunked_body_over_the_limit_is_a_413(
    make_settings: Callable[..., Settings],
) -> None:
    async def chunks(n: int) -> AsyncIterator[bytes]:
        yield b'{"models": ["echo"], "prompts": ["'
        for _ in range(n):
            yield b"x" * 512
        yield b'"]}'

    json_type = {"Content-Type": "application/json"}
    async with serve(make_settings(max_body_bytes=2048)) as client:
        response = await client.post("/compare", content=chunks(8), headers=json_type)
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "2048 bytes" in response.json()["detail"]
        assert (await client.get("/runs")).json()["items"] == []
        under = await client.post("/compare", content=chunks(2), headers=json_type)
        assert under.status_code == 202, under.text


async def test_malformed_json_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/compare", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_wait_is_bounded_by_the_server(make_settings: Callable[..., Settings]) -> None:
    async with serve(make_settings(max_wait_s=0.3)) as client:
        started = time.monotonic()
        response = await client.post(
            "/compare", params={"wait": 30}, json={"prompts": ["x"], "models": ["echo-slow"]}
        )
        assert response.status_code == 202
        assert time.monotonic() - started < 0.9  # echo-slow takes 1 s; the server waits 0.3 s
