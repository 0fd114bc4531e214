"""The OpenAPI page (/docs, and ReDoc at /redoc) with its assets served by the service itself.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they are blank offline; the same
pages here load the copies the `fastapi-offline` package ships (Swagger UI 5, as FastAPI's CDN
links, under its Apache-2.0 licence; ReDoc under MIT). Their HTML is FastAPI's, whose one
inline script (Swagger UI's settings) the Content-Security-Policy allows by its hash.
"""

import base64
import hashlib
import importlib.resources
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.web.pages import security_headers

ASSETS_DIR = Path(str(importlib.resources.files("fastapi_offline") / "static"))
ASSETS_URL = "/docs/assets"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _sha256(script: str) -> str:
    return base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


def _csp(html: str) -> str:
    """The docs' policy: this origin only, plus the page's own inline scripts by hash. Swagger
    UI and ReDoc set styles inline, and ReDoc runs its search in a worker made from a blob."""
    hashes = " ".join(f"'sha256-{_sha256(s)}'" for s in _INLINE_SCRIPT.findall(html))
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' {hashes}".strip(),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src blob:",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


def _page(made: HTMLResponse) -> Callable[[], Awaitable[HTMLResponse]]:
    """A route answering FastAPI's page `made`, with its policy."""
    html = bytes(made.body).decode()
    headers = security_headers(_csp(html))

    async def page() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)

    return page


def install_docs(app: FastAPI) -> None:
    """/docs, its OAuth2 redirect page and /redoc, as FastAPI makes them, on local assets.
    The app must be made with `docs_url=None, redoc_url=None`."""
    assert app.openapi_url is not None
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    favicon = f"{ASSETS_URL}/favicon.png"
    swagger = _page(
        get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=favicon,
            oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            # No badge fetched from validator.swagger.io: the page makes no outside request.
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )
    )
    redirect = _page(get_swagger_ui_oauth2_redirect_html())
    redoc = _page(
        get_redoc_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
    )
    app.add_api_route("/docs", swagger, include_in_schema=False)
    if app.swagger_ui_oauth2_redirect_url:
        app.add_api_route(app.swagger_ui_oauth2_redirect_url, redirect, include_in_schema=False)
    app.add_api_route("/redoc", redoc, include_in_schema=False)
