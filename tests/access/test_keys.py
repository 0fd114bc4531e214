"""Keys and projects: made, listed, revoked (at once, in every process), and what a key sees."""

import httpx

from app.access.scopes import Scope
from app.config import Settings
from tests.support.access import ADMIN_KEY, bearer, make_key, make_project
from tests.support.app import serve
from tests.support.judging import JSON

ADMIN = {**bearer(ADMIN_KEY), **JSON}


async def test_a_key_is_shown_once_and_listed_by_prefix(guarded: httpx.AsyncClient) -> None:
    assert (
        await guarded.post("/projects", json={"name": "team"}, headers=ADMIN)
    ).status_code == 201
    made = await guarded.post(
        "/keys",
        json={"name": "ci", "project": "team", "scopes": ["read", "write"]},
        headers=ADMIN,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    key = body["key"]
    assert key.startswith("lc_")
    assert len(key) >= 40
    assert key.startswith(body["prefix"])
    assert len(body["prefix"]) < 16
    assert (body["name"], body["project"], body["scopes"]) == ("ci", "team", ["read", "write"])

    assert (await guarded.get("/runs", headers=bearer(key))).status_code == 200
    (listed,) = (await guarded.get("/keys", headers=ADMIN)).json()
    assert (listed["id"], listed["prefix"]) == (body["id"], body["prefix"])
    assert "key" not in listed
    assert key not in str(listed)
    assert listed["last_used_at"] is not None
    assert listed["revoked_at"] is None


async def test_bad_key_requests_name_the_field(guarded: httpx.AsyncClient) -> None:
    unknown = await guarded.post(
        "/keys", json={"name": "x", "project": "nope", "scopes": ["read"]}, headers=ADMIN
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "project"
    bad_scope = await guarded.post("/keys", json={"name": "x", "scopes": ["root"]}, headers=ADMIN)
    assert bad_scope.status_code == 422
    assert bad_scope.json()["errors"][0]["field"] == "scopes[0]"
    no_scope = await guarded.post("/keys", json={"name": "x", "scopes": []}, headers=ADMIN)
    assert no_scope.json()["errors"][0]["field"] == "scopes"
    twice = await guarded.post("/projects", json={"name": "default"}, headers=ADMIN)
    assert twice.status_code == 409


async def test_revocation_holds_at_once_in_every_process(
    auth_settings: Settings, db_url: str
) -> None:
    key = await make_key(db_url, [Scope.READ])
    # Two app instances on one database, as two service processes are.
    async with serve(auth_settings) as first, serve(auth_settings) as second:
        for client in (first, second):
            assert (await client.get("/runs", headers=bearer(key.key))).status_code == 200
        gone = await first.delete(f"/keys/{key.id}", headers=ADMIN)
        assert gone.status_code == 204
        for client in (first, second):
            refused = await client.get("/runs", headers=bearer(key.key))
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "Bearer"
        (listed,) = (await second.get("/keys", headers=ADMIN)).json()
        assert listed["revoked_at"] is not None
        assert (await first.delete("/keys/" + "0" * 32, headers=ADMIN)).status_code == 404


async def test_a_key_sees_its_own_project_only(guarded: httpx.AsyncClient, db_url: str) -> None:
    for project in ("alpha", "beta"):
        await make_project(db_url, project)
    alpha = (await make_key(db_url, ["read", "write", "vote"], "alpha", name="alpha ci")).key
    beta = (await make_key(db_url, ["read", "write", "vote"], "beta")).key
    made = await guarded.post(
        "/compare",
        params={"wait": 30},
        json={"prompts": ["hi"], "models": ["echo", {"model": "echo", "label": "two"}]},
        headers={**bearer(alpha), **JSON},
    )
    assert made.status_code == 200, made.text
    run = made.json()
    assert run["created_by"] == {"name": "alpha ci", "prefix": alpha[:11]}

    async def listed(key: str) -> list[str]:
        page = (await guarded.get("/runs", headers=bearer(key))).json()
        return [r["id"] for r in page["items"]]

    assert await listed(alpha) == [run["id"]]
    assert await listed(beta) == []
    assert await listed(ADMIN_KEY) == [run["id"]]  # admin: every project
    assert (await guarded.get(f"/runs/{run['id']}", headers=bearer(beta))).status_code == 404
    shown = (await guarded.get(f"/runs/{run['id']}", headers=bearer(alpha))).json()
    assert shown["created_by"]["name"] == "alpha ci"

    # Votes on its answers, and the leaderboard, are alpha's too.
    answers = [r["id"] for r in run["prompts"][0]["responses"].values()]
    vote = {"a": answers[0], "b": answers[1], "winner": "a", "voter": "someone"}
    refused = await guarded.post("/votes", json=vote, headers={**bearer(beta), **JSON})
    assert refused.status_code == 422
    assert refused.json()["detail"] == f"no response with id {answers[0]}"
    assert (
        await guarded.post("/votes", json=vote, headers={**bearer(alpha), **JSON})
    ).status_code == 201
    board = await guarded.get("/leaderboard", params={"bootstrap": 0}, headers=bearer(beta))
    assert board.json()["contenders"] == []
    board = await guarded.get("/leaderboard", params={"bootstrap": 0}, headers=bearer(alpha))
    assert len(board.json()["contenders"]) == 2
    other = await guarded.get(
        "/leaderboard", params={"run": run["id"], "bootstrap": 0}, headers=bearer(beta)
    )
    assert other.status_code == 404


async def test_with_auth_off_runs_go_to_the_default_project_without_a_creator(
    client: httpx.AsyncClient, db_url: str
) -> None:
    made = await client.post(
        "/compare", params={"wait": 30}, json={"prompts": ["hi"], "models": ["echo"]}
    )
    assert made.json()["created_by"] is None
    assert (await client.get("/keys")).status_code == 200  # no key needed on loopback


async def test_an_idempotency_key_of_another_project_names_no_run(
    guarded: httpx.AsyncClient, db_url: str
) -> None:
    for project in ("alpha", "beta"):
        await make_project(db_url, project)
    alpha = (await make_key(db_url, ["write"], "alpha")).key
    beta = (await make_key(db_url, ["write"], "beta")).key
    body = {"prompts": ["hi"], "models": ["echo"]}
    sent = {**JSON, "Idempotency-Key": "shared-key"}
    first = await guarded.post("/compare", json=body, headers={**sent, **bearer(alpha)})
    assert first.status_code == 202
    again = await guarded.post("/compare", json=body, headers={**sent, **bearer(beta)})
    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "Idempotency-Key"
    assert first.json()["id"] not in again.text
