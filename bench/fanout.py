"""Fan-out benchmark: P prompts x M models through a real service to a fake provider.

Starts an OpenAI-compatible fake answering after L ms, a `llm-compare serve` whose M catalogue
models point at it, submits one run over HTTP, waits for it, and prints the wall time against
the limit P*M*L/concurrency. A benchmark, not a test: run it by hand.

    python -m bench.fanout                     # 1,000 x 3 at 50 ms, concurrency 64
    python -m bench.fanout --concurrency 200
    python -m bench.fanout --repeat            # the same run twice at temperature 0: the
                                               # second is answered from the response cache
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench python -m bench.fanout

`--concurrency` is the total in flight across the M models (each gets ceil(C/M)).
Without DATABASE_URL the service runs on its embedded PostgreSQL in a temporary directory.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.service_process import ServiceProcess, free_port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_fake(latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    fake = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.fakes.openai_server",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[1],  # where `tests` is importable
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.post(
                f"{url}/v1/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": "ping"}]},
                timeout=2,
            )
            return fake, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the fake provider did not start")


def submit(
    client: httpx.Client, pid: int, body: dict[str, Any]
) -> tuple[dict[str, Any], float, float, float]:
    """Submit one run and wait for it: the run, accept and wall seconds, the service's CPU."""
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    accepted = client.post("/compare", json=body)
    accepted.raise_for_status()
    accept_s = time.perf_counter() - started
    run: dict[str, Any] = client.get(
        accepted.headers["location"], params={"wait": 600, "prompt_limit": 1}
    ).json()
    wall_s = time.perf_counter() - started
    return run, accept_s, wall_s, cpu_seconds(pid) - cpu_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=64, help="total in flight")
    parser.add_argument(
        "--repeat",
        action="store_true",
        help="submit the run twice at temperature 0: the second one reuses the first's answers",
    )
    args = parser.parse_args()

    per_model = math.ceil(args.concurrency / args.models)
    concurrency = per_model * args.models
    pairs = args.prompts * args.models
    limit_s = pairs * args.latency_ms / 1000 / concurrency

    fake, fake_url = start_fake(args.latency_ms)
    with tempfile.TemporaryDirectory() as tmp:
        names = [f"bench-{i}" for i in range(args.models)]
        catalogue = Path(tmp) / "catalogue.json"
        catalogue.write_text(
            json.dumps(
                {
                    "models": [
                        {
                            "name": n,
                            "adapter": "openai",
                            "upstream": n,
                            "template": "chat",
                            "base_url": f"{fake_url}/v1",
                            "api_key": "sk-bench",
                            "concurrency": per_model,
                        }
                        for n in names
                    ]
                }
            )
        )
        env = {
            "LLM_COMPARE_CATALOGUE_FILE": str(catalogue),
            "LLM_COMPARE_DATA_DIR": str(Path(tmp) / "data"),
        }
        if os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = os.environ["DATABASE_URL"]
        service = ServiceProcess(env, Path(tmp) / "service.log")
        try:
            service.start(ready_timeout=180)  # a loaded machine starts slowly
            assert service.process is not None
            params: dict[str, Any] = {"max_new_tokens": 16}
            if args.repeat:
                params["temperature"] = 0
            body = {
                "prompts": [f"benchmark prompt {i}" for i in range(args.prompts)],
                "models": names,
                "params": params,
            }
            with httpx.Client(base_url=service.url, timeout=600) as client:
                run, accept_s, wall_s, cpu_s = submit(client, service.process.pid, body)
                if args.repeat:
                    again = submit(client, service.process.pid, body)
        finally:
            service.__exit__(None, None, None)
            fake.terminate()
            fake.wait(10)

    done = run["counts"]["succeeded"]
    print(f"pairs            {pairs} ({args.prompts} prompts x {args.models} models)")
    print(
        f"latency          {args.latency_ms:g} ms; concurrency {concurrency} "
        f"({per_model} per model)"
    )
    print(f"accepted in      {accept_s:.3f} s")
    print(f"wall             {wall_s:.3f} s")
    print(f"limit            {limit_s:.3f} s  (P*M*L/concurrency)")
    print(f"ratio            {wall_s / limit_s:.2f}x the limit")
    print(f"throughput       {pairs / wall_s:.0f} pairs/s")
    print(f"service CPU      {cpu_s * 1000 / pairs:.3f} ms per pair")
    print(f"persisted        {done}/{pairs} succeeded, run {run['status']}")
    if args.repeat:
        run2, accept2_s, wall2_s, cpu2_s = again
        cached = run2["counts"]["cached"]
        print(f"again: wall      {wall2_s:.3f} s ({wall2_s / wall_s:.2f}x the first run)")
        print(f"again: accepted  {accept2_s:.3f} s")
        print(f"again: CPU       {cpu2_s * 1000 / pairs:.3f} ms per pair")
        print(f"again: cached    {cached}/{pairs}, run {run2['status']}")
        if cached != pairs:
            sys.exit(1)
    if done != pairs:
        sys.exit(1)


if __name__ == "__main__":
    main()
