"""The app in-process, with its lifespan (database, dispatcher) running, and a client for it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from app.config import Settings
from app.main import create_app


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        # A loopback name: the service answers only to those when bound to loopback.
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield client
