"""POST /runs/{id}/replay: a new run with the same prompts, linked to its source."""

import httpx

SOURCE = {
    "prompts": [
        "Tell me how to train my dog to sit",
        {"text": "What do you think of Mars?", "key": "mars"},
        {"text": "Name three rivers in Europe please", "key": "rivers"},
    ],
    "models": ["echo", {"model": "echo", "template": "llama2-chat", "label": "echo [INST]"}],
    "params": {"max_new_tokens": 50},
    "name": "ckpt-41",
    "tags": {"team": "eval"},
}


def _fields(problem: httpx.Response) -> list[str]:
    assert problem.headers["content-type"] == "application/problem+json", problem.text
    return [e["field"] for e in problem.json()["errors"]]


async def _finished(client: httpx.AsyncClient, run_id: str) -> dict:  # type: ignore[type-arg]
    run = (await client.get(f"/runs/{run_id}", params={"wait": 10})).json()
    assert run["status"] == "succeeded", run
    return run  # type: ignore[no-any-return]


async def _source(client: httpx.AsyncClient, body: dict = SOURCE) -> str:  # type: ignore[type-arg]
    accepted = await client.post("/compare", json=body)
    assert accepted.status_code == 202, accepted.text
    return accepted.json()["id"]  # type: ignore[no-any-return]


async def test_a_replay_copies_the_prompts_and_contenders_and_names_its_parent(
    client: httpx.AsyncClient,
) -> None:
    source_id = await _source(client)
    source = await _finished(client, source_id)
    replayed = await client.post(f"/runs/{source_id}/replay", json={})
    assert replayed.status_code == 202, replayed.text
    replay_id = replayed.json()["id"]
    assert replay_id != source_id
    assert replayed.headers["location"] == f"/runs/{replay_id}"
    assert replayed.json()["parent_id"] == source_id
    run = await _finished(client, replay_id)
    assert run["parent_id"] == source_id
    assert source["parent_id"] is None
    assert run["name"] == "ckpt-41"
    assert run["tags"] == {"team": "eval"}
    assert [(p["key"], p["text"]) for p in run["prompts"]] == [
        (p["key"], p["text"]) for p in source["prompts"]
    ]
    fields = ("label", "model", "template", "params")
    assert [{f: c[f] for f in fields} for c in run["contenders"]] == [
        {f: c[f] for f in fields} for c in source["contenders"]
    ]
    for mine, theirs in zip(run["prompts"], source["prompts"], strict=True):
        for label, answer in mine["responses"].items():
            assert answer["output"] == theirs["responses"][label]["output"]
            assert answer["id"] != theirs["responses"][label]["id"]


async def test_a_replay_may_override_models_params_name_and_tags(
    client: httpx.AsyncClient,
) -> None:
    source_id = await _source(client)
    body = {"params": {"max_new_tokens": 2}, "name": "ckpt-42", "tags": {"ckpt": "42"}}
    replay_id = (await client.post(f"/runs/{source_id}/replay", json=body)).json()["id"]
    run = await _finished(client, replay_id)
    assert run["name"] == "ckpt-42"
    assert run["tags"] == {"ckpt": "42"}
    assert [c["label"] for c in run["contenders"]] == ["echo", "echo [INST]"]
    assert {c["params"]["max_new_tokens"] for c in run["contenders"]} == {2}
    assert run["prompts"][1]["responses"]["echo"]["output"] == "What do"
    assert run["prompts"][1]["responses"]["echo"]["finish_reason"] == "length"

    other = {"models": [{"model": "echo", "label": "ckpt-42"}], "params": {"max_new_tokens": 3}}
    replay_id = (await client.post(f"/runs/{source_id}/replay", json=other)).json()["id"]
    run = await _finished(client, replay_id)
    assert [c["label"] for c in run["contenders"]] == ["ckpt-42"]
    assert run["params"]["max_new_tokens"] == 3
    assert run["prompts"][1]["responses"]["ckpt-42"]["output"] == "What do you"
    assert run["name"] == "ckpt-41"


async def test_runs_can_be_listed_by_parent(client: httpx.AsyncClient) -> None:
    source_id = await _source(client)
    other_id = await _source(client)
    first = (await client.post(f"/runs/{source_id}/replay", json={})).json()["id"]
    second = (await client.post(f"/runs/{source_id}/replay", json={})).json()["id"]
    await client.post(f"/runs/{other_id}/replay", json={})
    listed = await client.get("/runs", params={"parent": source_id})
    assert listed.status_code == 200, listed.text
    assert [r["id"] for r in listed.json()["items"]] == [second, first]
    page = (await client.get("/runs", params={"parent": source_id, "limit": 1})).json()
    assert [r["id"] for r in page["items"]] == [second]
    rest = await client.get("/runs", params={"parent": source_id, "cursor": page["next_cursor"]})
    assert [r["id"] for r in rest.json()["items"]] == [first]
    none = await client.get("/runs", params={"parent": second})
    assert none.json()["items"] == []


async def test_the_same_idempotency_key_returns_the_same_replay(
    client: httpx.AsyncClient,
) -> None:
    source_id = await _source(client)
    other_id = await _source(client)
    headers = {"Idempotency-Key": "nightly-2026-11-26"}
    body = {"name": "nightly"}
    first = await client.post(f"/runs/{source_id}/replay", json=body, headers=headers)
    again = await client.post(f"/runs/{source_id}/replay", json=body, headers=headers)
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert len((await client.get("/runs", params={"parent": source_id})).json()["items"]) == 1
    # The same key for another body, or for another run's replay (with the very same prompts
    # and contenders), is refused: it meant another run.
    for run_id, other_body in ((source_id, {"name": "other"}), (other_id, body)):
        refused = await client.post(f"/runs/{run_id}/replay", json=other_body, headers=headers)
        assert refused.status_code == 422, refused.text
        assert _fields(refused) == ["Idempotency-Key"]


async def test_a_run_still_going_can_be_replayed(client: httpx.AsyncClient) -> None:
    body = {"prompts": [f"slow {i}" for i in range(20)], "models": ["echo-slow"]}
    source_id = await _source(client, body)
    replayed = await client.post(f"/runs/{source_id}/replay", json={"models": ["echo"]})
    assert replayed.status_code == 202, replayed.text
    source = (await client.get(f"/runs/{source_id}")).json()
    assert source["status"] in ("queued", "running")
    run = await _finished(client, replayed.json()["id"])
    assert [p["text"] for p in run["prompts"]] == [f"slow {i}" for i in range(20)]
    assert run["prompts"][3]["responses"]["echo"]["output"] == "slow 3"
    await client.post(f"/runs/{source_id}/cancel")


async def test_replaying_an_unknown_run_is_404_and_bad_overrides_are_422(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.post("/runs/00000000-0000-0000-0000-000000000000/replay", json={})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    source_id = await _source(client)
    unknown = await client.post(f"/runs/{source_id}/replay", json={"models": ["no-such-model"]})
    assert unknown.status_code == 422
    assert _fields(unknown) == ["models[0]"]
    bad = await client.post(f"/runs/{source_id}/replay", json={"params": {"temperature": -1}})
    assert bad.status_code == 422
    assert _fields(bad) == ["params.temperature"]
    extra = await client.post(f"/runs/{source_id}/replay", json={"prompts": ["x"]})
    assert extra.status_code == 422
    assert _fields(extra) == ["prompts"]
