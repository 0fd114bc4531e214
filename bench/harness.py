"""What the benchmarks share: a fake provider process, a database per configuration, a
service whose catalogue points at the fake, one timed run, and the machine's state.

Every figure the benchmarks print is a ratio of runs made side by side in one invocation:
the machine is shared, so absolute times say little, and each line notes the load average.
"""

import asyncio
import contextlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from tests.support.database import admin, database_url
from tests.support.service_process import ServiceProcess, free_port

ROOT = Path(__file__).resolve().parents[1]  # where `tests` and `bench` are importable


def load_average() -> str:
    """The 1-minute load average, as `uptime` shows it."""
    return f"{os.getloadavg()[0]:.2f}"


def machine() -> str:
    """One line: cores, processor, memory, PostgreSQL server."""
    model = "unknown processor"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores ({model}), {memory:.0f} GiB, {platform.python_version()}"


def _cpu_by_process(processes: list[psutil.Process]) -> dict[int, float]:
    found = {}
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            found[process.pid] = times.user + times.system
    return found


def _tree(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.NoSuchProcess):
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    return []


def _backends(db_url: str) -> list[psutil.Process]:
    """The PostgreSQL server processes serving connections to this database."""
    title = f" {db_url.rsplit('/', 1)[1]} "
    return [
        process
        for process in psutil.process_iter(["name", "cmdline"])
        if process.info["name"] == "postgres" and title in " ".join(process.info["cmdline"] or ())
    ]


@dataclass(frozen=True)
class CpuMeter:
    """CPU time used by the service's processes, the fake provider's and the database's
    server processes: what each pair costs, and whether the machine's cores were all busy.
    Server processes that end before the reading are not counted."""

    service_pid: int
    provider_pid: int | None = None
    db_url: str | None = None

    def read(self) -> dict[str, dict[int, float]]:
        return {
            "service": _cpu_by_process(_tree(self.service_pid)),
            "provider": _cpu_by_process(_tree(self.provider_pid)) if self.provider_pid else {},
            "database": _cpu_by_process(_backends(self.db_url)) if self.db_url else {},
        }

    @staticmethod
    def used(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
    ) -> dict[str, float]:
        return {
            part: sum(t - before[part].get(pid, 0.0) for pid, t in times.items())
            for part, times in after.items()
        }


def span(values: Sequence[float], fmt: str = "{:.2f}", suffix: str = "") -> str:
    """`a–b` (min–max) for repeated runs, or the one value."""
    low, high = min(values), max(values)
    if fmt.format(low) == fmt.format(high):
        return fmt.format(low) + suffix
    return f"{fmt.format(low)}–{fmt.format(high)}{suffix}"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


class FakeProvider:
    """The OpenAI-compatible fake as a process of its own, counting requests by body."""

    def __init__(self, latency_ms: float) -> None:
        self.latency_ms = latency_ms
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "FakeProvider":
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.fakes.openai_server",
                "--port",
                str(self.port),
                "--latency-ms",
                str(self.latency_ms),
                "--tally",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        for _ in range(200):
            try:
                httpx.get(f"{self.url}/stats", timeout=2)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("the fake provider did not start")

    def stats(self) -> dict[str, int]:
        """`requests`, `distinct` bodies and `duplicates` (requests repeating an earlier one)."""
        answer: dict[str, int] = httpx.get(f"{self.url}/stats", timeout=10).json()
        return answer

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


@contextlib.contextmanager
def fresh_database(prefix: str = "llmc_bench") -> Iterator[str]:
    """A new empty database on the test server (127.0.0.1:5432), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield database_url(name)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def model_names(count: int) -> list[str]:
    return [f"bench-{i}" for i in range(count)]


def write_catalogue(path: Path, fake_url: str, models: Sequence[str], concurrency: int) -> Path:
    """A catalogue whose models all call the fake, each with `concurrency` calls in flight."""
    entries = [
        {
            "name": name,
            "adapter": "openai",
            "upstream": name,
            "template": "chat",
            "base_url": f"{fake_url}/v1",
            "api_key": "sk-bench",
            "concurrency": concurrency,
        }
        for name in models
    ]
    path.write_text(json.dumps({"models": entries}))
    return path


async def _listeners(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'llm-compare-listener'"
        )
        return count
    finally:
        await connection.close()


@contextlib.contextmanager
def service(
    db_url: str,
    catalogue: Path,
    workdir: Path,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
) -> Iterator[ServiceProcess]:
    """`llm-compare serve` with `workers` processes (LLM_COMPARE_WORKERS) on `db_url`, once
    every worker listens for work (one notification listener each), killed afterwards."""
    env = {
        "DATABASE_URL": db_url,
        "LLM_COMPARE_CATALOGUE_FILE": str(catalogue),
        "LLM_COMPARE_DATA_DIR": str(workdir / "data"),
        "LLM_COMPARE_WORKERS": str(workers),
        **(extra_env or {}),
    }
    process = ServiceProcess(env, workdir / f"service-{uuid.uuid4().hex[:6]}.log")
    try:
        process.start(ready_timeout=120)
        deadline = time.monotonic() + 60
        while asyncio.run(_listeners(db_url)) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {workers} workers started")
            time.sleep(0.1)
        yield process
    finally:
        process.__exit__(None, None, None)


def prompts(count: int, tag: str) -> list[str]:
    """`count` distinct prompts; `tag` keeps them distinct from another run's."""
    return [f"benchmark prompt {i} of {tag}" for i in range(count)]


@dataclass(frozen=True)
class Timed:
    wall_s: float
    accept_s: float
    cpu_s: dict[str, float]  # service (its processes together), provider, database
    succeeded: int
    status: str


def timed_run(
    service_url: str, meter: CpuMeter, texts: Sequence[str], models: Sequence[str]
) -> Timed:
    """Submit one run over HTTP and wait for it: from the POST to the finished run."""
    body: dict[str, Any] = {
        "prompts": list(texts),
        "models": list(models),
        "params": {"max_new_tokens": 16},
    }
    with httpx.Client(base_url=service_url, timeout=900) as client:
        cpu_before = meter.read()
        started = time.perf_counter()
        accepted = client.post("/compare", json=body)
        accepted.raise_for_status()
        accept_s = time.perf_counter() - started
        run = client.get(
            accepted.headers["location"], params={"wait": 300, "prompt_limit": 1}
        ).json()
        wall_s = time.perf_counter() - started
        cpu_s = CpuMeter.used(cpu_before, meter.read())
    return Timed(wall_s, accept_s, cpu_s, run["counts"]["succeeded"], run["status"])


def per_process_concurrency(total: int, models: int, workers: int) -> int:
    """In-flight calls per model and per process, so that all of them add up to `total`."""
    return math.ceil(total / (models * workers))
