"""Requests that would render far more than they send are refused before anything is rendered
or stored: a custom template's length, each prompt's length once rendered, a run's total."""

from collections.abc import Callable

import httpx

from app.config import Settings
from tests.support.app import serve


async def _nothing_stored(client: httpx.AsyncClient) -> None:
    assert (await client.get("/runs")).json()["items"] == []


async def test_a_huge_template_times_many_prompts_is_refused(client: httpx.AsyncClient) -> None:
    # The adversarial test's request: 117 KB that would have rendered 200 MB of prompts.
    template = "{prompt}" + "x" * 100_000
    body = {"prompts": ["p"] * 2000, "models": [{"model": "echo", "template": template}]}
    response = await client.post("/compare", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "models[0].template", "message": "template has 100008 characters; at most 10000"}
    ]
    await _nothing_stored(client)


async def test_a_run_rendering_more_than_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    # Every part within its own limit: 2,000 prompts x 16 contenders x a 9,000-character
    # template would render 288 million characters.
    template = "{prompt}" + "x" * 9000
    models = [{"model": "echo", "template": template, "label": f"echo {i}"} for i in range(16)]
    response = await client.post("/compare", json={"prompts": ["p"] * 2000, "models": models})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "prompts"
    assert "288032000 characters (2000 prompts x 16 contenders)" in error["message"]
    assert "at most 67108864" in error["message"]
    await _nothing_stored(client)


async def test_the_run_limit_counts_exactly_what_is_rendered(
    make_settings: Callable[..., Settings],
) -> None:
    body = {
        "prompts": ["ab", {"text": "abc", "key": "k"}],
        "models": [
            "echo",
            {"model": "echo", "template": "llama2-chat", "label": "inst"},
            {"model": "echo", "template": "{prompt}, {prompt}!", "label": "twice"},
        ],
    }
    # raw: 2 + 3; llama2-chat: 2 x 15 + 5; twice: 2 x 3 + 2 x (2 + 3): 56 characters.
    async with serve(make_settings(max_run_chars=55)) as client:
        refused = await client.post("/compare", json=body)
        assert refused.status_code == 422, refused.text
        assert "56 characters" in refused.json()["detail"]
        await _nothing_stored(client)
    async with serve(make_settings(max_run_chars=56)) as client:
        accepted = await client.post("/compare", params={"wait": 10}, json=body)
        assert accepted.status_code == 200, accepted.text
        run = (await client.get(accepted.headers["location"])).json()
        rendered = [r["rendered_prompt"] for p in run["prompts"] for r in p["responses"].values()]
        assert len(rendered) == 6
        assert sum(map(len, rendered)) == 56


async def test_the_prompt_limit_applies_to_the_rendered_prompt(
    make_settings: Callable[..., Settings],
) -> None:
    async with serve(make_settings(max_prompt_chars=20)) as client:
        body = {
            "prompts": ["short", {"text": "x" * 10}],
            "models": ["echo", {"model": "echo", "template": "llama2-chat", "label": "inst"}],
        }
        response = await client.post("/compare", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["errors"] == [
            {
                "field": "prompts[1].text",
                "message": "prompt 1 has 25 characters once rendered with the template of "
                "contender 'inst' (models[1]); at most 20",
            }
        ]
        await _nothing_stored(client)
        body["models"] = ["echo"]
        assert (await client.post("/compare", json=body)).status_code == 202
