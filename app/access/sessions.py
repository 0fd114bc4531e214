"""The pages' sign-in: a key given once at /ui/login becomes a signed session cookie.

The cookie holds the key's SHA-256 digest (what the database keeps of it, app/access/tokens.py)
and a random CSRF token, signed with itsdangerous, whose signature also carries when it was
issued; never the key itself. `authorize` (app/access/auth.py) looks the key up again by that
digest on every request, as it does a bearer key, so revoking a key ends its sessions at once
in every process. Signing out ends the one session the same way: its CSRF token's digest is
kept (`ended_sessions`) until the cookie would have expired, and a copy of it is refused.

A browser sends the cookie with every request to this site, also ones a page elsewhere makes it
send; so a request that changes something must also carry the session's CSRF token, which only
the pages this service renders for the signed-in browser hold (in a `<meta>`, sent back by
app/web/static/app.js as `X-CSRF-Token`, or a form's hidden `csrf_token`).
"""

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncEngine

from app.access import repository as repo
from app.access import tokens
from app.config import Settings

COOKIE = "llm_compare_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_SECRET_NAME = "session-signing"
_SALT = "llm-compare.session"


@dataclass(frozen=True)
class Session:
    key_digest: str
    csrf_token: str

    def csrf_matches(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent, self.csrf_token)

    @property
    def digest(self) -> str:
        """What the database keeps of a signed-out session: the digest of its CSRF token."""
        return tokens.digest(self.csrf_token)


class SessionCookies:
    """Issues, reads and clears the session cookie."""

    def __init__(self, secret: str, max_age_s: int, secure: bool) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self._max_age_s = max_age_s
        self._secure = secure

    def read(self, value: str | None) -> Session | None:
        """The session the cookie holds; None when there is none, or it is forged or expired."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=self._max_age_s)
        except BadSignature:  # SignatureExpired is one
            return None
        if not isinstance(data, dict):
            return None
        digest, token = data.get("k"), data.get("c")
        if not isinstance(digest, str) or not isinstance(token, str):
            return None
        return Session(digest, token)

    def start(self, response: Response, key_digest: str) -> Session:
        """A new session for the key with this digest, its cookie set on `response`."""
        session = Session(key_digest, secrets.token_urlsafe(32))
        value = self._serializer.dumps({"k": session.key_digest, "c": session.csrf_token})
        response.set_cookie(
            COOKIE,
            value,
            max_age=self._max_age_s,
            path="/",
            secure=self._secure,
            httponly=True,
            samesite="lax",
        )
        return session

    async def end(self, response: Response, session: Session, engine: AsyncEngine) -> None:
        """Clear the cookie, and refuse the session from now on, in every process: a copy of
        the cookie must not outlive the sign-out (until it would have expired)."""
        expires_at = datetime.now(UTC) + timedelta(seconds=self._max_age_s)
        async with engine.begin() as connection:
            await repo.end_session(connection, session.digest, expires_at)
        self.clear(response)

    def clear(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/", secure=self._secure, httponly=True, samesite="lax")


async def session_cookies(engine: AsyncEngine, settings: Settings) -> SessionCookies:
    """The cookies, signed with LLM_COMPARE_SESSION_SECRET or else the secret the first
    process made and stored, so that every process and every restart accept each other's."""
    if settings.session_secret is not None:
        secret = settings.session_secret.get_secret_value()
    else:
        async with engine.begin() as connection:
            secret = await repo.service_secret(connection, _SECRET_NAME, secrets.token_urlsafe(48))
    return SessionCookies(secret, settings.session_max_age_s, settings.secure_cookies)
