"""An ASGI middleware that refuses request bodies over the configured size."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLargeError, send_problem


class BodySizeLimit:
    """413 for bodies larger than `max_bytes`, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        refused = started = answered = False

        # A body without Content-Length (chunked) is counted as it arrives. An exception
        # raised here would reach the app's body parser, which makes any error a 400; so
        # this answers 413 itself and tells the app the client has gone.
        async def counting_receive() -> Message:
            nonlocal received, refused, answered
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                refused = True
                if not started:
                    await self._refuse(send)
                    answered = True
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the app's answer to a body it never had whole; ours is sent
            started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, send: Send) -> None:
        await send_problem(
            send,
            PayloadTooLargeError(
                f"request body is larger than {self.max_bytes} bytes; split the batch"
            ),
        )
