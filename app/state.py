"""What the service holds while it runs, built once by the lifespan, and the typed
dependencies through which endpoints reach it."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.catalogue.service import Catalogue
from app.config import Settings
from app.dispatch.dispatcher import Dispatcher
from app.dispatch.news import RunNews
from app.lru import LRU


@dataclass
class ServiceState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    catalogue: Catalogue
    news: RunNews
    dispatcher: Dispatcher | None
    pages: LRU[bytes]  # finished runs' pages, serialized (app/runs/service.py `detail_json`)

    def begin_shutdown(self) -> None:
        """The service was asked to stop: waiting requests and progress streams answer now,
        and the dispatcher stops claiming while its calls in flight finish."""
        self.news.close()
        if self.dispatcher is not None:
            self.dispatcher.begin_stop()


async def get_state(request: Request) -> ServiceState:
    # Async: FastAPI runs a plain function dependency in a worker thread, a thread hand-off
    # on every request.
    state: ServiceState = request.app.state.service
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """A read session; writes open their own transaction so they commit before answering."""
    async with state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
