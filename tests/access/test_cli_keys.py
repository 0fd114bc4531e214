"""`llm-compare keys` and `projects`: the first key straight on the database, the rest over
HTTP with it; a live service process with auth on, whose log never holds a key."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.service_process import LLM_COMPARE, ServiceProcess

pytestmark = pytest.mark.slow


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LLM_COMPARE, *args],
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_keys_from_the_database_then_over_http(db_url: str, tmp_path: Path) -> None:
    on_db = {"DATABASE_URL": db_url}
    first = _cli("keys", "create", "bootstrap", "--scope", "admin", "--database", env=on_db)
    assert first.returncode == 0, first.stderr
    admin_key = first.stdout.strip()
    assert admin_key.startswith("lc_")
    assert admin_key[:11] in first.stderr

    service_env = {
        "DATABASE_URL": db_url,
        "LLM_COMPARE_AUTH": "on",
        "LLM_COMPARE_MIGRATE_ON_START": "false",
        "LLM_COMPARE_LOG_LEVEL": "debug",
    }
    log = tmp_path / "service.log"
    with ServiceProcess(service_env, log) as service:
        admin = {"LLM_COMPARE_URL": service.url, "LLM_COMPARE_API_KEY": admin_key}
        made = _cli("projects", "create", "team", env=admin)
        assert made.returncode == 0, made.stderr
        assert json.loads(made.stdout)["name"] == "team"
        created = _cli(
            "keys", "create", "ci", "-s", "read", "--project", "team", "--rate-limit", "100",
            env=admin,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        ci_key = created.stdout.strip()

        listed = json.loads(_cli("keys", "list", env=admin).stdout)
        assert [(k["name"], k["project"]) for k in listed] == [
            ("bootstrap", "default"),
            ("ci", "team"),
        ]
        as_ci = {"LLM_COMPARE_URL": service.url, "LLM_COMPARE_API_KEY": ci_key}
        assert _cli("runs", env=as_ci).returncode == 0
        not_admin = _cli("keys", "list", env=as_ci)
        assert not_admin.returncode == 2
        assert "403" in not_admin.stderr

        ci_id = next(k["id"] for k in listed if k["name"] == "ci")
        assert _cli("keys", "revoke", ci_id, env=admin).returncode == 0
        revoked = _cli("runs", env=as_ci)
        assert revoked.returncode == 2
        assert "401" in revoked.stderr
        keyless = _cli("runs", env={"LLM_COMPARE_URL": service.url})
        assert keyless.returncode == 2
        assert "Authorization: Bearer" in keyless.stderr

    on_db_list = json.loads(_cli("keys", "list", "--database", env=on_db).stdout)
    assert next(k for k in on_db_list if k["name"] == "ci")["revoked_at"] is not None
    unknown = _cli(
        "keys", "create", "x", "-s", "read", "--project", "nope", "--database", env=on_db
    )
    assert unknown.returncode == 2
    assert "no project named 'nope'" in unknown.stderr
    text = log.read_text()
    assert "GET /runs" in text  # the log holds the requests, not their keys
    assert admin_key not in text
    assert ci_key not in text
