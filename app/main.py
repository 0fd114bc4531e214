"""The application: create_app() and the lifespan that owns the database, models and dispatcher."""

import asyncio
import gc
import importlib.metadata
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import Depends, FastAPI

from app import logs, tracing
from app.access import endpoints as access_endpoints
from app.access.auth import authorize
from app.access.ratelimit import KeyRateLimiter, storage_for
from app.access.sessions import session_cookies
from app.adapters.registry import AdapterRegistry
from app.catalogue import endpoints as catalogue_endpoints
from app.catalogue.service import Catalogue
from app.config import Settings, get_settings
from app.db.embedded import EmbeddedPostgres
from app.db.engine import create_engine, create_sessionmaker
from app.db.migrate import upgrade_to_head
from app.dispatch.dispatcher import Dispatcher
from app.dispatch.news import RunNews
from app.dispatch.notifications import Listener
from app.errors import install_problem_handlers, problems
from app.history import endpoints as history_endpoints
from app.judging import endpoints as judging_endpoints
from app.lru import LRU
from app.ops import endpoints as ops_endpoints
from app.runs import endpoints as runs_endpoints
from app.runs.retention import RetentionSweeper
from app.server.guards import JsonOnly, TrustedHost, allowed_hosts
from app.server.limits import BodySizeLimit
from app.server.shutdown import stop_on_signal, stop_when_orphaned
from app.state import ServiceState
from app.web.docs import install_docs
from app.web.endpoints import install_pages
from app.web.login import FORM_PATHS

log = logging.getLogger(__name__)

DESCRIPTION = """
Send the same prompts to several language models at once and keep every prompt/response pair.

`POST /compare` stores the work and answers `202` with `Location: /runs/{id}`; models answer in
the background. Read the run side by side with `GET /runs/{id}` (or pass `?wait=30`).
Errors are RFC 9457 problem details; validation errors name the offending field.
`POST` requests are JSON (`Content-Type: application/json`, also when they have no body) or
carry an `X-Requested-With` header; others are refused (`415`), as a web page could send them.
With `LLM_COMPARE_AUTH=on`, every route but the probes needs `Authorization: Bearer lc_...`
(`401` without a usable key, `403` without the route's scope, `429` past the key's rate
limit); a key sees its own project's runs only (another project's run is a `404`). The pages
under `/ui` sign in with a key instead (a session cookie; not part of this API).
"""


async def _database_url(settings: Settings, stack: AsyncExitStack) -> str:
    if settings.database_url:
        return settings.database_url
    server = await asyncio.to_thread(EmbeddedPostgres.start, settings.data_dir)
    stack.push_async_callback(asyncio.to_thread, server.stop)
    return server.url


def _settle_heap() -> None:
    """Keep start-up objects out of garbage collection and collect young objects less often.

    The dispatcher allocates a little per pair; with default settings the collector kept
    re-scanning the large start-up heap and took about a quarter of the service's CPU in
    bench/fanout.py (0.44 -> 0.33 ms per pair).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    async with AsyncExitStack() as stack:
        url = await _database_url(settings, stack)
        engine = create_engine(
            url,
            settings.db_pool_size,
            pool_timeout_s=settings.db_pool_timeout_s,
            statement_timeout_s=settings.statement_timeout_s,
        )
        stack.push_async_callback(engine.dispose)
        app.state.rate_limiter = KeyRateLimiter(storage_for(settings.rate_limit_storage, engine))
        if settings.migrate_on_start:
            await upgrade_to_head(engine)
        if settings.auth_required():
            app.state.session_cookies = await session_cookies(engine, settings)
        catalogue = Catalogue.from_settings(settings)
        adapters = AdapterRegistry(settings, catalogue.concurrency)
        stack.push_async_callback(adapters.aclose)
        sessions = create_sessionmaker(engine)
        news = RunNews()
        dispatcher = None
        if settings.dispatcher_enabled:
            # A pool of its own: API requests that exhaust theirs must not stop its writes.
            dispatch_engine = create_engine(url, settings.dispatch_pool_size, max_overflow=0)
            stack.push_async_callback(dispatch_engine.dispose)
            dispatcher = Dispatcher(dispatch_engine, catalogue, adapters, settings, news)
            await dispatcher.start()
            stack.push_async_callback(dispatcher.stop)
        listener = Listener(url, news, dispatcher.wake if dispatcher else lambda: None)
        listener.start()
        stack.push_async_callback(listener.stop)
        # Always: projects may have a retention of their own (app/runs/retention.py).
        sweeper = RetentionSweeper(
            engine,
            settings.retention_days,
            settings.retention_interval_s,
            settings.retention_batch_size,
        )
        sweeper.start()
        stack.push_async_callback(sweeper.stop)
        pages: LRU[bytes] = LRU(int(settings.page_cache_mb * 2**20), weigh=len)
        service = ServiceState(settings, engine, sessions, catalogue, news, dispatcher, pages)
        stack.callback(service.begin_shutdown)  # first thing on the way out
        if app.state.handle_signals:
            stack.callback(stop_on_signal(service.begin_shutdown, settings.shutdown_grace_s))
            if settings.workers > 1:  # one of uvicorn's worker processes
                stack.callback(stop_when_orphaned())
        app.state.service = service
        _settle_heap()
        log.info("llm-compare ready: %d models in the catalogue", len(list(catalogue)))
        yield


def create_app(settings: Settings | None = None, *, handle_signals: bool = False) -> FastAPI:
    """The app. `handle_signals`: SIGTERM and SIGINT begin its shutdown at once and a watchdog
    bounds it (for a served app; tests drive the lifespan themselves)."""
    settings = settings or get_settings()
    settings.auth_required()  # AuthUnsetError: listening beyond loopback, nobody said how
    app = FastAPI(
        title="llm-compare",
        version=importlib.metadata.version("llm-compare"),
        description=DESCRIPTION,
        lifespan=_lifespan,
        docs_url=None,  # served by install_docs, on local assets
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.handle_signals = handle_signals
    install_problem_handlers(app)
    # The last added runs first: the Host is checked before anything else.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(JsonOnly, form_paths=FORM_PATHS)
    app.add_middleware(TrustedHost, allowed=allowed_hosts(settings))
    # Each router's routes need the scope app/access/scopes.py gives them; the probes none.
    guarded = {"dependencies": [Depends(authorize)], "responses": problems(401, 403, 429)}
    for router in (
        runs_endpoints.compare_router,
        runs_endpoints.router,
        catalogue_endpoints.router,
        judging_endpoints.router,
        history_endpoints.router,
        access_endpoints.router,
    ):
        app.include_router(router, **guarded)  # type: ignore[arg-type]
    app.include_router(ops_endpoints.router)
    install_pages(app, [Depends(authorize)])
    install_docs(app)
    return app


def served_app() -> FastAPI:
    """The app `llm-compare serve` runs in each of its processes, from the environment."""
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)
    tracing.configure(settings.trace_exporters)  # before the app makes engines and sessions
    return create_app(settings, handle_signals=True)
