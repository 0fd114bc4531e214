"""What the service holds while it runs, built once by the lifespan."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.catalogue import Catalogue
from app.config import Settings
from app.dispatch import Dispatcher
from app.notify import RunFinishedSignal


@dataclass
class ServiceState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    catalogue: Catalogue
    finished: RunFinishedSignal
    dispatcher: Dispatcher | None
