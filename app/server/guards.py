"""Refusing requests a browser can be made to send on another site's behalf.

Two attacks reach a service with no authentication from a web page its user opens:
- DNS rebinding: the page's own name is made to resolve to 127.0.0.1, so the browser treats
  the service as that page's origin, but every request still carries the page's name in
  `Host`. `TrustedHost` refuses Host names the service was not configured to answer to.
- Cross-site "simple" requests: a form, `fetch(..., {mode: "no-cors"})` or `sendBeacon` may
  POST to any origin without asking it first, but only with no Content-Type or a form or
  text one, and without custom headers. `JsonOnly` refuses a POST that is neither JSON nor
  sent with `X-Requested-With`, which covers them all: for a JSON one or a custom header, a
  browser asks the service first (a CORS preflight), which this service never grants.
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings, is_loopback
from app.errors import BadRequestError, UnsupportedMediaTypeError, send_problem

# A browser sends these only for pages served from this machine, which rebinding cannot fake.
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """The Host names to answer to (always the loopback ones), or None for any."""
    if settings.allowed_hosts is None:
        return LOOPBACK_NAMES if is_loopback(settings.host) else None
    names = {name.strip().lower() for name in settings.allowed_hosts.split(",")} - {""}
    return None if "*" in names else LOOPBACK_NAMES | names


def host_name(header: str) -> str:
    """`Example.org:8000` -> `example.org`; `[::1]:8000` -> `[::1]`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header.partition("]")[0] + "]"
    return header.partition(":")[0]


class TrustedHost:
    """400 for a request whose Host header names none of `allowed` (None: any)."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str] | None) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.allowed is not None:
            name = host_name(dict(scope["headers"]).get(b"host", b"").decode("latin-1"))
            if name not in self.allowed:
                problem = BadRequestError(
                    f"this service does not answer to the host name {name!r}; add it to "
                    "LLM_COMPARE_ALLOWED_HOSTS",
                    field="Host",
                )
                await send_problem(send, problem)
                return
        await self.app(scope, receive, send)


def _is_json(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


# PUT and PATCH carry a body, so asking for JSON costs their callers nothing. DELETE has
# none (`curl -X DELETE` sends no Content-Type) and needs no check: it is not a simple
# method, so a browser sends it cross-origin only after a preflight, never granted here.
_CHECKED_METHODS = frozenset({"POST", "PUT", "PATCH"})


class JsonOnly:
    """415 for a state-changing request that is neither JSON nor sent with
    `X-Requested-With`: a body-less POST must carry one of the two as well. `form_paths` are
    exempt: HTML forms post to them, and they refuse cross-site requests themselves."""

    def __init__(self, app: ASGIApp, form_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.form_paths = form_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in _CHECKED_METHODS
            and scope["path"] not in self.form_paths
        ):
            headers = dict(scope["headers"])
            content_type = headers.get(b"content-type", b"").decode("latin-1")
            if not _is_json(content_type) and b"x-requested-with" not in headers:
                sent = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
                problem = UnsupportedMediaTypeError(
                    f"{scope['method']} needs Content-Type: application/json (or an "
                    f"X-Requested-With header), got {sent}",
                    field="Content-Type",
                )
                await send_problem(send, problem)
                return
        await self.app(scope, receive, send)
