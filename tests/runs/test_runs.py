"""GET /runs: newest first, keyset pages, filters."""

import asyncio
import re

import httpx


async def _submit(client: httpx.AsyncClient, **extra: object) -> str:
    body = {"prompts": ["hello"], "models": ["echo"], **extra}
    response = await client.post("/compare", params={"wait": 10}, json=body)
    assert response.status_code == 200, response.text
    run_id: str = response.json()["id"]
    return run_id


async def test_pages_are_newest_first_and_stable_under_inserts(client: httpx.AsyncClient) -> None:
    ids = [await _submit(client, name=f"run {i}") for i in range(5)]
    first = (await client.get("/runs", params={"limit": 2})).json()
    assert [r["id"] for r in first["items"]] == [ids[4], ids[3]]
    await _submit(client, name="newer")  # must not shift the next page
    second = (await client.get("/runs", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [r["id"] for r in second["items"]] == [ids[2], ids[1]]
    third = (await client.get("/runs", params={"limit": 2, "cursor": second["next_cursor"]})).json()
    assert [r["id"] for r in third["items"]] == [ids[0]]
    assert third["next_cursor"] is None


async def test_filters(client: httpx.AsyncClient) -> None:
    tagged = await _submit(client, tags={"ckpt": "42", "team": "eval"})
    other = await _submit(client, tags={"ckpt": "41"})
    slow = (await client.post("/compare", json={"prompts": ["x"], "models": ["echo-slow"]})).json()

    async def ids(**params: str | list[str]) -> list[str]:
        page = (await client.get("/runs", params=params)).json()
        return [r["id"] for r in page["items"]]

    assert await ids(tag="ckpt:42") == [tagged]
    assert await ids(tag=["ckpt:42", "team:eval"]) == [tagged]
    assert await ids(tag=["ckpt:42", "team:other"]) == []
    assert await ids(model="echo-slow") == [slow["id"]]
    assert set(await ids(model="echo")) == {tagged, other}
    assert set(await ids(status="succeeded")) == {tagged, other}
    assert await ids(status=["queued", "running"]) == [slow["id"]]
    created = slow["created_at"]
    assert await ids(created_after=created) == [slow["id"]]
    assert set(await ids(created_before=created)) == {tagged, other}
    await asyncio.sleep(0)


async def test_bad_filters_name_the_field(client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, str | int], str]] = [
        ({"tag": "nocolon"}, "tag"),
        ({"tag": ""}, "tag"),
        ({"tag": ":value"}, "tag"),
        # PostgreSQL text cannot hold NUL: a 422, not the database's error.
        ({"tag": "k:\u0000"}, "tag"),
        ({"q": "a\u0000b"}, "q"),
        ({"model": "echo\u0000"}, "model"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"status": "done"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 1000}, "limit"),
        ({"created_after": "yesterday"}, "created_after"),
    ]
    for params, field in cases:
        response = await client.get("/runs", params=params)
        assert response.status_code == 422, (params, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], response.json()


async def test_the_schema_refuses_what_the_tag_filter_refuses(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    (tag,) = [p for p in spec["paths"]["/runs"]["get"]["parameters"] if p["name"] == "tag"]
    (array,) = [s for s in tag["schema"]["anyOf"] if s["type"] == "array"]
    pattern = array["items"]["pattern"]
    for value in ("", ":value", "nocolon"):
        assert re.search(pattern, value) is None
        assert (await client.get("/runs", params={"tag": value})).status_code == 422
    for value in ("key:", "key:value", "key:a:b"):
        assert re.search(pattern, value) is not None
        assert (await client.get("/runs", params={"tag": value})).status_code == 200


async def test_a_prompt_offset_beyond_any_position_is_a_422(client: httpx.AsyncClient) -> None:
    run_id = await _submit(client)
    response = await client.get(f"/runs/{run_id}", params={"prompt_offset": 2**31})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "prompt_offset"
    last = await client.get(f"/runs/{run_id}", params={"prompt_offset": 2**31 - 1})
    assert last.status_code == 200
    assert last.json()["prompts"] == []


async def test_summary_counts_follow_the_run(client: httpx.AsyncClient) -> None:
    run_id = await _submit(client)
    item = (await client.get("/runs")).json()["items"][0]
    assert item["id"] == run_id
    assert item["counts"] == {
        "queued": 0,
        "running": 0,
        "succeeded": 1,
        "failed": 0,
        "cancelled": 0,
        "total": 1,
        "cached": 0,
    }
    assert item["finished_at"] is not None
