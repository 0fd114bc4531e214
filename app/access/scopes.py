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
"""For probes and documentation: no key needed, even with auth on."""

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
    # The pages show every project's runs: until they log in with a key of their own, only
    # an admin key reads them while auth is on.
    ("GET", "/"): A,
    ("GET", "/ui"): A,
    ("GET", "/ui/runs/{run_id}"): A,
    ("GET", "/ui/compare"): A,
    ("POST", "/ui/prompts"): A,
    ("GET", "/ui/runs/{run_id}/arena"): A,
    ("POST", "/ui/runs/{run_id}/arena/battles"): A,
    ("POST", "/ui/battles/{battle_id}/vote"): A,
    ("GET", "/ui/leaderboard"): A,
    ("GET", "/ui/runs/{a}/diff/{b}"): A,
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
