"""Secure by default: unset, auth is off only on loopback; elsewhere the service refuses to
start and says how to choose."""

import os
import subprocess

import pytest

from app.config import AuthUnsetError
from app.main import create_app
from tests.support.service_process import LLM_COMPARE, free_port
from tests.support.settings import IsolatedSettings


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_unset_is_off_on_loopback(host: str) -> None:
    assert IsolatedSettings(host=host).auth_required() is False


def test_set_is_what_it_says_anywhere() -> None:
    assert IsolatedSettings(host="0.0.0.0", auth="on").auth_required() is True
    assert IsolatedSettings(host="0.0.0.0", auth="off").auth_required() is False
    assert IsolatedSettings(host="127.0.0.1", auth="on").auth_required() is True


def test_the_app_is_not_built_beyond_loopback_with_auth_unset() -> None:
    with pytest.raises(AuthUnsetError, match="LLM_COMPARE_AUTH=on"):
        create_app(IsolatedSettings(host="0.0.0.0"))


def test_serve_refuses_a_public_address_with_auth_unset() -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/never-reached",
    }
    done = subprocess.run(
        [LLM_COMPARE, "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    message = done.stderr.decode()
    assert "LLM_COMPARE_AUTH is unset" in message
    assert "LLM_COMPARE_AUTH=on" in message
    assert "LLM_COMPARE_AUTH=off" in message
