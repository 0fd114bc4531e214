"""The HTTP layer every HTTP adapter shares: one bounded aiohttp session, one error mapping."""

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson

from app.adapters.base import ProviderError, is_transient_status

MAX_MESSAGE_CHARS = 1000

MessageReader = Callable[[aiohttp.ClientResponse], Awaitable[str]]
StatusClassifier = Callable[[int], bool]


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delay-seconds or HTTP-date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; obsolete forms may parse naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _message_from_json(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])  # OpenAI and most compatible servers
    if isinstance(error, str):
        return error
    detail = data.get("detail")  # FastAPI-style servers, Lamini among them
    if isinstance(detail, str):
        return detail
    if detail is not None:
        return json.dumps(detail)
    message = data.get("message")
    return message if isinstance(message, str) else None


async def read_error_message(response: aiohttp.ClientResponse) -> str:
    """The provider's own words: JSON `error.message` or `detail`, else the body text."""
    text = (await response.text(errors="replace")).strip()
    try:
        message = _message_from_json(json.loads(text))
    except ValueError:
        message = None
    return message or text or response.reason or f"HTTP {response.status}"


def scrub(message: str, secrets: Iterable[str]) -> str:
    """`message` truncated, with every secret (API key) replaced, whatever echoed it."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return message


async def provider_error_from_response(
    response: aiohttp.ClientResponse,
    *,
    read_message: MessageReader = read_error_message,
    is_transient: StatusClassifier = is_transient_status,
    secrets: Iterable[str] = (),
) -> ProviderError:
    """A `ProviderError` for a non-2xx response, honouring its `Retry-After`."""
    return ProviderError(
        scrub(await read_message(response), secrets),
        transient=is_transient(response.status),
        status=response.status,
        retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
    )


def provider_error_from_exception(
    exc: Exception, timeout_s: float, secrets: Iterable[str] = ()
) -> ProviderError:
    """A transient `ProviderError` for a timeout or a broken connection."""
    if isinstance(exc, TimeoutError):  # aiohttp.ServerTimeoutError is one too
        return ProviderError(f"no answer within {timeout_s:g} s", transient=True)
    return ProviderError(scrub(f"connection failed: {exc}", secrets), transient=True)


class JsonHttpClient:
    """One adapter's HTTP client: a lazily created session, at most `concurrency` connections."""

    def __init__(
        self,
        *,
        concurrency: int,
        timeout_s: float,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        read_message: MessageReader = read_error_message,
        is_transient: StatusClassifier = is_transient_status,
    ) -> None:
        self._concurrency = concurrency
        self._timeout_s = timeout_s
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        self._secrets = tuple(s for s in secrets if s)
        self._read_message = read_message
        self._is_transient = is_transient
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created on first use because a session binds to the loop running at creation.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._concurrency),
                timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                headers=self._headers,
                # Providers set no cookies worth keeping; a real jar is searched on every call.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def post_json(self, url: str, body: Mapping[str, Any]) -> Any:
        """POST `body` as JSON and return the decoded JSON answer; failures as `ProviderError`."""
        try:
            # orjson: the body encoding was a tenth of the dispatcher's CPU with the json module.
            payload = orjson.dumps(body)
            async with self._get_session().post(url, data=payload) as response:
                if not 200 <= response.status < 300:
                    raise await provider_error_from_response(
                        response,
                        read_message=self._read_message,
                        is_transient=self._is_transient,
                        secrets=self._secrets,
                    )
                raw = await response.read()
        except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise provider_error_from_exception(exc, self._timeout_s, self._secrets) from None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ProviderError(
                scrub(f"malformed response: not JSON: {raw[:200]!r}", self._secrets),
                transient=False,
                status=response.status,
            ) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
