"""The scopes a key may hold, and which one each route needs.

Every route of the app has a rule here, `PUBLIC` included; the authorization matrix test
(tests/access/test_matrix.py) walks `app.routes` and fails for a route without one, and
`authorize` refuses a request to a route it finds no rule for.
"""

from enum import StrEnum


class Scope(StrEnum):
    READ = "read"
    """Every GET: runs, their answers and exports, models, the leaderboard."""
    WRITE = "write"
    """Compare, judge, cancel, retry, delete."""
    VOTE = "vote"
    """Blind battles and votes."""
    ADMIN = "admin"
    """Keys and projects, and every project's runs; it holds every other scope too."""


PUBLIC = None
"""For probes, documentation and signing in: no key needed, even with auth on."""

R, W, V, A = Scope.READ, Scope.WRITE, Scope.VOTE, Scope.ADMIN

RULES: dict[tuple[str, str], Scope | None] = {
    ("POST", "/compare"): W,
    ("GET", "/runs"): R,
    ("GET", "/runs/{run_id}"): R,
    ("GET", "/runs/{run_id}/events"): R,
    ("GET", "/runs/{run_id}/responses"): R,
    ("POST", "/runs/{run_id}/cancel"): W,
    ("POST", "/runs/{run_id}/retry"): W,
    ("DELETE", "/runs/{run_id}"): W,
    ("POST", "/runs/{run_id}/replay"): W,
    ("GET", "/runs/{a}/diff/{b}"): R,
    ("POST", "/runs/{a}/diff/{b}/judge"): W,
    ("GET", "/models"): R,
    ("POST", "/runs/{run_id}/battles"): V,
    ("POST", "/battles/{battle_id}/vote"): V,
    ("POST", "/votes"): V,
    ("POST", "/runs/{run_id}/judge"): W,
    ("GET", "/runs/{run_id}/judgements"): R,
    ("GET", "/judge/rubric"): R,
    ("GET", "/leaderboard"): R,
    ("POST", "/keys"): A,
    ("GET", "/keys"): A,
    ("DELETE", "/keys/{key_id}"): A,
    ("POST", "/projects"): A,
    ("GET", "/projects"): A,
    # The pages: a signed-in key (app/access/sessions.py) sees its own project's runs, as
    # through the API; the compare form reads its prompt files for a run it will send.
    ("GET", "/"): R,
    ("GET", "/ui"): R,
    ("GET", "/ui/runs/{run_id}"): R,
    ("GET", "/ui/compare"): R,
    ("POST", "/ui/prompts"): W,
    ("GET", "/ui/runs/{run_id}/arena"): R,
    ("POST", "/ui/runs/{run_id}/arena/battles"): V,
    ("POST", "/ui/battles/{battle_id}/vote"): V,
    ("GET", "/ui/leaderboard"): R,
    ("GET", "/ui/runs/{a}/diff/{b}"): R,
    ("GET", "/ui/login"): PUBLIC,
    ("POST", "/ui/login"): PUBLIC,
    ("POST", "/ui/logout"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
}


class NoRule(LookupError):
    """A route nobody decided the scope of."""


def rule_for(method: str, path: str) -> Scope | None:
    """The scope `method path` (a route's path template) needs; None: public."""
    try:
        return RULES[(method, path)]
    except KeyError:
        raise NoRule(f"{method} {path}") from None
