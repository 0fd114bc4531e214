"""The dependency every protected router carries: who is asking (`Caller`), whether their key
has the scope the route needs, and whether the run or battle the path names is theirs.

Keys are read from the database on every request, so a revoked key is refused from the next
request on, in every process, with no cache to invalidate: one indexed lookup.
"""

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from app.access import repository as repo
from app.access import tokens
from app.access.caller import OPEN, Caller
from app.access.ratelimit import KeyRateLimiter
from app.access.scopes import NoRule, Scope, rule_for
from app.access.sessions import COOKIE, CSRF_HEADER, Session, SessionCookies
from app.config import Settings
from app.db.tables import DEFAULT_PROJECT_ID, DEFAULT_PROJECT_NAME
from app.errors import ForbiddenError, NotFoundError, UnauthorizedError
from app.state import get_state

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key, `lc_...` (`POST /keys`, `llm-compare keys create`). Needed when "
    "the service runs with `LLM_COMPARE_AUTH=on`.",
)

ADMIN_KEY_NAME = "LLM_COMPARE_ADMIN_KEY"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Lookup = Callable[[AsyncConnection, uuid.UUID], Awaitable[uuid.UUID | None]]

# Path parameters naming something owned by a project, and how to find its project.
_OWNED: dict[str, tuple[str, Lookup]] = {
    "run_id": ("run", repo.run_project),
    "a": ("run", repo.run_project),  # GET /runs/{a}/diff/{b}
    "b": ("run", repo.run_project),
    "battle_id": ("battle", repo.battle_project),
}


def _needed_scope(request: Request) -> Scope | None:
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    try:
        return rule_for(request.method, path)
    except NoRule:
        raise ForbiddenError(
            f"{request.method} {path} has no access rule (app/access/scopes.py); nobody may call it"
        ) from None


async def identify(connection: AsyncConnection, settings: Settings, key_digest: str) -> Caller:
    """The caller whose key has this digest; a 401 when it is unknown or revoked."""
    admin = settings.admin_key.get_secret_value() if settings.admin_key else None
    if admin is not None and tokens.is_digest_of(key_digest, admin):
        return Caller(
            DEFAULT_PROJECT_ID,
            frozenset(Scope),
            key_name=ADMIN_KEY_NAME,
            key_prefix=tokens.prefix_of(admin),
            project=DEFAULT_PROJECT_NAME,
        )
    stored = await repo.live_key(connection, key_digest)
    if stored is None:
        raise UnauthorizedError("this API key is unknown or revoked")
    await repo.touch_key(connection, stored.id)
    return Caller(
        stored.project_id,
        frozenset(Scope(s) for s in stored.scopes),
        key_id=stored.id,
        key_name=stored.name,
        key_prefix=stored.prefix,
        project=stored.project,
        rate_limit_per_minute=stored.rate_limit_per_minute,
    )


async def _check_owned(
    connection: AsyncConnection, caller: Caller, path_params: Mapping[str, Any]
) -> None:
    """Another project's run is answered as if it did not exist."""
    if caller.all_projects:
        return
    for name, (noun, project_of) in _OWNED.items():
        if name not in path_params:
            continue
        try:
            wanted = uuid.UUID(str(path_params[name]))
        except ValueError:
            continue  # the route's own validation answers 422
        if not caller.sees(await project_of(connection, wanted)):
            raise NotFoundError(f"no {noun} with id {wanted}")


def _session(request: Request) -> Session:
    """The request's sign-in session; for a request that changes something, only with the
    session's CSRF token (app/access/sessions.py)."""
    cookies: SessionCookies = request.app.state.session_cookies
    session = cookies.read(request.cookies.get(COOKIE))
    if session is None:
        raise UnauthorizedError(
            "this service needs an API key: send `Authorization: Bearer lc_...`, or sign in "
            "to the pages at /ui/login"
        )
    if request.method not in SAFE_METHODS and not session.csrf_matches(
        request.headers.get(CSRF_HEADER)
    ):
        raise ForbiddenError(
            f"a signed-in page's {request.method} needs the session's CSRF token in the "
            f"{CSRF_HEADER} header; it is missing or wrong (reload the page)",
            field=CSRF_HEADER,
        )
    request.state.session = session
    return session


async def authorize(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The caller, by a bearer key or else the pages' session cookie, or a 401 (no key, an
    unknown or revoked one), 403 (a key without the scope; a session's change without its CSRF
    token), 404 (another project's run or battle), 429 (the key's minute is spent)."""
    settings: Settings = request.app.state.settings
    if not settings.auth_required():
        return OPEN
    needed = _needed_scope(request)
    if needed is None:
        return Caller(DEFAULT_PROJECT_ID, frozenset())
    session: Session | None = None
    if credentials is not None:
        key_digest = tokens.digest(credentials.credentials)
    else:
        session = _session(request)
        key_digest = session.key_digest
    state = await get_state(request)
    async with state.engine.begin() as connection:
        if session is not None and await repo.session_ended(connection, session.digest):
            raise UnauthorizedError("this session was signed out: sign in again at /ui/login")
        caller = await identify(connection, settings, key_digest)
    limiter: KeyRateLimiter = request.app.state.rate_limiter
    await limiter.hit(caller)
    if not caller.may(needed):
        raise ForbiddenError(
            f"{request.method} {request.url.path} needs the `{needed}` scope, which this "
            f"key ({caller.key_prefix}...) lacks"
        )
    async with state.engine.connect() as connection:
        await _check_owned(connection, caller, request.path_params)
    request.state.caller = caller  # for the pages' header
    return caller


CallerDep = Annotated[Caller, Depends(authorize)]
