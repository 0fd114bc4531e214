"""The README's "From scripts" commands run as written against a live service."""

import csv
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.service_process import LLM_COMPARE, ServiceProcess

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

README = Path(__file__).parents[2] / "README.md"


def _from_scripts_block() -> str:
    section = README.read_text().split("## From scripts", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1
    return str(blocks[0])


def test_the_from_scripts_section_runs_as_written(db_url: str, tmp_path: Path) -> None:
    # The service as the first screen starts it: default settings and catalogue.
    service = ServiceProcess({"DATABASE_URL": db_url}, tmp_path / "service.log")
    with service, httpx.Client(base_url=service.url) as api:
        env = {
            **os.environ,
            "PATH": f"{Path(LLM_COMPARE).parent}:{os.environ['PATH']}",
            "LLM_COMPARE_URL": service.url,
        }
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", _from_scripts_block()],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        runs = api.get("/runs").json()["items"]
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader((tmp_path / "nightly.csv").open(newline="")))
    assert [(r["prompt_key"], r["label"], r["status"]) for r in rows] == [
        ("dog", "echo", "succeeded"),
        ("dog", "echo-flaky", "succeeded"),
        ("mars", "echo", "succeeded"),
        ("mars", "echo-flaky", "succeeded"),
    ]
    # The nightly run was made once, then deleted; its replay (whose parent is then gone) and
    # the cancelled demo run remain.
    assert [run["name"] for run in runs] == ["demo", "nightly"]
    assert (runs[1]["tags"], runs[1]["parent_id"]) == ({"ckpt": "43"}, None)
    assert runs[1]["status"] == "succeeded"
    assert runs[0]["status"] in ("running", "cancelled")
    assert runs[0]["counts"]["queued"] == 0
