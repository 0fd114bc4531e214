"""A live service on 127.0.0.1 for the command-line tests, and a way to run the real command."""

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.support.database import scratch_database
from tests.support.service_process import LLM_COMPARE, service_with_models

# Echo models with the behaviours the tests need; answers repeat the prompt.
CATALOGUE = [
    {"name": "slow", "adapter": "echo", "upstream": "echo", "concurrency": 1,
     "options": {"delay_ms": 150}},
    # Fails the first two calls of each pair; the service gives up after two.
    {"name": "flaky", "adapter": "echo", "upstream": "echo",
     "options": {"fail_first_attempts": 2, "fail_status": 503}},
]  # fmt: skip


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@dataclass
class Live:
    url: str
    api: httpx.Client

    def cli(
        self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
    ) -> Result:
        """Run `llm-compare ARGS` against the live service, as a script would."""
        env = {**os.environ, "LLM_COMPARE_URL": self.url, "COLUMNS": "200", **(env or {})}
        done = subprocess.run(
            [LLM_COMPARE, *args], input=stdin, capture_output=True, env=env, timeout=120
        )
        return Result(done.returncode, done.stdout.decode(), done.stderr.decode())

    def run_count(self) -> int:
        return len(self.api.get("/runs", params={"limit": 200}).json()["items"])


@pytest.fixture(scope="module")
async def live_db(template_database: str) -> AsyncIterator[str]:
    async with scratch_database(template_database, "llmc_cli") as url:
        yield url


@pytest.fixture(scope="module")
def live(live_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("live")
    with service_with_models(live_db, folder, CATALOGUE, timeout=30) as (service, api):
        yield Live(service.url, api)
