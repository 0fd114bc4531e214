"""Every answer's diagnostics through the API: written with the answer (against the prompt
before its template), shown on each response, counted per contender, and the `?flag=`
filter of `GET /runs/{id}` with its paging. Failed and cancelled pairs have none."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from app.config import Settings
from app.diagnostics import FLAGS
from tests.support.app import serve
from tests.support.fakes.openai_server import FakeOpenAI

DOG = "Tell me how to train my dog to sit"
NO_FLAGS = dict.fromkeys(FLAGS, 0)


async def _run(client: httpx.AsyncClient, body: dict[str, Any], **params: Any) -> Any:
    accepted = await client.post("/compare", params={"wait": 20}, json=body)
    assert accepted.status_code == 200, accepted.text
    run = await client.get(accepted.headers["location"], params=params)
    assert run.status_code == 200, run.text
    return run.json()


def _catalogue(tmp_path: Path, fake_url: str) -> Path:
    """Two OpenAI-compatible models on the fake (chat, and text completions), an echo model
    whose calls all fail for good and a slow one that answers one call at a time."""
    openai = {"adapter": "openai", "base_url": f"{fake_url}/v1", "api_key": "sk-test"}
    entries = [
        {"name": "gpt", "upstream": "gpt", "template": "chat", **openai},
        {
            "name": "gpt-text",
            "upstream": "gpt-text",
            "template": "llama2-chat",
            "options": {"api": "completions"},
            **openai,
        },
        {
            "name": "broken",
            "adapter": "echo",
            "upstream": "echo",
            "options": {"fail_first_attempts": 99, "fail_status": 400},
        },
        # One call at a time: of a run's pairs, it holds two at most (one in flight, one
        # ready); a cancel finds the rest queued.
        {
            "name": "one-at-a-time",
            "adapter": "echo",
            "upstream": "echo",
            "options": {"delay_ms": 300},
            "concurrency": 1,
        },
    ]
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"models": entries}))
    return path


async def test_each_answer_has_its_diagnostics_and_each_contender_counts_them(
    client: httpx.AsyncClient,
) -> None:
    run = await _run(
        client,
        {
            "prompts": [DOG],
            "models": [
                "echo",
                {"model": "echo", "template": "llama2-chat", "label": "echo [INST]"},
                {"model": "echo", "label": "short", "params": {"max_new_tokens": 3}},
            ],
        },
    )
    answers = run["prompts"][0]["responses"]
    # echo says the prompt again; through llama2-chat it also sends back the template's
    # markup, which the user's prompt does not hold, and [INST] opens a new turn.
    assert answers["echo"]["flags"] == ["echoes_prompt"]
    assert answers["echo"]["prompt_overlap"] == 1.0
    assert answers["echo"]["repetition"] == 0.0
    assert answers["echo"]["words"] == 9
    assert answers["echo [INST]"]["flags"] == [
        "echoes_prompt",
        "continues_dialogue",
        "template_leak",
    ]
    assert answers["echo [INST]"]["prompt_overlap"] == 1.0
    # Cut off by the token limit: "Tell me how", no longer an echo.
    assert answers["short"]["finish_reason"] == "length"
    assert answers["short"]["flags"] == ["truncated"]
    assert answers["short"]["words"] == 3
    assert len({answer["id"] for answer in answers.values()}) == 3
    assert all(isinstance(answer["id"], int) for answer in answers.values())

    stats = {c["label"]: c for c in run["contenders"]}
    assert stats["echo"]["flags"] == {**NO_FLAGS, "echoes_prompt": 1}
    assert stats["echo [INST]"]["flags"] == {
        **NO_FLAGS,
        "echoes_prompt": 1,
        "continues_dialogue": 1,
        "template_leak": 1,
    }
    assert stats["short"]["flags"] == {**NO_FLAGS, "truncated": 1}
    assert list(stats["short"]["flags"]) == list(FLAGS)
    assert all(c["diagnosed"] == 1 for c in run["contenders"])


async def test_markup_is_judged_against_the_prompt_before_its_template(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    settings = make_settings(catalogue_file=_catalogue(tmp_path, fake_openai.url))
    async with serve(settings) as client:
        # The fake answers "answer to: <what it was sent>": through llama2-chat on the
        # completions API, that holds [INST] ... [/INST], which the user never wrote.
        text = await _run(client, {"prompts": ["Why do cats purr?"], "models": ["gpt-text"]})
        leaked = text["prompts"][0]["responses"]["gpt-text"]
        assert leaked["output"] == "answer to: [INST] Why do cats purr? [/INST]"
        assert "template_leak" in leaked["flags"]
        # Markup the user's own prompt holds is no leak; sent as a chat message, the prompt
        # is recovered from its JSON form.
        asked = "What does [/INST] mean in a Llama 2 prompt?"
        chat = await _run(client, {"prompts": [asked], "models": ["gpt"]})
        answer = chat["prompts"][0]["responses"]["gpt"]
        assert answer["output"] == f"answer to: {asked}"
        assert answer["flags"] == ["echoes_prompt"]
        # A chat model's answer that leaks its template's tokens, as providers' bugs do.
        fake_openai.respond_next(200, _chat_completion("Sit! Good dog.</s>[INST] And stay?"))
        scripted = await _run(client, {"prompts": [DOG], "models": ["gpt"]})
        answer = scripted["prompts"][0]["responses"]["gpt"]
        assert answer["flags"] == ["continues_dialogue", "template_leak"]


def _chat_completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
    }


async def test_failed_and_cancelled_pairs_have_no_diagnostics(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    settings = make_settings(catalogue_file=_catalogue(tmp_path, fake_openai.url))
    async with serve(settings) as client:
        run = await _run(client, {"prompts": [DOG], "models": ["broken", "echo"]})
        failed = run["prompts"][0]["responses"]["broken"]
        assert failed["status"] == "failed"
        assert [failed[k] for k in ("flags", "repetition", "prompt_overlap", "words")] == [
            None,
            None,
            None,
            None,
        ]
        broken = run["contenders"][0]
        assert (broken["flags"], broken["diagnosed"]) == (NO_FLAGS, 0)

        prompts = [f"slow prompt number {i}" for i in range(6)]
        body = {"prompts": prompts, "models": ["one-at-a-time"]}
        accepted = await client.post("/compare", json=body)
        run_url = accepted.headers["location"]
        assert (await client.post(f"{run_url}/cancel", json={})).status_code in (200, 202)
        ended = (await client.get(run_url, params={"wait": 20})).json()
    assert ended["status"] == "cancelled"
    answers = [p["responses"]["one-at-a-time"] for p in ended["prompts"]]
    cancelled = [a for a in answers if a["status"] == "cancelled"]
    assert len(cancelled) >= 4
    assert all(a["flags"] is None and a["words"] is None for a in cancelled)
    assert all(a["flags"] == ["echoes_prompt"] for a in answers if a["status"] == "succeeded")


# Prompt i: 2 words (nothing to flag) when i % 3 == 0, else 4: `echo` says it again
# (echoes_prompt), and `short` (3 words at most) cuts those of i % 3 == 2 (truncated).
PAGED_RUN = {
    "prompts": [
        f"hello {i}" if i % 3 == 0 else f"say {i} now" if i % 3 == 1 else f"say {i} right now"
        for i in range(12)
    ],
    "models": ["echo", {"model": "echo", "label": "short", "params": {"max_new_tokens": 3}}],
}


async def test_the_flag_filter_keeps_prompts_with_a_flagged_answer(
    client: httpx.AsyncClient,
) -> None:
    run = await _run(client, PAGED_RUN, flag="truncated")
    assert [p["index"] for p in run["prompts"]] == [2, 5, 8, 11]
    # A kept prompt shows every contender's answer, flagged or not.
    assert {label: a["flags"] for label, a in run["prompts"][0]["responses"].items()} == {
        "echo": ["echoes_prompt"],
        "short": ["truncated"],
    }
    assert run["next_prompt_offset"] is None
    # Several flags: prompts with any of them. The counts are the whole run's.
    both = await client.get(f"/runs/{run['id']}", params={"flag": ["truncated", "echoes_prompt"]})
    assert [p["index"] for p in both.json()["prompts"]] == [i for i in range(12) if i % 3]
    stats = {c["label"]: c["flags"] for c in both.json()["contenders"]}
    assert stats == {
        "echo": {**NO_FLAGS, "echoes_prompt": 8},
        "short": {**NO_FLAGS, "echoes_prompt": 4, "truncated": 4},
    }
    none = await client.get(f"/runs/{run['id']}", params={"flag": "refusal"})
    assert (none.json()["prompts"], none.json()["next_prompt_offset"]) == ([], None)


async def test_pages_of_kept_prompts_follow_next_prompt_offset(client: httpx.AsyncClient) -> None:
    first = await _run(client, PAGED_RUN, flag="echoes_prompt", prompt_limit=3)
    url, pages, offset = f"/runs/{first['id']}", [], 0
    while offset is not None:
        page = await client.get(
            url, params={"flag": "echoes_prompt", "prompt_limit": 3, "prompt_offset": offset}
        )
        body = page.json()
        assert body["prompt_offset"] == offset
        pages.append([p["index"] for p in body["prompts"]])
        offset = body["next_prompt_offset"]
    assert pages == [[1, 2, 4], [5, 7, 8], [10, 11]]
    # `prompt_offset` is an index: from 3 on, the kept prompts are 4, 5, 7...
    from_three = await client.get(url, params={"flag": "echoes_prompt", "prompt_offset": 3})
    assert [p["index"] for p in from_three.json()["prompts"]] == [4, 5, 7, 8, 10, 11]
    # Without a filter, the next page starts where this one ends, until the last.
    unfiltered = await client.get(url, params={"prompt_limit": 5, "prompt_offset": 5})
    assert unfiltered.json()["next_prompt_offset"] == 10
    last = await client.get(url, params={"prompt_limit": 5, "prompt_offset": 10})
    assert last.json()["next_prompt_offset"] is None


async def test_an_unknown_flag_is_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    run = await _run(client, {"prompts": [DOG], "models": ["echo"]})
    response = await client.get(f"/runs/{run['id']}", params={"flag": ["truncated", "rude"]})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["flag"]
