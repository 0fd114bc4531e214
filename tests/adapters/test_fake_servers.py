"""The fakes themselves: what the benchmark and people trying the service rely on."""

import asyncio
import socket
import subprocess
import sys

import aiohttp

from tests.support.fakes.openai_server import FakeOpenAI


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_standalone_openai_server_answers_until_killed() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fakes.openai_server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    body = {"model": "m", "messages": [{"role": "user", "content": "ping"}]}
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    url = f"http://127.0.0.1:{port}/v1/chat/completions"
                    async with session.post(url, json=body) as response:
                        answer = await response.json()
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("the standalone fake did not start")
    finally:
        process.terminate()
        process.wait(5)

    assert answer["choices"][0]["message"]["content"] == "answer to: ping"


async def test_latency_applies_to_concurrent_requests_in_parallel() -> None:
    async with FakeOpenAI(latency_ms=200) as fake, aiohttp.ClientSession() as session:

        async def ask(n: int) -> None:
            body = {"model": "m", "prompt": f"p{n}"}
            async with session.post(f"{fake.url}/v1/completions", json=body) as response:
                assert response.status == 200

        started = asyncio.get_running_loop().time()
        await asyncio.gather(*(ask(n) for n in range(20)))
        elapsed = asyncio.get_running_loop().time() - started

    assert 0.2 <= elapsed < 1.0
    assert sorted(r.body["prompt"] for r in fake.requests) == sorted(f"p{n}" for n in range(20))


async def test_an_invalid_body_is_a_400_in_the_provider_format() -> None:
    async with FakeOpenAI() as fake, aiohttp.ClientSession() as session:
        async with session.post(f"{fake.url}/v1/chat/completions", json={"model": "m"}) as r:
            status, body = r.status, await r.json()

    assert status == 400
    assert body["error"]["message"] == "'messages' must be a non-empty list"


async def test_tally_counts_requests_that_repeat_an_earlier_one() -> None:
    async with FakeOpenAI(tally=True) as fake, aiohttp.ClientSession() as session:
        for prompt in ("a", "b", "a", "a"):
            body = {"model": "m", "prompt": prompt}
            async with session.post(f"{fake.url}/v1/completions", json=body) as response:
                assert response.status == 200
        async with session.get(f"{fake.url}/stats") as response:
            stats = await response.json()

    assert stats == {"requests": 4, "distinct": 2, "duplicates": 2}
