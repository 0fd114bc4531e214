"""What every fake provider shares: a real aiohttp server, recorded requests, scripted trouble."""

import asyncio
import hashlib
import json
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Self

from aiohttp import web
from multidict import CIMultiDict


class InvalidRequest(Exception):
    """The request body is not what the provider accepts: answered with 400."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: CIMultiDict[str]  # case-insensitive, like HTTP
    body: Any  # the decoded JSON, None when the body was not JSON
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class ScriptedResponse:
    status: int
    body: Any  # JSON-encoded unless it is already `str`
    headers: dict[str, str]


class FakeProvider:
    """An HTTP server on 127.0.0.1; subclasses list their `paths` and say what they answer.

    Knobs, all changeable while it runs: `latency_ms` before every answer, `stall` (hold
    requests until it is cleared or the server stops), `required_key` (401 unless
    `Authorization: Bearer <key>`), `fail_next` and `respond_next` (scripted answers, in order).
    With `tally`, it counts requests by a digest of their body and answers `GET /stats` with
    how many came, how many were distinct, and how many repeated an earlier one (a pair asked
    twice: benchmarks of several service processes count duplicate calls there).
    """

    paths: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        port: int = 0,
        latency_ms: float = 0,
        required_key: str | None = None,
        record: bool = True,
        tally: bool = False,
    ) -> None:
        self.latency_ms = latency_ms
        self.required_key = required_key
        self.requests: list[RecordedRequest] = []
        self._port = port
        self._record = record
        self._tally: Counter[bytes] | None = Counter() if tally else None
        self._script: deque[ScriptedResponse] = deque()
        self._released = asyncio.Event()
        self._released.set()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # Provider specifics

    def answer(self, path: str, body: dict[str, Any]) -> Any:
        """The JSON answer to a well-formed request; raise `InvalidRequest` otherwise."""
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> Any:
        """An error in the provider's own format."""
        raise NotImplementedError

    # Knobs

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`, once started."""
        if self._url is None:
            raise RuntimeError("the fake server is not running")
        return self._url

    @property
    def stall(self) -> bool:
        return not self._released.is_set()

    @stall.setter
    def stall(self, value: bool) -> None:
        if value:
            self._released.clear()
        else:
            self._released.set()

    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: float | str | None = None,
        message: str = "scripted failure",
    ) -> None:
        """Answer the next `times` requests with this error, in the provider's format."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        self.respond_next(status, self.error_body(status, message), headers, times)

    def respond_next(
        self, status: int, body: Any, headers: dict[str, str] | None = None, times: int = 1
    ) -> None:
        """Answer the next `times` requests with exactly this, e.g. a malformed 200."""
        self._script.extend([ScriptedResponse(status, body, headers or {})] * times)

    # Serving

    def _error(self, status: int, message: str) -> web.Response:
        return web.json_response(self.error_body(status, message), status=status)

    def _auth_error(self, authorization: str | None) -> web.Response | None:
        if self.required_key is None or authorization == f"Bearer {self.required_key}":
            return None
        if not authorization:
            return self._error(401, "You didn't provide an API key.")
        # Echoes what it was given, as some providers do, so clients' redaction gets tested.
        given = authorization.removeprefix("Bearer ")
        return self._error(401, f"Incorrect API key provided: {given}")

    def stats(self) -> dict[str, int]:
        """Requests counted by `tally`: all of them, distinct bodies, and repeats."""
        if self._tally is None:
            raise RuntimeError("the fake server was started without tally")
        requests, distinct = sum(self._tally.values()), len(self._tally)
        return {"requests": requests, "distinct": distinct, "duplicates": requests - distinct}

    async def _handle_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if self._tally is not None:
            self._tally[hashlib.blake2b(raw, digest_size=16).digest()] += 1
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if self._record:
            self.requests.append(
                RecordedRequest(request.method, request.path, CIMultiDict(request.headers), body)
            )
        if self.stall:
            await self._released.wait()
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        refusal = self._auth_error(request.headers.get("Authorization"))
        if refusal is not None:
            return refusal
        if self._script:
            scripted = self._script.popleft()
            text = scripted.body if isinstance(scripted.body, str) else json.dumps(scripted.body)
            return web.Response(
                status=scripted.status,
                text=text,
                headers=scripted.headers,
                content_type="application/json",
            )
        if not isinstance(body, dict):
            return self._error(400, "the body must be a JSON object")
        try:
            return web.json_response(self.answer(request.path, body))
        except InvalidRequest as exc:
            return self._error(400, str(exc))

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([web.post(path, self._handle) for path in self.paths])
        if self._tally is not None:
            app.add_routes([web.get("/stats", self._handle_stats)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self._port, backlog=1024).start()
        port = self._runner.addresses[0][1]
        self._url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self.stall = False  # stalled handlers answer, so shutdown does not wait for them
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._url = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def optional_int(body: dict[str, Any], key: str) -> int | None:
    """`body[key]` when it is an integer or absent; `InvalidRequest` otherwise."""
    value = body.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise InvalidRequest(f"{key!r} must be an integer")


def words_up_to(text: str, limit: int | None) -> tuple[str, bool]:
    """`text` cut to `limit` whitespace-separated words, and whether it was cut."""
    words = text.split()
    if limit is not None and len(words) > limit:
        return " ".join(words[:limit]), True
    return text, False


async def serve_until_cancelled(server: FakeProvider) -> None:
    """Run `server` until the task is cancelled (Ctrl-C under `asyncio.run`)."""
    async with server:
        await asyncio.Event().wait()
