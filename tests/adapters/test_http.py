import socket
from datetime import UTC, datetime

import pytest

from app.adapters.base import ProviderError
from app.adapters.http import JsonHttpClient, parse_retry_after, scrub

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Fri, 02 Jan 2026 03:04:35 GMT", 30.0),
        ("Fri, 02 Jan 2026 03:00:00 GMT", 0.0),  # already past
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_scrub_removes_secrets_and_truncates() -> None:
    assert scrub("bad key sk-123 given", ["sk-123", ""]) == "bad key *** given"
    assert len(scrub("x" * 5000, [])) == 1000


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_refused_connection_is_transient() -> None:
    client = JsonHttpClient(concurrency=1, timeout_s=5, headers={"Authorization": "Bearer k"})
    try:
        with pytest.raises(ProviderError) as caught:
            await client.post_json(f"http://127.0.0.1:{_closed_port()}/v1/x", {})
    finally:
        await client.aclose()

    assert caught.value.transient
    assert caught.value.status is None
    assert caught.value.message.startswith("connection failed: ")
