"""Requests a web page could send on its user's behalf are refused: unknown Host names (DNS
rebinding) and state-changing requests that are not JSON (cross-site forms and beacons)."""

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.server.guards import LOOPBACK_NAMES, allowed_hosts, host_name
from tests.support.app import serve
from tests.support.settings import IsolatedSettings

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("host", "configured", "allowed"),
    [
        ("127.0.0.1", None, LOOPBACK_NAMES),
        ("localhost", None, LOOPBACK_NAMES),
        ("::1", None, LOOPBACK_NAMES),
        ("127.0.0.2", None, LOOPBACK_NAMES),
        ("0.0.0.0", None, None),
        ("10.1.2.3", None, None),
        ("0.0.0.0", "API.example.org, ,llm.in", LOOPBACK_NAMES | {"api.example.org", "llm.in"}),
        ("127.0.0.1", "*", None),
    ],
)  # fmt: skip
def test_allowed_hosts_default_to_loopback_names_when_bound_to_loopback(
    host: str, configured: str | None, allowed: frozenset[str] | None
) -> None:
    assert allowed_hosts(IsolatedSettings(host=host, allowed_hosts=configured)) == allowed


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost", "localhost"),
        ("Example.ORG:8443", "example.org"),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:8000", "[::1]"),
        ("[::1]", "[::1]"),
        ("", ""),
    ],
)
def test_host_name_drops_the_port(header: str, name: str) -> None:
    assert host_name(header) == name


async def test_a_foreign_host_name_is_a_400_problem(client: httpx.AsyncClient) -> None:
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        assert (await client.get("/healthz", headers={"Host": host})).status_code == 200
    # A rebinding page: its own name, resolving to 127.0.0.1.
    refused = await client.post(
        "/compare", json={"prompts": ["hi"], "models": ["echo"]}, headers={"Host": "evil.example"}
    )
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["errors"][0]["field"] == "Host"
    assert "'evil.example'" in problem["detail"]
    assert "LLM_COMPARE_ALLOWED_HOSTS" in problem["detail"]
    assert (await client.get("/runs")).json()["items"] == []


async def test_configured_host_names_are_answered(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(host="0.0.0.0", allowed_hosts="llm.example.org", auth="off")
    async with serve(settings) as client:
        for host, status in [("llm.example.org:443", 200), ("localhost", 200), ("other.org", 400)]:
            response = await client.get("/healthz", headers={"Host": host})
            assert response.status_code == status, host
    async with serve(make_settings(host="0.0.0.0", auth="off")) as client:
        assert (await client.get("/healthz", headers={"Host": "other.org"})).status_code == 200


async def test_state_changing_requests_that_are_not_json_change_nothing(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    # Each pair's first call fails and only one attempt is made: the run ends with failures.
    catalogue = tmp_path / "catalogue.json"
    flaky = {
        "name": "flaky",
        "adapter": "echo",
        "upstream": "echo",
        "options": {"fail_first_attempts": 1, "fail_status": 503},
    }
    catalogue.write_text(json.dumps({"models": [flaky]}))
    async with serve(make_settings(catalogue_file=catalogue, max_attempts=1)) as client:
        body = {"prompts": ["a"], "models": ["flaky"]}
        run = (await client.post("/compare", params={"wait": 10}, json=body)).json()
        assert run["status"] == "failed"
        retry = f"/runs/{run['id']}/retry"

        # What an HTML form on another site sends, and what a beacon sends.
        form = await client.post(retry, data={"x": "1"})
        bare = await client.post(retry)
        for refused, sent in [(form, "'application/x-www-form-urlencoded'"), (bare, "no ")]:
            assert refused.status_code == 415, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["errors"][0]["field"] == "Content-Type"
            assert sent in refused.json()["detail"]
        # A form with enctype="text/plain" can carry a JSON-looking body.
        text = await client.post(
            "/compare", content=json.dumps(body), headers={"Content-Type": "text/plain"}
        )
        assert text.status_code == 415
        assert "'text/plain'" in text.json()["detail"]

        unchanged = (await client.get(f"/runs/{run['id']}")).json()
        assert unchanged["status"] == "failed"
        assert unchanged["prompts"][0]["responses"]["flaky"]["attempts"] == 1
        assert [r["id"] for r in (await client.get("/runs")).json()["items"]] == [run["id"]]

        # What the command line sends, and what a page may send only after a preflight.
        assert (await client.post(retry, headers=JSON)).status_code == 202
        await client.get(f"/runs/{run['id']}", params={"wait": 10})
        marked = await client.post(retry, headers={"X-Requested-With": "XMLHttpRequest"})
        assert marked.status_code == 200  # nothing failed any more
        assert marked.json()["status"] == "succeeded"
        typed = {"Content-Type": "application/vnd.api+json; charset=utf-8"}
        assert (await client.post("/compare", json=body, headers=typed)).status_code == 202
