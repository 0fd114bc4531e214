"""uvicorn's server, with a shutdown that always ends.

On SIGTERM/SIGINT uvicorn first waits for open requests, then runs the app's shutdown. Here the
app hears of the signal at once (waiting requests and progress streams answer, the dispatcher
stops claiming, so calls in flight use the grace while requests drain), and a watchdog thread
ends the process if the whole shutdown overruns its bound, whatever is stuck.
"""

import asyncio
import logging
import os
import socket
import threading
from types import FrameType

import uvicorn
from fastapi import FastAPI

log = logging.getLogger(__name__)

# Past the grace for calls in flight: writing their answers, releasing the rest, closing
# adapters and the database (the embedded server takes a second or two to stop).
SHUTDOWN_MARGIN_S = 10.0


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI, grace_s: float) -> None:
        super().__init__(config)
        self._app = app
        self._limit_s = grace_s + SHUTDOWN_MARGIN_S
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exiting = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self._exiting:
            self._exiting = True
            threading.Thread(target=self._watchdog, name="shutdown-watchdog", daemon=True).start()
            service = getattr(self._app.state, "service", None)
            if service is not None and self._loop is not None:
                self._loop.call_soon_threadsafe(service.begin_shutdown)
        super().handle_exit(sig, frame)

    def _watchdog(self) -> None:
        threading.Event().wait(self._limit_s)
        log.error("shutdown took more than %.0f s; exiting now", self._limit_s)
        logging.shutdown()
        os._exit(1)
