"""The command line: `serve`, `migrate` and `diagnose` run the service or work on its
database; the rest talk to one over HTTP."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from app.client import commands, judging

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

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

    from app.config import AuthUnsetError, get_settings, set_environment
    from app.server.timeouts import TimedHttpProtocol

    _log_to_stderr()
    # Every process, uvicorn's workers among them, reads its settings from the environment,
    # so what the options say goes there first (the app also needs the address it is served
    # on: which Host names it answers to depends on it).
    set_environment(host=host, port=port, workers=workers)
    settings = get_settings()
    try:
        settings.auth_required()
    except AuthUnsetError as exc:
        _refuse(str(exc))
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
    from app.db.migrate import upgrade_to_head

    _log_to_stderr()
    _on_database(upgrade_to_head)


@cli.command()
def diagnose(
    run: Annotated[str | None, typer.Option("--run", help="Only this run's answers.")] = None,
    all_runs: Annotated[bool, typer.Option("--all", help="Every run's answers.")] = False,
    recompute: Annotated[
        bool, typer.Option("--recompute", help="Also answers whose diagnostics are current.")
    ] = False,
) -> None:
    """Compute the diagnostics of stored answers that have none, or older ones (in the
    database at DATABASE_URL, or the embedded default), in batches. Safe to stop and rerun."""
    from app.db.migrate import current_revisions, head_revisions
    from app.judging.backfill import backfill, run_exists

    _log_to_stderr("warning")  # its progress is its own; answers it cannot diagnose
    if (run is None) == (not all_runs):
        _refuse("name one run with --run RUN, or every run with --all")
    try:
        run_id = uuid.UUID(run) if run is not None else None
    except ValueError:
        _refuse(f"--run: {run!r} is not a run id")

    async def work(engine: "AsyncEngine") -> None:
        if await current_revisions(engine) != head_revisions():
            _refuse("the database is not migrated to this version: run `llm-compare migrate`")
        if run_id is not None and not await run_exists(engine, run_id):
            _refuse(f"no run with id {run_id}")
        total = 0
        async for batch in backfill(engine, run_id, recompute):
            total += batch.diagnosed
            typer.echo(f"diagnosed {total} answers (up to id {batch.last_id})", err=True)
        typer.echo(f"done: {total} answers diagnosed", err=True)

    _on_database(work)


def _refuse(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _on_database(work: Callable[["AsyncEngine"], Awaitable[None]]) -> None:
    """Run `work` on DATABASE_URL's database, or on the embedded one (started for it)."""
    from app.config import get_settings
    from app.db.embedded import EmbeddedPostgres
    from app.db.engine import create_engine

    settings = get_settings()

    async def run(url: str) -> None:
        engine = create_engine(url, pool_size=1)
        try:
            await work(engine)
        finally:
            await engine.dispose()

    if settings.database_url:
        asyncio.run(run(settings.database_url))
        return
    server = EmbeddedPostgres.start(settings.data_dir)
    try:
        asyncio.run(run(server.url))
    finally:
        server.stop()


commands.register(cli)
judging.register(cli)


def _log_to_stderr(level: str | None = None) -> None:
    from app import logs
    from app.config import get_settings

    settings = get_settings()
    logs.configure(level or settings.log_level, settings.log_format)


def main() -> None:
    cli()
