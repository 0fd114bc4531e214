"""Signing in to the pages with a key: the session cookie, its CSRF token, what a signed-in
key sees, signing out; against the real service and PostgreSQL, with auth on."""

import base64
from collections.abc import Callable

import httpx
import pytest

from app.access.scopes import Scope
from app.access.sessions import COOKIE, CSRF_HEADER
from app.config import Settings
from app.web.login import local_path
from tests.support.access import ADMIN_KEY, bearer, make_key, make_project, sign_in
from tests.support.app import serve
from tests.support.judging import JSON

ECHO = {"prompts": ["hello"], "models": [{"model": "echo"}]}
PAGE = {"Accept": "text/html"}


async def _login(
    client: httpx.AsyncClient, key: str, next_path: str = "/ui", **headers: str
) -> httpx.Response:
    response = await client.post("/ui/login", data={"key": key, "next": next_path}, headers=headers)
    client.cookies.clear()  # each test sends the cookie it means to, explicitly
    return response


def _cookie(response: httpx.Response) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={response.cookies[COOKIE]}"}


async def test_a_key_signs_in_to_a_signed_httponly_cookie_without_the_key(
    guarded: httpx.AsyncClient, db_url: str
) -> None:
    await make_project(db_url, "team")
    made = await make_key(db_url, [Scope.READ, Scope.WRITE], "team", name="ana's laptop")

    response = await _login(guarded, made.key, "/ui/compare?example=echo")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/ui/compare?example=echo"
    set_cookie = response.headers["set-cookie"]
    flags = {part.strip().lower() for part in set_cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/", "max-age=43200"} <= flags
    assert "secure" not in flags
    value = response.cookies[COOKIE]
    payload = base64.urlsafe_b64decode(value.split(".")[0] + "==")
    assert made.key not in value
    assert made.key.encode() not in payload

    page = await guarded.get("/ui", headers={**_cookie(response), **PAGE})
    assert page.status_code == 200, page.text
    assert "Signed in as <strong>ana&#39;s laptop</strong>" in page.text
    assert made.prefix in page.text
    assert "project <strong>team</strong>" in page.text
    assert 'action="/ui/logout"' in page.text
    assert made.key not in page.text


async def test_the_bootstrap_key_signs_in_as_admin(guarded: httpx.AsyncClient) -> None:
    response = await _login(guarded, ADMIN_KEY)
    assert response.status_code == 303, response.text
    page = await guarded.get("/ui", headers={**_cookie(response), **PAGE})
    assert "LLM_COMPARE_ADMIN_KEY" in page.text
    assert "project <strong>default</strong>" in page.text


async def test_a_wrong_key_gets_the_form_again_with_a_401(guarded: httpx.AsyncClient) -> None:
    wrong = "lc_this-key-was-never-made-0123456789abcdef"
    response = await _login(guarded, wrong)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "unknown or revoked" in response.text
    assert wrong not in response.text
    assert "set-cookie" not in response.headers

    empty = await _login(guarded, "  ")
    assert empty.status_code == 422
    assert "Enter an API key" in empty.text


async def test_the_cookie_is_secure_and_lasts_as_configured(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        auth="on", admin_key=ADMIN_KEY, secure_cookies=True, session_max_age_s=600
    )
    async with serve(settings) as client:
        response = await _login(client, ADMIN_KEY)
    flags = {part.strip().lower() for part in response.headers["set-cookie"].split(";")[1:]}
    assert {"secure", "max-age=600"} <= flags


async def test_a_change_through_the_cookie_needs_the_csrf_token(
    guarded: httpx.AsyncClient, db_url: str
) -> None:
    made = await make_key(db_url, [Scope.READ, Scope.WRITE])
    session = await sign_in(guarded, made.key)
    cookie = {"Cookie": session["Cookie"]}

    missing = await guarded.post("/compare", json=ECHO, headers=cookie)
    wrong = await guarded.post("/compare", json=ECHO, headers={**cookie, CSRF_HEADER: "x" * 43})
    for refused in (missing, wrong):
        assert refused.status_code == 403, refused.text
        assert refused.json()["errors"][0]["field"] == CSRF_HEADER
        assert "CSRF token" in refused.json()["detail"]
    right = await guarded.post("/compare", json=ECHO, headers=session)
    assert right.status_code == 202, right.text
    # A bearer key needs no CSRF token: no browser sends it on its own.
    assert (await guarded.post("/compare", json=ECHO, headers=bearer(made.key))).status_code == 202


async def test_a_read_only_key_cannot_compare_through_its_cookie(
    guarded: httpx.AsyncClient, db_url: str
) -> None:
    made = await make_key(db_url, [Scope.READ])
    session = await sign_in(guarded, made.key)
    refused = await guarded.post("/compare", json=ECHO, headers=session)
    assert refused.status_code == 403, refused.text
    assert "`write` scope" in refused.json()["detail"]


async def test_revoking_a_key_ends_its_sessions_at_once(
    guarded: httpx.AsyncClient, db_url: str
) -> None:
    made = await make_key(db_url, [Scope.READ, Scope.WRITE])
    session = await sign_in(guarded, made.key)
    assert (await guarded.get("/ui", headers={**session, **PAGE})).status_code == 200

    revoked = await guarded.delete(f"/keys/{made.id}", headers=bearer(ADMIN_KEY))
    assert revoked.status_code == 204
    page = await guarded.get("/ui/compare?example=echo", headers={**session, **PAGE})
    assert page.status_code == 303
    assert page.headers["location"] == "/ui/login?next=/ui/compare%3Fexample%3Decho"
    assert "max-age=0" in page.headers["set-cookie"].lower()  # the dead cookie cleared
    api = await guarded.post("/compare", json=ECHO, headers=session)
    assert api.status_code == 401, api.text


async def test_a_key_sees_only_its_own_projects_runs_in_the_pages(
    guarded: httpx.AsyncClient, db_url: str
) -> None:
    for project in ("alpha", "beta"):
        await make_project(db_url, project)
    alpha = await make_key(db_url, [Scope.READ, Scope.WRITE], "alpha")
    beta = await make_key(db_url, [Scope.READ, Scope.WRITE], "beta")
    theirs = await guarded.post(
        "/compare", json={**ECHO, "name": "alpha's run"}, headers={**bearer(alpha.key), **JSON}
    )
    assert theirs.status_code == 202, theirs.text
    session = await sign_in(guarded, beta.key)
    ours = await guarded.post("/compare", json={**ECHO, "name": "beta's run"}, headers=session)
    assert ours.status_code == 202, ours.text
    ours_id, theirs_id = ours.json()["id"], theirs.json()["id"]

    listed = await guarded.get("/ui", headers={**session, **PAGE})
    assert ours_id in listed.text
    assert theirs_id not in listed.text
    hidden = await guarded.get(f"/ui/runs/{theirs_id}", headers={**session, **PAGE})
    assert hidden.status_code == 404
    assert hidden.headers["content-type"].startswith("text/html")
    assert "alpha&#39;s run" not in hidden.text
    shown = await guarded.get(f"/ui/runs/{ours_id}", headers={**session, **PAGE})
    assert shown.status_code == 200
    # The run made through the page's cookie went to the key's project.
    assert (await guarded.get(f"/runs/{ours_id}", headers=bearer(beta.key))).status_code == 200
    assert (await guarded.get(f"/runs/{ours_id}", headers=bearer(alpha.key))).status_code == 404


@pytest.mark.parametrize(
    "wanted",
    [
        "https://evil.example/ui",
        "//evil.example/ui",
        "/\\evil.example/ui",
        "/\t/evil.example",
        "javascript:alert(1)",
        "ui",
        "",
    ],
)
def test_next_is_only_ever_a_path_on_this_site(wanted: str) -> None:
    assert local_path(wanted) == "/ui"


def test_next_keeps_a_local_path_and_its_query() -> None:
    assert local_path("/ui/runs/abc?differ=1") == "/ui/runs/abc?differ=1"


async def test_signing_in_does_not_redirect_to_another_site(guarded: httpx.AsyncClient) -> None:
    response = await _login(guarded, ADMIN_KEY, "//evil.example/steal")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui"


async def test_a_sign_in_form_posted_from_another_site_is_refused(
    guarded: httpx.AsyncClient,
) -> None:
    for headers in (
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        refused = await _login(guarded, ADMIN_KEY, **headers)
        assert refused.status_code == 403, (headers, refused.text)
        assert "set-cookie" not in refused.headers
    for headers in ({"Origin": "http://localhost"}, {"Sec-Fetch-Site": "same-origin"}):
        assert (await _login(guarded, ADMIN_KEY, **headers)).status_code == 303, headers


async def test_signing_out_clears_the_cookie_with_the_csrf_token(
    guarded: httpx.AsyncClient,
) -> None:
    session = await sign_in(guarded, ADMIN_KEY)
    cookie = {"Cookie": session["Cookie"]}
    forged = await guarded.post("/ui/logout", data={"csrf_token": "forged"}, headers=cookie)
    assert forged.status_code == 403, forged.text
    assert "set-cookie" not in forged.headers

    out = await guarded.post(
        "/ui/logout", data={"csrf_token": session[CSRF_HEADER]}, headers=cookie
    )
    assert out.status_code == 303
    assert out.headers["location"] == "/ui/login"
    assert f'{COOKIE}=""' in out.headers["set-cookie"]
    assert "max-age=0" in out.headers["set-cookie"].lower()


async def test_a_copy_of_the_cookie_is_refused_once_its_session_signed_out(
    guarded: httpx.AsyncClient,
) -> None:
    session = await sign_in(guarded, ADMIN_KEY)
    other = await sign_in(guarded, ADMIN_KEY)  # the same key, another browser
    copied = {"Cookie": session["Cookie"]}
    assert (await guarded.get("/runs", headers=copied)).status_code == 200

    out = await guarded.post(
        "/ui/logout", data={"csrf_token": session[CSRF_HEADER]}, headers=copied
    )
    assert out.status_code == 303

    refused = await guarded.get("/runs", headers=copied)
    assert refused.status_code == 401, refused.text
    assert "signed out" in refused.json()["detail"]
    page = await guarded.get("/ui", headers={**copied, **PAGE})
    assert page.status_code == 303
    assert page.headers["location"] == "/ui/login?next=/ui"
    assert (await guarded.get("/runs", headers={"Cookie": other["Cookie"]})).status_code == 200
    assert (await guarded.post("/compare", json=ECHO, headers=other)).status_code == 202


async def test_a_browser_without_a_session_is_sent_to_sign_in(
    guarded: httpx.AsyncClient,
) -> None:
    page = await guarded.get("/ui/leaderboard", headers=PAGE)
    assert page.status_code == 303
    assert page.headers["location"] == "/ui/login?next=/ui/leaderboard"
    form = await guarded.get("/ui/login?next=/ui/leaderboard", headers=PAGE)
    assert form.status_code == 200
    assert 'type="password" id="key" name="key"' in form.text
    assert '<label for="key">' in form.text
    assert 'name="next" value="/ui/leaderboard"' in form.text
    # An API client still gets its problem.
    api = await guarded.get("/ui/leaderboard")
    assert api.status_code == 401
    assert api.headers["www-authenticate"] == "Bearer"


async def test_every_process_and_restart_shares_the_stored_signing_secret(
    auth_settings: Settings, make_settings: Callable[..., Settings]
) -> None:
    async with serve(auth_settings) as first:
        session = await sign_in(first, ADMIN_KEY)
    async with serve(auth_settings) as second:
        assert (await second.get("/ui", headers={**session, **PAGE})).status_code == 200
    other_secret = make_settings(auth="on", admin_key=ADMIN_KEY, session_secret="s" * 40)
    async with serve(other_secret) as third:
        refused = await third.get("/ui", headers={**session, **PAGE})
        assert refused.status_code == 303  # a cookie it did not sign: sign in again


async def test_with_auth_off_there_is_nothing_to_sign_in_to(client: httpx.AsyncClient) -> None:
    form = await client.get("/ui/login?next=/ui/compare", headers=PAGE)
    assert form.status_code == 303
    assert form.headers["location"] == "/ui/compare"
    page = await client.get("/ui", headers=PAGE)
    assert page.status_code == 200
    assert "Sign out" not in page.text
