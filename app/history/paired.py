"""Statistics for comparing two runs answer by answer (the diff) and repeated samples.

Pure functions over plain values; the caller pairs the answers (same prompt, same contender)
and reads them from the database.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

# Similarity and sample agreement live below every package (the runs' contender summary uses
# them too); the diff takes them from here as well.
from app.similarity import EXACT_SIMILARITY_CHARS as EXACT_SIMILARITY_CHARS
from app.similarity import SampleAgreement as SampleAgreement
from app.similarity import sample_agreement as sample_agreement
from app.similarity import similarity as similarity

SIGNIFICANCE = 0.05


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (binomial, p = 1/2)."""
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts cannot be negative, got {b} and {c}")
    if b + c == 0:
        return 1.0
    return float(binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)


@dataclass(frozen=True)
class FlagChange:
    """A yes/no property of paired answers in run `a` and run `b` (a flag, truncated, failed)."""

    rate_a: float | None  # None without answers
    rate_b: float | None
    only_a: int  # answers with it in a but not in b (McNemar's b)
    only_b: int  # answers with it in b but not in a (McNemar's c)
    pairs: int
    p_value: float
    worse: bool  # more frequent in b, at p < alpha


def flag_change(
    before: Sequence[bool], after: Sequence[bool], alpha: float = SIGNIFICANCE
) -> FlagChange:
    """How a property's rate moved between paired answers, with an exact McNemar test."""
    if len(before) != len(after):
        raise ValueError(f"paired answers: got {len(before)} before and {len(after)} after")
    only_a = sum(x and not y for x, y in zip(before, after, strict=True))
    only_b = sum(y and not x for x, y in zip(before, after, strict=True))
    n = len(before)
    p_value = mcnemar_exact(only_a, only_b)
    return FlagChange(
        rate_a=sum(before) / n if n else None,
        rate_b=sum(after) / n if n else None,
        only_a=only_a,
        only_b=only_b,
        pairs=n,
        p_value=p_value,
        worse=only_b > only_a and p_value < alpha,
    )


@dataclass(frozen=True)
class Percentiles:
    p50: float | None  # None without values
    p95: float | None
    n: int


@dataclass(frozen=True)
class PairedChange:
    """A number (latency, completion tokens) in run `a` and run `b`; deltas are b − a."""

    a: Percentiles
    b: Percentiles
    p50_delta: float | None
    p95_delta: float | None
    mean_delta: float | None  # mean of b − a over the answers that have both values
    pairs: int  # answers that have both values


def percentiles(values: Iterable[float | None]) -> Percentiles:
    """p50 and p95 of the values present, interpolated like PostgreSQL's percentile_cont."""
    present = [v for v in values if v is not None]
    if not present:
        return Percentiles(p50=None, p95=None, n=0)
    p50, p95 = np.percentile(present, [50, 95])
    return Percentiles(p50=float(p50), p95=float(p95), n=len(present))


def delta(a: float | None, b: float | None) -> float | None:
    """b − a, or None when either is missing (a failed answer has no latency or tokens)."""
    return None if a is None or b is None else b - a


def paired_change(before: Sequence[float | None], after: Sequence[float | None]) -> PairedChange:
    """Percentiles on each side, their differences, and the mean paired difference."""
    if len(before) != len(after):
        raise ValueError(f"paired answers: got {len(before)} before and {len(after)} after")
    a, b = percentiles(before), percentiles(after)
    both = [d for x, y in zip(before, after, strict=True) if (d := delta(x, y)) is not None]
    return PairedChange(
        a=a,
        b=b,
        p50_delta=delta(a.p50, b.p50),
        p95_delta=delta(a.p95, b.p95),
        mean_delta=math.fsum(both) / len(both) if both else None,
        pairs=len(both),
    )


def gate_failures(
    changes: Mapping[str, FlagChange],
    *,
    changed_share: float | None = None,
    max_changed_share: float | None = None,
) -> list[str]:
    """Why a diff fails the CLI gate (exit code 1): flags significantly worse in `b`, or more
    answers changed than allowed. Empty when it passes."""
    reasons = [
        f"{name}: {_percent(c.rate_a)} → {_percent(c.rate_b)} (p = {c.p_value:.3g})"
        for name, c in sorted(changes.items())
        if c.worse
    ]
    if changed_share is not None and max_changed_share is not None:
        if changed_share > max_changed_share:
            reasons.append(
                f"{_percent(changed_share)} of answers changed, more than "
                f"{_percent(max_changed_share)}"
            )
    return reasons


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}"
