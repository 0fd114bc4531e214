"""The command line: `serve`, `migrate` and `diagnose` run the service or work on its
database; `keys` and `projects` do either; the rest talk to one over HTTP."""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from app.client import commands, history, judging

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from app.config import Settings

cli = typer.Typer(help="Compare language models side by side.", no_args_is_help=True)
keys_cli = typer.Typer(
    help="API keys: over HTTP with an admin key (LLM_COMPARE_API_KEY), or with --database "
    "directly on DATABASE_URL's database (to make the first key).",
    no_args_is_help=True,
)
projects_cli = typer.Typer(
    help="Projects: over HTTP with an admin key, or with --database.", no_args_is_help=True
)
cli.add_typer(keys_cli, name="keys")
cli.add_typer(projects_cli, name="projects")
T = TypeVar("T")


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


def _on_database(work: Callable[["AsyncEngine"], Awaitable[T]]) -> T:
    """Run `work` on DATABASE_URL's database, or on the embedded one (started for it)."""
    from app.config import get_settings
    from app.db.embedded import EmbeddedPostgres
    from app.db.engine import create_engine

    settings = get_settings()

    async def run(url: str) -> T:
        engine = create_engine(url, pool_size=1)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    if settings.database_url:
        return asyncio.run(run(settings.database_url))
    server = EmbeddedPostgres.start(settings.data_dir)
    try:
        return asyncio.run(run(server.url))
    finally:
        server.stop()


Direct = Annotated[
    bool,
    typer.Option(
        "--database", help="Work on DATABASE_URL's database (or the embedded one), not over HTTP."
    ),
]
Url = commands.Url


def _access(
    direct: bool,
    url: str,
    over_http: Callable[[Any], Any],
    on_connection: Callable[["AsyncConnection"], Awaitable[Any]],
) -> Any:
    """`on_connection` in a transaction on the database, or `over_http` on the service."""
    from app.client.commands import service_at
    from app.db.migrate import current_revisions, head_revisions
    from app.errors import ProblemError

    if not direct:
        with service_at(url) as service:
            return over_http(service)

    async def work(engine: "AsyncEngine") -> Any:
        if await current_revisions(engine) != head_revisions():
            _refuse("the database is not migrated to this version: run `llm-compare migrate`")
        async with engine.begin() as connection:
            return await on_connection(connection)

    try:
        return _on_database(work)
    except ProblemError as exc:
        _refuse(exc.detail)


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


@keys_cli.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="What the key is for.")],
    scope: Annotated[
        list[str], typer.Option("--scope", "-s", help="read, write, vote or admin; repeat.")
    ],
    project: Annotated[str, typer.Option(help="The key's project.")] = "default",
    rate_limit: Annotated[
        int | None, typer.Option(min=1, help="Requests per minute (default: no limit).")
    ] = None,
    direct: Direct = False,
    url: Url = commands.DEFAULT_URL,
) -> None:
    """Make a key and print it (alone, on stdout): it is shown this once."""
    from pydantic import ValidationError

    from app.access import service
    from app.access.schemas import KeyRequest

    try:
        request = KeyRequest(
            name=name, project=project, scopes=scope, rate_limit_per_minute=rate_limit
        )
    except ValidationError as exc:
        _refuse("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    created = _access(
        direct,
        url,
        lambda api: api.post("/keys", request.model_dump(mode="json")),
        lambda connection: service.create_key(connection, request),
    )
    fields = created if isinstance(created, dict) else created.model_dump(mode="json")
    typer.echo(f"key {fields['id']} ({fields['prefix']}...) made for {project}", err=True)
    typer.echo(fields["key"])


@keys_cli.command("list")
def keys_list(direct: Direct = False, url: Url = commands.DEFAULT_URL) -> None:
    """Every key (JSON): id, prefix, name, project, scopes, created, last used, revoked."""
    from app.access import service

    listed = _access(direct, url, lambda api: api.get("/keys"), service.list_keys)
    _print_json([k if isinstance(k, dict) else k.model_dump(mode="json") for k in listed])


@keys_cli.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, as `keys list` shows it.")],
    direct: Direct = False,
    url: Url = commands.DEFAULT_URL,
) -> None:
    """Revoke a key: every service process refuses it from its next request on."""
    from app.access import service

    try:
        wanted = uuid.UUID(key_id)
    except ValueError:
        _refuse(f"{key_id!r} is not a key id")
    _access(
        direct,
        url,
        lambda api: api.revoke_key(str(wanted)),
        lambda connection: service.revoke_key(connection, wanted),
    )
    typer.echo(f"revoked key {wanted}", err=True)


@projects_cli.command("create")
def projects_create(
    name: Annotated[str, typer.Argument(help="The project's name.")],
    monthly_budget_usd: Annotated[
        float | None,
        typer.Option(help="What its runs may cost in a calendar month (UTC), in USD."),
    ] = None,
    retention_days: Annotated[
        int | None, typer.Option(help="Its finished runs older than this are deleted.")
    ] = None,
    direct: Direct = False,
    url: Url = commands.DEFAULT_URL,
) -> None:
    """Make a project (keys and runs belong to one), with its own limits if given."""
    from app.access import service
    from app.access.schemas import ProjectLimits

    limits = {"monthly_budget_usd": monthly_budget_usd, "retention_days": retention_days}
    made = _access(
        direct,
        url,
        lambda api: api.post("/projects", {"name": name, **limits}),
        lambda connection: service.create_project(
            connection, name, ProjectLimits.model_validate(limits)
        ),
    )
    _print_json(made if isinstance(made, dict) else made.model_dump(mode="json"))


@projects_cli.command("list")
def projects_list(direct: Direct = False, url: Url = commands.DEFAULT_URL) -> None:
    """Every project (JSON)."""
    from app.access import service

    listed = _access(direct, url, lambda api: api.get("/projects"), service.list_projects)
    _print_json([p if isinstance(p, dict) else p.model_dump(mode="json") for p in listed])


commands.register(cli)
judging.register(cli)
history.register(cli)


def _log_to_stderr(level: str | None = None) -> None:
    from app import logs
    from app.config import get_settings

    settings = get_settings()
    logs.configure(level or settings.log_level, settings.log_format)


def main() -> None:
    cli()
