"""Run the real `llm-compare serve` command as a child process, for crash and scale tests."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import httpx

LLM_COMPARE = str(Path(sys.executable).parent / "llm-compare")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServiceProcess:
    """`llm-compare serve` on a free port with the given environment; killed on exit."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/root"),
            "LLM_COMPARE_PORT": str(self.port),
            "LLM_COMPARE_LOG_LEVEL": "warning",
            **env,
        }
        self._log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout: float = 60) -> "ServiceProcess":
        log = self._log_path.open("ab")
        # A session (process group) of its own: with several workers, uvicorn's worker
        # processes outlive a killed supervisor, and only the group reaches them all.
        self.process = subprocess.Popen(
            [LLM_COMPARE, "serve"],
            env=self._env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited: {self._log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"service not ready: {self._log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL to the service and its workers: no shutdown code runs, as when a machine
        or OOM killer takes them."""
        assert self.process is not None
        self._kill_group()
        self.process.wait(10)

    def _kill_group(self) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:  # none of them is left
            pass

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait up to `timeout` seconds: the clean shutdown path."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            return self.process.wait(timeout)
        return self.process.returncode

    def __enter__(self) -> "ServiceProcess":
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            self._kill_group()  # even once the supervisor has exited: its workers may not have
            self.process.wait(10)


@contextmanager
def service_with_models(
    database: str, folder: Path, models: Sequence[object], timeout: float = 30
) -> Iterator[tuple[ServiceProcess, httpx.Client]]:
    """A service on `database` (already migrated) whose catalogue is `models`, retrying
    quickly and polling often, and an HTTP client for it."""
    catalogue = folder / "catalogue.json"
    catalogue.write_text(json.dumps({"models": models}))
    env = {
        "DATABASE_URL": database,
        "LLM_COMPARE_CATALOGUE_FILE": str(catalogue),
        "LLM_COMPARE_MIGRATE_ON_START": "false",
        "LLM_COMPARE_MAX_ATTEMPTS": "2",
        "LLM_COMPARE_RETRY_INITIAL_S": "0.01",
        "LLM_COMPARE_POLL_INTERVAL_S": "0.1",
    }
    with ServiceProcess(env, folder / "service.log") as service:
        with httpx.Client(base_url=service.url, timeout=timeout) as api:
            yield service, api
