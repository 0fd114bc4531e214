"""Scale-out benchmark: more service processes on one database, measured side by side.

    python -m bench.scaleout                          # both sections, once each
    python -m bench.scaleout --repeat 3               # ranges over three rounds
    python -m bench.scaleout --section provider --processes 1 2 4
    python -m bench.scaleout --section cpu --workers 1 2

Each configuration gets a fresh PostgreSQL database on 127.0.0.1:5432 (created and dropped
here; override the server with LLM_COMPARE_TEST_DATABASE_URL), a fresh fake OpenAI-compatible
provider process answering after L ms, and `llm-compare serve` with LLM_COMPARE_WORKERS=N
(uvicorn's worker processes on one port, each with its own dispatcher, as operators run it).
A small warm-up run opens the connections, then one timed run of P prompts x M models is
submitted over HTTP and waited for; every pair is stored before the run counts as finished.
Rounds interleave the configurations (1, 2, 4, 1, 2, 4, ...) so the machine's load falls on
all of them alike, and each ratio compares runs of the same round.

- **provider**: each process may have `--per-model` calls in flight per model (the provider's
  limit, e.g. a rate limit per key), so N processes have N times as many: the throughput
  ratio against one process, and the duplicate calls counted at the fake (requests whose
  body repeats an earlier one: a pair called twice; every prompt is distinct).
- **cpu**: the provider allows `--concurrency` calls in flight in all, split over the models
  and workers; one process is CPU-bound there. The wall time against the limit P*M*L/in
  flight, with 1 and 2 workers.

Prints one line per run (with the load average) and ready-to-paste markdown tables.
"""

import argparse
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    CpuMeter,
    FakeProvider,
    fresh_database,
    load_average,
    machine,
    median,
    model_names,
    per_process_concurrency,
    prompts,
    service,
    span,
    timed_run,
    write_catalogue,
)


@dataclass(frozen=True)
class Config:
    section: str
    workers: int
    per_model: int  # calls in flight per model and per process
    latency_ms: float
    prompts: int
    models: int

    @property
    def in_flight(self) -> int:
        return self.per_model * self.models * self.workers

    @property
    def pairs(self) -> int:
        return self.prompts * self.models

    @property
    def limit_s(self) -> float:
        """The wall time if every slot were busy all the time: P*M*L / in flight."""
        return self.pairs * self.latency_ms / 1000 / self.in_flight


@dataclass(frozen=True)
class Result:
    config: Config
    round: int
    wall_s: float
    cpu_s: dict[str, float]  # service, provider, database
    duplicates: int
    requests: int
    load: str

    @property
    def pairs_per_s(self) -> float:
        return self.config.pairs / self.wall_s

    def cpu_ms_per_pair(self, part: str) -> float:
        return self.cpu_s[part] * 1000 / self.config.pairs

    @property
    def cores_busy(self) -> float:
        """CPU used by the service, the provider and the database, in cores."""
        return sum(self.cpu_s.values()) / self.wall_s


def measure(config: Config, round_: int) -> Result:
    models = model_names(config.models)
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeProvider(config.latency_ms) as fake,
        fresh_database() as db_url,
    ):
        catalogue = Path(tmp) / "catalogue.json"
        write_catalogue(catalogue, fake.url, models, config.per_model)
        with service(db_url, catalogue, Path(tmp), config.workers) as svc:
            assert svc.process is not None
            assert fake.process is not None
            meter = CpuMeter(svc.process.pid, fake.process.pid, db_url)
            warm = min(config.prompts, 2 * config.per_model * config.workers)
            timed_run(svc.url, meter, prompts(warm, "warm-up"), models)
            load = load_average()
            timed = timed_run(svc.url, meter, prompts(config.prompts, "run"), models)
        stats = fake.stats()
    if timed.succeeded != config.pairs:
        sys.exit(f"{config}: only {timed.succeeded} of {config.pairs} pairs succeeded")
    result = Result(
        config, round_, timed.wall_s, timed.cpu_s, stats["duplicates"], stats["requests"], load
    )
    print(
        f"  {config.section:<8} workers {config.workers}  round {round_}: wall "
        f"{timed.wall_s:6.3f} s (limit {config.limit_s:.3f} s; accepted in {timed.accept_s:.3f} s),"
        f" {result.pairs_per_s:6.0f} "
        f"pairs/s; CPU ms/pair: service {result.cpu_ms_per_pair('service'):.3f}, provider "
        f"{result.cpu_ms_per_pair('provider'):.3f}, database "
        f"{result.cpu_ms_per_pair('database'):.3f} ({result.cores_busy:.2f} cores busy); "
        f"{stats['requests']} calls, {stats['duplicates']} duplicate; load {load}",
        flush=True,
    )
    return result


def _by_workers(results: list[Result]) -> dict[int, list[Result]]:
    grouped: dict[int, list[Result]] = defaultdict(list)
    for result in results:
        grouped[result.config.workers].append(result)
    return grouped


def _ratios_to_one(results: list[Result]) -> dict[int, list[float]]:
    """Per worker count, wall(1 process) / wall(N) in each round."""
    base = {r.round: r.wall_s for r in results if r.config.workers == 1}
    ratios: dict[int, list[float]] = defaultdict(list)
    for r in results:
        if r.round in base:
            ratios[r.config.workers].append(base[r.round] / r.wall_s)
    return ratios


def _cpu(runs: list[Result]) -> str:
    """Median CPU per pair of the service / provider / database, and cores busy."""
    parts = " / ".join(
        f"{median([r.cpu_ms_per_pair(part) for r in runs]):.2f}"
        for part in ("service", "provider", "database")
    )
    return f"{parts} ms; {median([r.cores_busy for r in runs]):.1f}"


def _loads(results: list[Result]) -> str:
    return span([float(r.load) for r in results])


def provider_table(results: list[Result]) -> str:
    first = results[0].config
    ratios = _ratios_to_one(results)
    lines = [
        f"{first.prompts:,} prompts × {first.models} models, L = {first.latency_ms:g} ms, "
        f"{first.per_model} calls in flight per model and per process; {len(ratios[1])} "
        f"round(s), load average {_loads(results)}:",
        "",
        "| processes | in flight | wall / limit | throughput vs 1 process | "
        "duplicate calls | CPU per pair: service / provider / database; cores busy |",
        "|---|---|---|---|---|---|",
    ]
    for workers, runs in sorted(_by_workers(results).items()):
        c = runs[0].config
        to_limit = span([r.wall_s / c.limit_s for r in runs], suffix="×")
        lines.append(
            f"| {workers} | {c.in_flight} | {to_limit}"
            f" | {span(ratios[workers], suffix='×')} | {sum(r.duplicates for r in runs)} of "
            f"{sum(r.requests for r in runs):,} | {_cpu(runs)} |"
        )
    return "\n".join(lines)


def cpu_table(results: list[Result]) -> str:
    first = results[0].config
    lines = [
        f"{first.prompts:,} prompts × {first.models} models, L = {first.latency_ms:g} ms, "
        f"about {first.in_flight} calls in flight in all; load average {_loads(results)}:",
        "",
        "| workers | per model per process | limit | wall / limit | pairs/s vs 1 worker | "
        "CPU per pair: service / provider / database; cores busy |",
        "|---|---|---|---|---|---|",
    ]
    ratios = _ratios_to_one(results)
    for workers, runs in sorted(_by_workers(results).items()):
        c = runs[0].config
        lines.append(
            f"| {workers} | {c.per_model} | {c.limit_s:.3f} s | "
            f"{span([r.wall_s / c.limit_s for r in runs], suffix='×')} | "
            f"{span(ratios[workers], suffix='×')} | {_cpu(runs)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", choices=["provider", "cpu", "all"], default="all")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; ranges are given")
    parser.add_argument("--models", type=int, default=3)
    group = parser.add_argument_group("provider-bound")
    group.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    group.add_argument("--provider-prompts", type=int, default=2000)
    group.add_argument("--per-model", type=int, default=32, help="per model and per process")
    group.add_argument("--provider-latency-ms", type=float, default=200)
    group = parser.add_argument_group("CPU-bound")
    group.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    group.add_argument("--cpu-prompts", type=int, default=1000)
    group.add_argument("--concurrency", type=int, default=200, help="in flight in all")
    group.add_argument("--cpu-latency-ms", type=float, default=50)
    args = parser.parse_args()

    configs: list[Config] = []
    if args.section in ("provider", "all"):
        configs += [
            Config(
                "provider",
                n,
                args.per_model,
                args.provider_latency_ms,
                args.provider_prompts,
                args.models,
            )
            for n in args.processes
        ]
    if args.section in ("cpu", "all"):
        configs += [
            Config(
                "cpu",
                n,
                per_process_concurrency(args.concurrency, args.models, n),
                args.cpu_latency_ms,
                args.cpu_prompts,
                args.models,
            )
            for n in args.workers
        ]
    print(f"machine: {machine()}; load average {load_average()}", flush=True)
    results = [measure(c, r) for r in range(1, args.repeat + 1) for c in configs]

    print()
    print(f"Measured with `python -m bench.scaleout {' '.join(sys.argv[1:])}`".rstrip() + ":")
    for section, table in (("provider", provider_table), ("cpu", cpu_table)):
        chosen = [r for r in results if r.config.section == section]
        if chosen:
            print()
            print(table(chosen))
    if any(r.duplicates for r in results):
        sys.exit("some pairs were called more than once")


if __name__ == "__main__":
    main()
