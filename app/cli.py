"""The command line: `serve` and `migrate` run the service; the rest talk to one over HTTP."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from app.client import commands, judging

if TYPE_CHECKING:
    from app.config import Settings

cli = typer.Typer(help="Compare language models side by side.", no_args_is_help=True)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: LLM_COMPARE_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Default: LLM_COMPARE_PORT or 8000")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Service processes; default: LLM_COMPARE_WORKERS or 1")
    ] = None,
) -> None:
    """Run the service (API and dispatcher) in one or more processes on one port. With no
    DATABASE_URL, on an embedded PostgreSQL, started once for all of them."""
    import uvicorn

    from app.config import get_settings, set_environment
    from app.server.timeouts import TimedHttpProtocol

    _log_to_stderr()
    # Every process, uvicorn's workers among them, reads its settings from the environment,
    # so what the options say goes there first (the app also needs the address it is served
    # on: which Host names it answers to depends on it).
    set_environment(host=host, port=port, workers=workers)
    settings = get_settings()
    with _database_for_workers(settings):
        uvicorn.run(
            "app.main:served_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            http=TimedHttpProtocol,
            ws="none",
            timeout_keep_alive=settings.keep_alive_timeout_s,
            log_level=settings.log_level,
            log_config=None,  # each process configures its own (app.logs), as text or JSON
            # Waiting requests answer as soon as the stop begins; this only bounds the rest.
            timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_s)),
        )


@contextmanager
def _database_for_workers(settings: "Settings") -> Iterator[None]:
    """With several workers, one embedded PostgreSQL for all (where no DATABASE_URL is set),
    migrated once here rather than by each."""
    from app.config import get_settings, set_environment
    from app.db.embedded import EmbeddedPostgres

    if settings.workers == 1:
        yield
        return
    server = None if settings.database_url else EmbeddedPostgres.start(settings.data_dir)
    try:
        url = settings.database_url or (server.url if server else "")
        if settings.migrate_on_start:
            asyncio.run(_migrate(url))
        set_environment(database_url=url, migrate_on_start=False)
        get_settings.cache_clear()
        yield
    finally:
        if server is not None:
            server.stop()


async def _migrate(url: str) -> None:
    from app.db.engine import create_engine
    from app.db.migrate import upgrade_to_head

    engine = create_engine(url, pool_size=1)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


@cli.command()
def migrate() -> None:
    """Apply the database migrations (to DATABASE_URL, or the embedded default) and exit."""
    from app.config import get_settings
    from app.db.embedded import EmbeddedPostgres

    _log_to_stderr()
    settings = get_settings()
    if settings.database_url:
        asyncio.run(_migrate(settings.database_url))
        return
    server = EmbeddedPostgres.start(settings.data_dir)
    try:
        asyncio.run(_migrate(server.url))
    finally:
        server.stop()


commands.register(cli)
judging.register(cli)


def _log_to_stderr() -> None:
    from app import logs
    from app.config import get_settings

    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)


def main() -> None:
    cli()
