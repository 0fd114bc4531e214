"""The embedded default: a private PostgreSQL that survives restarts and its owner's SIGKILL."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
from sqlalchemy import text

from app.db.embedded import EmbeddedPostgres
from app.db.engine import create_engine

START_AND_HANG = """
import sys, time
from pathlib import Path
from app.db.embedded import EmbeddedPostgres
print(EmbeddedPostgres.start(Path(sys.argv[1])).url, flush=True)
time.sleep(600)
"""


def _postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


async def _gone(pid: int, timeout: float = 10) -> bool:
    """Whether the process has exited (a zombie awaiting its reaper counts as exited)."""
    for _ in range(int(timeout / 0.1)):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        await asyncio.sleep(0.1)
    return False


async def _execute(url: str, *statements: str) -> list[object]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            results = []
            for statement in statements:
                result = await connection.execute(text(statement))
                results.append(result.scalar() if result.returns_rows else None)
    finally:
        await engine.dispose()
    return results


async def test_data_survives_a_stop_and_start(tmp_path: Path) -> None:
    server = await asyncio.to_thread(EmbeddedPostgres.start, tmp_path)
    try:
        version = await _execute(
            server.url,
            "CREATE TABLE kept (v int)",
            "INSERT INTO kept VALUES (42)",
            "SHOW server_version",
        )
        assert str(version[-1]).split(".")[0].isdigit()
    finally:
        await asyncio.to_thread(server.stop)
    assert _postmaster_pid(tmp_path) is None  # nothing left running

    server = await asyncio.to_thread(EmbeddedPostgres.start, tmp_path)
    try:
        assert await _execute(server.url, "SELECT v FROM kept") == [42]
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_server_left_by_a_killed_process_is_reused_then_stopped(tmp_path: Path) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", START_AND_HANG, str(tmp_path)],
        stdout=subprocess.PIPE,
        env={**os.environ},
    )
    assert owner.stdout is not None
    url = (await asyncio.to_thread(owner.stdout.readline)).decode().strip()
    await _execute(url, "CREATE TABLE kept (v int)", "INSERT INTO kept VALUES (7)")
    owner.send_signal(signal.SIGKILL)
    owner.wait(10)
    leftover = _postmaster_pid(tmp_path)
    assert leftover is not None
    assert psutil.pid_exists(leftover)  # SIGKILL ran no clean-up: the server is still up

    server = await asyncio.to_thread(EmbeddedPostgres.start, tmp_path)
    try:
        assert _postmaster_pid(tmp_path) == leftover  # reused, not a second server
        assert await _execute(server.url, "SELECT v FROM kept") == [7]
    finally:
        await asyncio.to_thread(server.stop)
        if psutil.pid_exists(leftover):  # never leave a server behind, even when failing
            psutil.Process(leftover).terminate()
    # The killed owner is forgotten, so the last live user really stops the server.
    assert _postmaster_pid(tmp_path) is None
    assert await _gone(leftover)
