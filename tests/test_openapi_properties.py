"""Property-based test of the whole API from its own OpenAPI schema (schemathesis).

For every operation, examples generated from the schema (valid and invalid ones, seeded, a fixed
number per operation) are sent to the app in-process, backed by the test's real PostgreSQL:
no answer may be a 5xx, and each must be documented by the schema (status code, content type,
body). The `/runs/{run_id}` family gets the ids of real runs as well as random ones.
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.config import Settings
from app.main import create_app
from tests.support.settings import IsolatedSettings

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CONFIG = {
    "seed": 20_240_601,
    "generation": {"max-examples": 100, "deterministic": True, "database": "none"},
    "phases": {"stateful": {"enabled": False}},
    "max-stream-events": 2,
}

# The schema is the app's own; each operation's test then talks to an app of its own, on a
# fresh database, started by schemathesis in-process (its lifespan runs the dispatcher).
schema = schemathesis.openapi.from_dict(
    create_app(IsolatedSettings(database_url="postgresql://unused/unused")).openapi(),
    config=schemathesis.Config.from_dict(CONFIG),
)
_real_run_ids: list[str] = []


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    """A run id is a random one or one of the real runs the test made."""
    if not path_parameters or "run_id" not in path_parameters:
        return st.just(path_parameters)
    real = [{**path_parameters, "run_id": run_id} for run_id in _real_run_ids]
    return st.sampled_from([path_parameters, *real])


@schema.hook
def map_headers(
    context: schemathesis.HookContext, headers: dict[str, Any] | None
) -> dict[str, Any] | None:
    """No generated `Host`: which host names the service answers is the transport's setting
    (LLM_COMPARE_ALLOWED_HOSTS), a 400 before any route is chosen, the same for every one."""
    if not headers:
        return headers
    return {name: value for name, value in headers.items() if name.lower() != "host"}


# The local models answer through echo here: the schema's examples name them, and loading
# real weights would only slow the test down.
ECHO_FOR_LOCAL_MODELS = "".join(
    f'[[models]]\nname = "{name}"\nadapter = "echo"\nupstream = "echo"\n'
    for name in ("local/gemma-3-270m", "local/smollm2-135m-instruct")
)


@pytest.fixture
def app(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[FastAPI]:
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text(ECHO_FOR_LOCAL_MODELS)
    # Short waits: generated `wait` values would otherwise hold a request up to 300 s.
    app = create_app(
        make_settings(
            catalogue_file=catalogue,
            max_wait_s=0.2,
            shutdown_grace_s=0,
            allowed_hosts="testserver",  # the name schemathesis' in-process client sends
        )
    )
    compare = schema["/compare"]["POST"]
    _real_run_ids[:] = [
        compare.Case(body={"prompts": ["hello", "world"], "models": [model]}, query={"wait": 5})
        .call(app=app)
        .json()["id"]
        for model in ("echo", "echo-slow")  # one finishes at once, one is still running
    ]
    yield app
    shutdown_lifespans()
    _real_run_ids.clear()


@schema.parametrize()
# The app (and its database) lives as long as one operation's test, across its examples.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_input_gets_a_5xx_and_every_answer_is_documented(
    case: schemathesis.Case[Any], app: FastAPI
) -> None:
    case.call_and_validate(checks=CHECKS, app=app)
