"""Prometheus metrics of this process."""

from typing import Any, TypeVar, cast

from prometheus_client import Counter, Gauge, Histogram

_Metric = TypeVar("_Metric", Counter, Gauge, Histogram)
_children: dict[tuple[Any, tuple[str, ...]], Any] = {}


def labelled(metric: _Metric, *values: str) -> _Metric:
    """`metric.labels(*values)`, looked up once: prometheus_client's own lookup (a lock, the
    labels checked) takes microseconds, and the dispatcher makes five for every pair."""
    key = (metric, values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return cast(_Metric, child)


PAIRS_FINISHED = Counter(
    "llm_compare_pairs_finished_total", "Pairs written with a final status.", ["status"]
)
CACHE_HITS = Counter(
    "llm_compare_cache_hits_total", "Pairs answered from the response cache, without a call."
)
PROVIDER_CALLS = Counter(
    "llm_compare_provider_calls_total", "Calls made to providers.", ["model", "outcome"]
)
IN_FLIGHT = Gauge("llm_compare_pairs_in_flight", "Pairs claimed by this process.", ["model"])
PROVIDER_LATENCY = Histogram(
    "llm_compare_provider_latency_seconds",
    "Latency of successful provider calls.",
    ["model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
LOCAL_ABANDONED = Counter(
    "llm_compare_local_abandoned_total",
    "Local generations stopped early because their call timed out or was cancelled.",
    ["model"],
)
