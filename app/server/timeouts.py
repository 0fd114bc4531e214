"""uvicorn's HTTP protocol with the two timeouts it lacks: for a request head and for a body.

uvicorn closes a connection that stays idle between requests (`timeout_keep_alive`), but not
one that opens and sends nothing, sends half a request head, or announces a body and never
sends it: each holds a socket (and, once its head is in, a task) for as long as the client
likes. This protocol closes them. nginx has the same two settings, `client_header_timeout`
and `client_body_timeout`.
"""

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import get_settings


class TimedHttpProtocol(HttpToolsProtocol):
    """Closes a connection whose request head is not complete `header_timeout_s` after the
    connection opened or its previous response ended, or which sends nothing of the body its
    request announced for `body_timeout_s`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read here, not bound into a class made at start-up: uvicorn's worker processes get
        # this class by name, and each reads the same environment.
        settings = get_settings()
        self.header_timeout_s = settings.header_timeout_s
        self.body_timeout_s = settings.body_timeout_s
        self._deadline: asyncio.TimerHandle | None = None

    def _close_after(self, seconds: float | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None if seconds is None else self.loop.call_later(seconds, self._expired)

    def _expired(self) -> None:
        if self.flow.read_paused:
            # The application has not read what came yet: it is behind, not the client.
            self._close_after(self.body_timeout_s)
            return
        self._deadline = None
        self.transport.close()

    def _reading_body(self) -> bool:
        """The request whose body is arriving is still unanswered: its body still matters."""
        return self.cycle is not None and not self.cycle.response_complete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._close_after(self.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._close_after(None)
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # A body may follow; on_message_complete (at once, if there is none) stops this.
        self._close_after(self.body_timeout_s)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self._reading_body():
            self._close_after(self.body_timeout_s)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # After an early response (a 413, say), the rest of the body is discarded under the
        # next head's deadline, which must keep running.
        if self._reading_body():
            self._close_after(None)

    def on_response_complete(self) -> None:
        next_head_pending = not self.pipeline  # else the next request is already in
        super().on_response_complete()
        if next_head_pending and not self.transport.is_closing():
            self._close_after(self.header_timeout_s)
