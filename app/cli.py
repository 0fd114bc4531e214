"""The command line: `serve` and `migrate` run the service; the rest talk to one over HTTP."""

import asyncio
import logging
from typing import Annotated

import typer

from app.client import commands, judging

cli = typer.Typer(help="Compare language models side by side.", no_args_is_help=True)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: LLM_COMPARE_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Default: LLM_COMPARE_PORT or 8000")] = None,
) -> None:
    """Run the service (API and dispatcher). With no DATABASE_URL, on an embedded PostgreSQL."""
    import uvicorn

    from app.config import get_settings
    from app.main import create_app
    from app.server.graceful import GracefulServer
    from app.server.timeouts import timed_protocol

    _log_to_stderr()
    configured = get_settings()
    # The app sees the address it is served on: which Host names it accepts depends on it.
    settings = configured.model_copy(
        update={"host": host or configured.host, "port": port or configured.port}
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=timed_protocol(settings),
        ws="none",
        timeout_keep_alive=settings.keep_alive_timeout_s,
        log_level=settings.log_level,
        # Waiting requests answer as soon as the stop begins; this only bounds the rest.
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_s)),
    )
    GracefulServer(config, app, settings.shutdown_grace_s).run()


@cli.command()
def migrate() -> None:
    """Apply the database migrations (to DATABASE_URL, or the embedded default) and exit."""
    from app.config import get_settings
    from app.db.embedded import EmbeddedPostgres
    from app.db.engine import create_engine
    from app.db.migrate import upgrade_to_head

    _log_to_stderr()
    settings = get_settings()

    async def run(url: str) -> None:
        engine = create_engine(url, pool_size=1)
        try:
            await upgrade_to_head(engine)
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


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    cli()
