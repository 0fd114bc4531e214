"""The same work through llm-compare and through promptfoo, side by side in one run.

    python -m bench.peer                  # 1,000 prompts x 3 models at 50 ms, concurrency 200
    python -m bench.peer --repeat 3

One fake OpenAI-compatible provider process answers both. llm-compare: one `llm-compare
serve` on a fresh database on 127.0.0.1:5432, 67 calls in flight per model, timed from the
POST to the finished run (every pair stored). promptfoo 0.118: `promptfoo eval --no-cache
--max-concurrency 200` over the same prompts (made distinct per tool and round, so the fake
can tell that each answered every pair once) and the same three models, its results written
to its own SQLite database as it does by default; timed from the command's start to its end
(so its start-up, about a second, counts), its own "Duration" printed beside it. Each tool
first does a small warm-up run, untimed (our connections, promptfoo's new database).

promptfoo is installed once, outside the repository, in `--promptfoo-dir` (default
~/.cache/llm-compare-bench/promptfoo-0.118.0), by the commands its post-install step would
otherwise fail at (that step downloads a browser, which cannot be reached here):

    npm install --ignore-scripts promptfoo@0.118.0
    cd node_modules/better-sqlite3 && npx --yes node-gyp rebuild
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import (
    CpuMeter,
    FakeProvider,
    fresh_database,
    load_average,
    machine,
    model_names,
    per_process_concurrency,
    prompts,
    service,
    span,
    timed_run,
    write_catalogue,
)

PROMPTFOO = "promptfoo@0.118.0"
DEFAULT_DIR = Path.home() / ".cache" / "llm-compare-bench" / "promptfoo-0.118.0"


def ensure_promptfoo(directory: Path) -> Path:
    """The promptfoo command in `directory`, installing it there first if needed."""
    command = directory / "node_modules" / ".bin" / "promptfoo"
    addon = directory / "node_modules" / "better-sqlite3" / "build" / "Release"
    if command.exists() and (addon / "better_sqlite3.node").exists():
        return command
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "package.json").exists():
        (directory / "package.json").write_text('{"private": true}\n')
    steps = [
        (["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", PROMPTFOO], directory),
        (["npx", "--yes", "node-gyp", "rebuild"], directory / "node_modules" / "better-sqlite3"),
    ]
    for step, cwd in steps:
        print(f"installing promptfoo: (cd {cwd} && {' '.join(step)})", flush=True)
        subprocess.run(step, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return command


def write_promptfoo_config(path: Path, fake_url: str, models: list[str], texts: list[str]) -> None:
    config = {
        "description": "llm-compare bench.peer",
        "prompts": ["{{prompt}}"],
        "providers": [
            {
                "id": f"openai:chat:{name}",
                "label": name,
                "config": {"apiBaseUrl": f"{fake_url}/v1", "apiKey": "sk-bench", "max_tokens": 16},
            }
            for name in models
        ],
        "tests": [{"vars": {"prompt": text}} for text in texts],
    }
    path.write_text(json.dumps(config))


def run_promptfoo(
    command: Path, config: Path, home: Path, concurrency: int, pairs: int
) -> tuple[float, str]:
    """Wall seconds of one `promptfoo eval`, and the duration it reports itself."""
    env = {
        **os.environ,
        "PROMPTFOO_CONFIG_DIR": str(home),  # its database and settings, not ~/.promptfoo
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
    }
    argv = [str(command), "eval", "-c", str(config), "--no-cache"]
    argv += ["--max-concurrency", str(concurrency), "--no-table", "--no-progress-bar"]
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=config.parent, capture_output=True, text=True)
    wall_s = time.perf_counter() - started
    output = done.stdout + done.stderr
    successes = re.search(r"Successes: (\d+)", output)
    if successes is None or int(successes.group(1)) != pairs:
        sys.exit(f"promptfoo did not answer all {pairs} pairs:\n{output[-3000:]}")
    duration = re.search(r"Duration: ([^\s(]+)", output)
    return wall_s, duration.group(1) if duration else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=200, help="in flight in all")
    parser.add_argument("--workers", type=int, default=1, help="llm-compare's processes")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--promptfoo-dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()

    command = ensure_promptfoo(args.promptfoo_dir)
    models = model_names(args.models)
    pairs = args.prompts * args.models
    per_model = per_process_concurrency(args.concurrency, args.models, args.workers)
    ours: list[float] = []
    theirs: list[float] = []
    loads: list[float] = []
    print(f"machine: {machine()}; load average {load_average()}", flush=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeProvider(args.latency_ms) as fake,
        fresh_database() as db_url,
    ):
        catalogue = write_catalogue(Path(tmp) / "catalogue.json", fake.url, models, per_model)
        with service(db_url, catalogue, Path(tmp), args.workers) as svc:
            assert svc.process is not None
            meter = CpuMeter(svc.process.pid)
            warm = prompts(2 * per_model, "warm-up")
            timed_run(svc.url, meter, warm, models)
            # Its first eval in a new home creates its database: also outside the timing.
            home = Path(tmp) / "promptfoo-home"
            config = Path(tmp) / "warm-up" / "promptfooconfig.json"
            config.parent.mkdir()
            write_promptfoo_config(config, fake.url, models, [f"promptfoo {t}" for t in warm])
            run_promptfoo(command, config, home, args.concurrency, len(warm) * args.models)
            for round_ in range(1, args.repeat + 1):
                loads.append(float(load_average()))
                texts = prompts(args.prompts, f"ours {round_}")
                timed = timed_run(svc.url, meter, texts, models)
                if timed.succeeded != pairs:
                    sys.exit(f"llm-compare answered {timed.succeeded} of {pairs} pairs")
                config = Path(tmp) / f"promptfoo-{round_}" / "promptfooconfig.json"
                config.parent.mkdir()
                texts = prompts(args.prompts, f"promptfoo {round_}")
                write_promptfoo_config(config, fake.url, models, texts)
                wall_s, reported = run_promptfoo(command, config, home, args.concurrency, pairs)
                ours.append(timed.wall_s)
                theirs.append(wall_s)
                print(
                    f"  round {round_}: llm-compare {timed.wall_s:.2f} s, promptfoo "
                    f"{wall_s:.2f} s (it reports {reported}): {wall_s / timed.wall_s:.1f}×; "
                    f"load {loads[-1]:.2f}",
                    flush=True,
                )
        stats = fake.stats()
    if stats["duplicates"]:
        sys.exit(f"the fake was asked {stats['duplicates']} pairs twice")

    ratios = [t / o for o, t in zip(ours, theirs, strict=True)]
    print()
    print(f"Measured with `python -m bench.peer {' '.join(sys.argv[1:])}`".rstrip() + ":")
    print()
    print(
        f"{args.prompts:,} prompts × {args.models} models, L = {args.latency_ms:g} ms, "
        f"concurrency {args.concurrency}; {args.repeat} round(s), load average {span(loads)}:"
    )
    print()
    print("| | wall | promptfoo / llm-compare |")
    print("|---|---|---|")
    print(
        f"| llm-compare ({args.workers} process{'es' if args.workers > 1 else ''}, "
        f"{per_model} per model) | {span(ours, suffix=' s')} | |"
    )
    print(
        f"| promptfoo 0.118 (`--no-cache --max-concurrency {args.concurrency}`) | "
        f"{span(theirs, '{:.1f}', ' s')} | {span(ratios, '{:.1f}', '×')} |"
    )


if __name__ == "__main__":
    main()
