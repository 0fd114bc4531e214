"""On a real `llm-compare serve`: connections that never finish a request are closed; clients
that are slow but keep sending are served."""

import re
import select
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.database import admin, database_url
from tests.support.service_process import ServiceProcess

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

TIMEOUT_S = 1.5  # both the header and the body timeout
# The most a test waits for the server to close a connection: generous, as the machine may be
# loaded; the assertions are about closing, not about when.
PATIENCE_S = 30
BODY = b'{"prompts": ["steady"], "models": ["echo"]}'


@pytest.fixture(scope="module")
async def module_db(template_database: str) -> AsyncIterator[str]:
    name = f"llmc_http_{uuid.uuid4().hex[:12]}"
    await admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield database_url(name)
    await admin(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def service(module_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    env = {
        "DATABASE_URL": module_db,
        "LLM_COMPARE_MIGRATE_ON_START": "false",
        "LLM_COMPARE_HEADER_TIMEOUT_S": str(TIMEOUT_S),
        "LLM_COMPARE_BODY_TIMEOUT_S": str(TIMEOUT_S),
        "LLM_COMPARE_MAX_BODY_BYTES": "1024",
    }
    log = tmp_path_factory.mktemp("http") / "service.log"
    with ServiceProcess(env, log) as process:
        yield process


def _connect(service: ServiceProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", service.port), timeout=PATIENCE_S)


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a timeout if it never does)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def _head(method: str, path: str, length: int | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    """The status and body of one response (with a Content-Length) read from `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: (\d+)", head, flags=re.IGNORECASE)
    assert length is not None, head
    while len(body) < int(length[1]):
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection after {data!r}"
        body += chunk
    return int(head.split(b" ", 2)[1]), body


def test_connections_that_never_complete_a_request_are_closed(service: ServiceProcess) -> None:
    body = b'{"prompts": ["unfinished"], "models": ["echo"]}'
    head = _head("POST", "/compare", len(body))
    opened = [_connect(service) for _ in range(60)]
    for i, sock in enumerate(opened):
        match i % 4:
            case 0:
                pass  # connects, sends nothing
            case 1:
                sock.sendall(head[:9])  # half a request line
            case 2:
                sock.sendall(head[:-2])  # every header but the blank line ending them
            case 3:
                sock.sendall(head + body[:10])  # a part of the body it announced
    for sock in opened:
        with sock:
            assert _read_until_closed(sock) == b""  # closed, with nothing answered
    found = httpx.get(f"{service.url}/runs", params={"q": "unfinished"}).json()["items"]
    assert found == []
    assert httpx.get(f"{service.url}/healthz").status_code == 200


def test_a_head_sent_a_byte_at_a_time_is_closed_however_steady(service: ServiceProcess) -> None:
    # A header that never ends, a byte every fifth of the timeout: never silent for long.
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    with _connect(service) as sock:
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            if select.select([sock], [], [], TIMEOUT_S / 5)[0]:
                assert _read_until_closed(sock) == b""
                break
        else:
            pytest.fail("the server never closed a head that never ended")


def test_a_slow_but_steady_client_is_served(service: ServiceProcess) -> None:
    with _connect(service) as sock:
        head = _head("POST", "/compare", len(BODY))
        for part in (head[:20], head[20:60], head[60:]):
            sock.sendall(part)
            time.sleep(TIMEOUT_S / 6)
        # Longer in all than the body timeout, but never silent that long.
        for start in range(0, len(BODY), len(BODY) // 4 + 1):
            time.sleep(TIMEOUT_S / 3)
            sock.sendall(BODY[start : start + len(BODY) // 4 + 1])
        status, accepted = _read_response(sock)
        assert status == 202, accepted
        # The connection is kept for the next request.
        sock.sendall(_head("GET", "/healthz"))
        assert _read_response(sock)[0] == 200


def test_a_chunked_body_over_the_limit_is_a_413(service: ServiceProcess) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"models": ["echo"], "prompts": ["'
        for _ in range(16):
            yield b"x" * 512
        yield b'"]}'

    with httpx.Client(base_url=service.url) as client:
        refused = client.post(
            "/compare", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert refused.request.headers["transfer-encoding"] == "chunked"
        assert refused.status_code == 413
        assert refused.headers["content-type"] == "application/problem+json"
        assert "1024 bytes" in refused.json()["detail"]
