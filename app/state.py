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

    def begin_shutdown(self) -> None:
        """The service was asked to stop: waiting requests and progress streams answer now,
        and the dispatcher stops claiming while its calls in flight finish."""
        self.finished.close()
        if self.dispatcher is not None:
            self.dispatcher.begin_stop()
