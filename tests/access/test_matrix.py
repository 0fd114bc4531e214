"""The authorization matrix: every route of the app x {no key, a revoked key, another
project's key, a key of each scope, each scope's key signed in to the pages (a session cookie
with its CSRF token, and without it)}, generated from `app.routes`, so that a new endpoint
without a rule in app/access/scopes.py fails here."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import Route

from app.access.caller import Caller
from app.access.scopes import RULES, NoRule, Scope, rule_for
from app.main import create_app
from tests.support.access import ADMIN_KEY, bearer, make_key, make_project, sign_in
from tests.support.app import serve
from tests.support.database import admin, database_url
from tests.support.judging import JSON
from tests.support.settings import IsolatedSettings

TWO = [{"model": "echo", "label": "a"}, {"model": "echo", "label": "b"}]


def _routes() -> list[tuple[str, str]]:
    app = create_app(IsolatedSettings())
    found: set[tuple[str, str]] = set()
    # Included routers are resolved lazily; their route contexts hold the full paths.
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Route) and context.path:  # not the static files' Mounts
            found.update((m, context.path) for m in route.methods or () if m != "HEAD")
    return sorted(found, key=lambda r: (r[1], r[0]))


ROUTES = _routes()


def test_every_route_has_a_rule_and_every_rule_a_route() -> None:
    missing = []
    for method, path in ROUTES:
        try:
            rule_for(method, path)
        except NoRule:
            missing.append(f"{method} {path}")
    assert missing == [], "routes without an access rule in app/access/scopes.py"
    assert set(RULES) - set(ROUTES) == set(), "rules for routes that do not exist"


@dataclass
class World:
    client: httpx.AsyncClient
    keys: dict[str, str]  # scope name, "revoked", "other project" -> key
    sessions: dict[str, dict[str, str]]  # scope name -> its signed-in cookie and CSRF headers
    run_id: str
    battle_id: str
    spare_key_id: str

    async def fresh_run(self) -> str:
        """A finished run of project alpha's, for requests that may change or delete theirs."""
        response = await self.client.post(
            "/compare",
            params={"wait": 30},
            json={"prompts": ["hi"], "models": TWO},
            headers=bearer(self.keys["write"]),
        )
        assert response.status_code == 200, response.text
        run_id: str = response.json()["id"]
        return run_id


@pytest.fixture(scope="module")
async def world(template_database: str) -> AsyncIterator[World]:
    name = f"llmc_matrix_{uuid.uuid4().hex[:12]}"
    await admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    url = database_url(name)
    try:
        for project in ("alpha", "beta"):
            await make_project(url, project)
        keys = {s.value: (await make_key(url, [s], "alpha")).key for s in Scope}
        keys["other project"] = (
            await make_key(url, [Scope.READ, Scope.WRITE, Scope.VOTE], "beta")
        ).key
        revoked = await make_key(url, [Scope.READ, Scope.WRITE, Scope.VOTE], "alpha")
        spare = await make_key(url, [Scope.READ], "alpha")
        keys["revoked"] = revoked.key
        settings = IsolatedSettings(
            database_url=url, migrate_on_start=False, auth="on", admin_key=ADMIN_KEY
        )
        async with serve(settings) as client:
            assert (
                await client.delete(f"/keys/{revoked.id}", headers=bearer(ADMIN_KEY))
            ).status_code == 204
            sessions = {s.value: await sign_in(client, keys[s.value]) for s in Scope}
            world = World(client, keys, sessions, "", "", str(spare.id))
            world.run_id = await world.fresh_run()
            battle = await client.post(
                f"/runs/{world.run_id}/battles", headers={**bearer(keys["vote"]), **JSON}
            )
            assert battle.status_code == 201, battle.text
            world.battle_id = battle.json()["id"]
            yield world
    finally:
        await admin(f'DROP DATABASE "{name}" WITH (FORCE)')


def _is_page(method: str, path: str) -> bool:
    return method == "GET" and (path == "/" or path.startswith("/ui"))


def _problem(response: httpx.Response, status: int) -> None:
    """A refusal: problem details from the API, a page with the status from the pages."""
    assert response.status_code == status, response.text
    path = response.request.url.path
    if _is_page(response.request.method, path):
        assert response.headers["content-type"].startswith("text/html"), response.text
        return
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


async def _call(
    world: World, method: str, path: str, key: str | None, session: dict[str, str] | None = None
) -> httpx.Response:
    """`method path` with the world's run and battle in it (a fresh run for a request that
    passes the access check: it may cancel, judge or delete its run), sent with `key`, or
    with a signed-in `session`'s headers."""
    run_id = world.run_id
    passes = (key is not None and key in world.keys.values()) or session is not None
    if (
        ("{run_id}" in path or "{a}" in path)
        and passes
        and key not in (world.keys["revoked"], world.keys["other project"])
    ):
        run_id = await world.fresh_run()
    url = path.format(
        run_id=run_id, a=run_id, b=run_id, battle_id=world.battle_id, key_id=world.spare_key_id
    )
    headers = {**JSON, **(bearer(key) if key else {}), **(session or {})}
    if path == "/" or path.startswith("/ui"):
        headers["Accept"] = "text/html"  # as a browser asks for a page
    body: Any = {} if method in ("POST", "PUT", "PATCH") else None
    return await world.client.request(method, url, headers=headers, json=body)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_route(world: World, method: str, path: str) -> None:
    rule = rule_for(method, path)
    refusals = (401, 403)

    no_key = await _call(world, method, path, None)
    revoked = await _call(world, method, path, world.keys["revoked"])
    if rule is None:  # public: a probe or the documentation
        assert no_key.status_code not in refusals, no_key.text
        assert revoked.status_code not in refusals, revoked.text
        return
    for refused in (no_key, revoked):
        if _is_page(method, path) and refused is no_key:  # a browser, to the sign-in form
            assert refused.status_code == 303, refused.text
            assert refused.headers["location"].startswith("/ui/login?next=/")
            continue
        _problem(refused, 401)
        if not _is_page(method, path):
            assert refused.headers["www-authenticate"] == "Bearer"

    other = await _call(world, method, path, world.keys["other project"])
    if rule == Scope.ADMIN:
        _problem(other, 403)
    elif any(name in path for name in ("{run_id}", "{a}", "{battle_id}")):
        _problem(other, 404)  # as if it did not exist
    else:
        assert other.status_code not in (*refusals, 404), other.text

    for scope in Scope:
        answer = await _call(world, method, path, world.keys[scope.value])
        if Caller(uuid.uuid4(), frozenset({scope})).may(rule):
            assert answer.status_code not in (*refusals, 404), (scope, answer.text)
        else:
            _problem(answer, 403)
            assert f"`{rule}`" in answer.text


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_route_signed_in(world: World, method: str, path: str) -> None:
    """A key signed in to the pages may do through its session cookie what it may do with
    `Authorization: Bearer`, no more; a change also needs the session's CSRF token."""
    rule = rule_for(method, path)
    if rule is None:
        return  # public: covered above
    for scope in Scope:
        session = world.sessions[scope.value]
        answer = await _call(world, method, path, None, session)
        if Caller(uuid.uuid4(), frozenset({scope})).may(rule):
            assert answer.status_code not in (401, 403, 404), (scope, answer.text)
        else:
            _problem(answer, 403)
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            no_token = {k: v for k, v in session.items() if k != "X-CSRF-Token"}
            for sent in (no_token, {**no_token, "X-CSRF-Token": "forged"}):
                refused = await _call(world, method, path, None, sent)
                _problem(refused, 403)
                assert refused.json()["errors"][0]["field"] == "X-CSRF-Token"
