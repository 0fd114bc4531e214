"""Signing in to the pages with a key (`/ui/login`, `/ui/logout`), and what a page answers
when its request is refused: a browser without a session goes to the sign-in form, any other
refusal is an error page (API clients keep their problem details).

The key travels once, in the body of the form's POST (never in a URL, never logged); the
session cookie (app/access/sessions.py) holds only its digest.
"""

from urllib.parse import parse_qsl, quote, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from app.access import tokens
from app.access.auth import identify
from app.access.sessions import COOKIE, CSRF_FIELD, SessionCookies
from app.errors import ForbiddenError, ProblemError, UnauthorizedError, problem_response
from app.state import StateDep
from app.web.pages import UI, error_page, render

router = APIRouter(include_in_schema=False)

LOGIN = UI + "/login"
LOGOUT = UI + "/logout"
FORM_PATHS = frozenset({LOGIN, LOGOUT})
"""Plain HTML forms post here (app/server/guards.py `JsonOnly` lets them): each checks the
request comes from this site itself (`_refuse_cross_site`)."""


def local_path(wanted: str | None) -> str:
    """`wanted` if it is a path on this site, else the runs page: a sign-in link must not
    send people on to another site (`//evil.example`, `/\\evil.example` and `https://...`
    are all another site to a browser)."""
    if (
        not wanted
        or not wanted.startswith("/")
        or wanted.startswith(("//", "/\\"))
        or any(ord(c) < 0x20 or c == "\\" for c in wanted)
    ):
        return UI
    parts = urlsplit(wanted)
    return UI if parts.scheme or parts.netloc else wanted


def _refuse_cross_site(request: Request) -> None:
    """Refuse a form posted here from another site. Signing in is protected by the headers
    every current browser sends with a POST (`Sec-Fetch-Site`, else `Origin`) rather than a
    pre-session token: it needs no cookie before there is a session, and a forged sign-in
    (the attacker's key in the victim's browser) is exactly a cross-site POST. A request
    with neither header comes from no browser, so no page can have forged it."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site in ("same-origin", "none"):
            return
    else:
        origin = request.headers.get("origin")
        if origin is None or urlsplit(origin).netloc == request.headers.get("host"):
            return
    raise ForbiddenError(
        "this form was sent from another site; sign in from this service's own page",
        field="Origin",
    )


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True, max_num_fields=10))


def _login_form(request: Request, wanted: str, status_code: int = 200, error: str = "") -> Response:
    return render(request, "login.html", status_code=status_code, next=wanted, error=error)


@router.get(LOGIN)
async def login_page(request: Request, state: StateDep) -> Response:
    wanted = local_path(request.query_params.get("next"))
    if not state.settings.auth_required():
        return RedirectResponse(wanted, status_code=303)  # nothing to sign in to
    return _login_form(request, wanted)


@router.post(LOGIN)
async def login(request: Request, state: StateDep) -> Response:
    """A live key (or the bootstrap one) starts a session and goes on to `next`."""
    _refuse_cross_site(request)
    form = await _form(request)
    wanted = local_path(form.get("next"))
    if not state.settings.auth_required():
        return RedirectResponse(wanted, status_code=303)
    key = form.get("key", "").strip()
    if not key:
        return _login_form(request, wanted, 422, "Enter an API key (lc_...).")
    key_digest = tokens.digest(key)
    try:
        async with state.engine.begin() as connection:
            await identify(connection, state.settings, key_digest)
    except UnauthorizedError:
        return _login_form(
            request, wanted, 401, "That key is unknown or revoked. Check it and try again."
        )
    response = RedirectResponse(wanted, status_code=303)
    cookies: SessionCookies = request.app.state.session_cookies
    cookies.start(response, key_digest)
    return response


@router.post(LOGOUT)
async def logout(request: Request, state: StateDep) -> Response:
    """End the session (with its CSRF token, from the header's form) and show the sign-in."""
    _refuse_cross_site(request)
    response = RedirectResponse(LOGIN if state.settings.auth_required() else UI, 303)
    if not state.settings.auth_required():
        return response
    cookies: SessionCookies = request.app.state.session_cookies
    session = cookies.read(request.cookies.get(COOKIE))
    if session is not None and not session.csrf_matches((await _form(request)).get(CSRF_FIELD)):
        raise ForbiddenError(
            "signing out needs the session's CSRF token (the form's csrf_token): it is "
            "missing or wrong; reload the page",
            field=CSRF_FIELD,
        )
    if session is not None:
        await cookies.end(response, session, state.engine)
    else:
        cookies.clear(response)
    return response


def _is_page_request(request: Request) -> bool:
    return (
        request.method == "GET"
        and (request.url.path == "/" or request.url.path.startswith(UI))
        and "text/html" in request.headers.get("accept", "")
    )


async def page_problem(request: Request, exc: Exception) -> Response:
    """A page's refusal: a browser with no session, or a revoked one, is sent to sign in
    (and back here after); other problems are the error page; anything else, the problem."""
    assert isinstance(exc, ProblemError)
    if not _is_page_request(request):
        return problem_response(exc.status_code, exc.problem(), exc.headers())
    if isinstance(exc, UnauthorizedError) and "authorization" not in request.headers:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse(f"{LOGIN}?next={quote(here, safe='/')}", status_code=303)
        if COOKIE in request.cookies:
            cookies: SessionCookies = request.app.state.session_cookies
            cookies.clear(response)
        return response
    return error_page(request, exc)
