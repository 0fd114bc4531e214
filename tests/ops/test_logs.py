"""Logs as JSON lines (`LLM_COMPARE_LOG_FORMAT=json`), each naming its run and pair."""

import json
from pathlib import Path

import httpx
import pytest

from tests.support.catalogues import echo_catalogue
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.slow


def test_json_log_lines_name_the_run_and_the_pair(tmp_path: Path, db_url: str) -> None:
    catalogue = echo_catalogue(
        tmp_path, broken={"options": {"fail_first_attempts": 9, "fail_status": 400}}
    )
    env = {
        "DATABASE_URL": db_url,
        "LLM_COMPARE_CATALOGUE_FILE": str(catalogue),
        "LLM_COMPARE_MIGRATE_ON_START": "false",
        "LLM_COMPARE_LOG_FORMAT": "json",
        "LLM_COMPARE_LOG_LEVEL": "info",
    }
    log_path = tmp_path / "service.log"
    with ServiceProcess(env, log_path) as service:
        body = {"prompts": ["this one fails"], "models": ["broken"]}
        response = httpx.post(f"{service.url}/compare", params={"wait": 20}, json=body)
        run_id = response.json()["id"]
        assert response.json()["status"] == "failed"
        assert httpx.get(f"{service.url}/runs/{run_id}/nothing-here").status_code == 404
        service.stop()
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    failed = [line for line in lines if line["message"].startswith("pair failed")]
    assert len(failed) == 1
    assert failed[0]["run_id"] == run_id
    assert isinstance(failed[0]["response_id"], int)
    assert failed[0]["level"] == "WARNING"
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert access  # uvicorn's own lines are JSON too
