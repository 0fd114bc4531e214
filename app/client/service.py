"""The service's HTTP API as the command line uses it, over httpx."""

import json
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import httpx
from httpx_sse import SSEError, connect_sse
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from app.client.inputs import Submission

EXIT_FAILED_PAIRS = 1
EXIT_REFUSED = 2  # bad input, or a request the service refused (4xx)
EXIT_UNAVAILABLE = 3  # the service could not be reached, or failed (5xx)
_RETRY_STATUSES = frozenset({502, 503, 504})


class ServiceError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _Retryable(Exception):
    """A response worth asking again for: the service restarting behind a proxy, say."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}: {body}"
    fields = ", ".join(e["field"] for e in body.get("errors") or [] if e.get("field"))
    where = f" ({fields})" if fields else ""
    return f"HTTP {response.status_code}{where}: {body.get('detail') or body}"


class Service:
    """A running llm-compare service. Requests that fail in transit are sent again with
    backoff; `POST /compare` is safe to resend because it carries an Idempotency-Key."""

    def __init__(self, url: str, attempts: int = 5, api_key: str | None = None) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(120, connect=10),
            follow_redirects=True,
            headers={"Authorization": f"Bearer {api_key}"} if api_key else None,
        )
        self._attempts = attempts

    def close(self) -> None:
        self._client.close()

    def _retrying(self) -> Retrying:
        return Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(initial=0.5, max=8),
            retry=retry_if_exception(lambda e: isinstance(e, httpx.TransportError | _Retryable)),
            reraise=True,
        )

    def request(
        self, method: str, path: str, body: Callable[[], Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """The response, or `ServiceError` with the service's own words."""
        if method != "GET":
            # The service refuses state-changing requests that are not JSON, body or not.
            kwargs["headers"] = {"Content-Type": "application/json", **kwargs.get("headers", {})}
        try:
            for attempt in self._retrying():
                with attempt:
                    content = body() if body is not None else None
                    response = self._client.request(method, path, content=content, **kwargs)
                    if response.status_code in _RETRY_STATUSES:
                        raise _Retryable(response)
        except _Retryable as exc:
            raise ServiceError(_problem(exc.response), EXIT_UNAVAILABLE) from None
        except httpx.TransportError as exc:
            raise ServiceError(
                f"cannot reach the service at {self.url}: {exc or type(exc).__name__}",
                EXIT_UNAVAILABLE,
            ) from None
        if response.status_code >= 500:
            raise ServiceError(_problem(response), EXIT_UNAVAILABLE)
        if response.status_code >= 400:
            raise ServiceError(_problem(response), EXIT_REFUSED)
        return response

    def submit(self, submission: Submission, key: str) -> tuple[dict[str, Any], bool]:
        """The accepted run's summary, and whether the service had seen this key before."""
        response = self.request(
            "POST",
            "/compare",
            body=submission.body,
            headers={"Idempotency-Key": key},
        )
        return response.json(), response.headers.get("idempotent-replayed") == "true"

    def dry_run(self, submission: Submission) -> dict[str, Any]:
        """What the service would send for this submission; it stores and sends nothing."""
        response = self.request(
            "POST", "/compare", body=submission.body, params={"dry_run": "true"}
        )
        result: dict[str, Any] = response.json()
        return result

    def replay(self, run_id: str, body: dict[str, Any], key: str) -> tuple[dict[str, Any], bool]:
        """The replay's summary, and whether the service had seen this key before."""
        content = json.dumps(body).encode()
        response = self.request(
            "POST",
            f"/runs/{run_id}/replay",
            body=lambda: content,
            headers={"Idempotency-Key": key},
        )
        return response.json(), response.headers.get("idempotent-replayed") == "true"

    def runs(self, params: dict[str, Any], limit: int) -> Iterator[dict[str, Any]]:
        """Up to `limit` run summaries, newest first, following the pages."""
        cursor: str | None = None
        while limit > 0:
            page_params = {**params, "limit": min(limit, 200)}
            if cursor:
                page_params["cursor"] = cursor
            page = self.request("GET", "/runs", params=page_params).json()
            yield from page["items"][:limit]
            limit -= len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return

    def run(self, run_id: str, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/runs/{run_id}", params=params).json()
        return result

    def action(self, run_id: str, action: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", f"/runs/{run_id}/{action}").json()
        return result

    def delete(self, run_id: str) -> None:
        self.request("DELETE", f"/runs/{run_id}")

    def revoke_key(self, key_id: str) -> None:
        self.request("DELETE", f"/keys/{key_id}")

    def get(self, path: str, **params: Any) -> Any:
        """The JSON answer to `GET path?params` (None values left out)."""
        wanted = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=wanted).json()

    def post(self, path: str, body: Any = None) -> Any:
        """The JSON answer to a JSON `POST`."""
        content = json.dumps(body).encode() if body is not None else None
        return self.request("POST", path, body=(lambda: content) if content else None).json()

    def events(self, run_id: str) -> Iterator[dict[str, Any]]:
        """The run's summary each time it changes, the last one final. A dropped stream is
        opened again: every event carries the whole state, so nothing is missed."""
        for attempt in self._retrying():
            with attempt:
                try:
                    with connect_sse(
                        self._client,
                        "GET",
                        f"/runs/{run_id}/events",
                        timeout=httpx.Timeout(120, connect=10),
                    ) as source:
                        if source.response.status_code >= 400:
                            source.response.read()
                            raise ServiceError(_problem(source.response), EXIT_REFUSED)
                        for event in source.iter_sse():
                            yield json.loads(event.data)
                            if event.event == "end":
                                return
                except SSEError as exc:
                    raise ServiceError(f"not an event stream: {exc}", EXIT_UNAVAILABLE) from None
                raise httpx.RemoteProtocolError("the event stream ended before the run did")

    def export(self, run_id: str, fmt: str, out: BinaryIO) -> int:
        """Stream the run's pairs into `out`; returns the bytes written."""
        written = 0
        try:
            with self._client.stream(
                "GET", f"/runs/{run_id}/responses", params={"format": fmt}
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    code = EXIT_REFUSED if response.status_code < 500 else EXIT_UNAVAILABLE
                    raise ServiceError(_problem(response), code)
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    written += len(chunk)
        except httpx.TransportError as exc:
            raise ServiceError(f"export from {self.url} failed: {exc}", EXIT_UNAVAILABLE) from None
        return written
