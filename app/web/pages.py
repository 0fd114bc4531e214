"""Rendering the pages: one Jinja2 environment that escapes everything, and the headers every
page carries (a strict Content-Security-Policy first).

Model output is untrusted text. Autoescaping turns it into text wherever a template prints it;
the policy is the second wall: a page runs only this package's own scripts and styles (no
inline script, no inline style, nothing from another origin), so markup that got through
anyway could not run.
"""

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from app.errors import ProblemError
from app.web.views import flags_of

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
UI = "/ui"
STATIC_URL = UI + "/static"

PAGE_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)


def security_headers(csp: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration_ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def _count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every template, whatever its name
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(when=_when, duration_ms=_duration_ms, count=_count, flags=flags_of)
# No signed-in key unless `render` names one.
environment.globals.update(static=STATIC_URL, viewer=None, csrf_token="")


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page `template` filled with `context`, with the pages' security headers; the
    header names the signed-in key (`authorize` leaves it and the session on the request)."""
    session = getattr(request.state, "session", None)
    html = environment.get_template(template).render(
        request=request,
        viewer=getattr(request.state, "caller", None),
        csrf_token=session.csrf_token if session is not None else "",
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=security_headers(PAGE_CSP))


def error_page(request: Request, problem: ProblemError) -> HTMLResponse:
    """The problem as a page, with its status."""
    return render(request, "error.html", status_code=problem.status_code, problem=problem)
