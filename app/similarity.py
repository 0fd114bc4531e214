"""How alike two answers are, and how alike a contender's repeated samples of a prompt are.

Pure functions over texts: the runs' contender summary (samples) and the run diff use them.
"""

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import LCSseq, Postfix, Prefix

# Exact similarity is quadratic in the differing stretch of two answers; past this many
# characters a side it is bounded from below block by block instead, so cost stays linear.
EXACT_SIMILARITY_CHARS = 10_000


def similarity(a: str, b: str) -> float:
    """Normalized Indel similarity, 2·LCS / (len a + len b): 1 for equal texts, else below 1.

    Indel (rapidfuzz's `fuzz.ratio` / 100) counts the characters the two answers share in
    order, so a reworded sentence costs a little and a truncated answer costs what it lost;
    partial or token-sorted ratios would call an answer cut in half identical to the whole.
    Exact whenever the stretch between the common prefix and suffix is at most
    EXACT_SIMILARITY_CHARS on each side; beyond that, a lower bound from aligned blocks.
    """
    if a == b:
        return 1.0
    prefix = Prefix.similarity(a, b)
    a_rest, b_rest = a[prefix:], b[prefix:]
    suffix = Postfix.similarity(a_rest, b_rest)
    a_mid, b_mid = a_rest[: len(a_rest) - suffix], b_rest[: len(b_rest) - suffix]
    common = prefix + suffix + _common_subsequence(a_mid, b_mid)
    return 2 * common / (len(a) + len(b))


def _common_subsequence(a: str, b: str) -> int:
    """LCS length, exact up to the bound; past it, summed over aligned blocks (a lower bound)."""
    size = EXACT_SIMILARITY_CHARS
    if max(len(a), len(b)) <= size:
        return int(LCSseq.similarity(a, b))
    blocks = range(0, min(len(a), len(b)), size)
    return sum(int(LCSseq.similarity(a[k : k + size], b[k : k + size])) for k in blocks)


@dataclass(frozen=True)
class SampleAgreement:
    """How alike a contender's repeated samples of one prompt are, over all pairs of them."""

    share_identical: float | None  # None with fewer than two samples
    mean_similarity: float | None
    pairs: int


def sample_agreement(outputs: Sequence[str]) -> SampleAgreement:
    pairs = list(itertools.combinations(outputs, 2))
    if not pairs:
        return SampleAgreement(share_identical=None, mean_similarity=None, pairs=0)
    identical = sum(x == y for x, y in pairs)
    mean = math.fsum(similarity(x, y) for x, y in pairs) / len(pairs)
    return SampleAgreement(
        share_identical=identical / len(pairs), mean_similarity=mean, pairs=len(pairs)
    )


def pooled_agreement(groups: Iterable[Sequence[str]]) -> SampleAgreement:
    """Agreement over the pairs of samples within each group (a prompt's samples), pooled:
    every pair counts once, whichever prompt it is of."""
    pairs, identical, similar = 0, 0.0, 0.0
    for group in groups:
        found = sample_agreement(group)
        if found.pairs:
            pairs += found.pairs
            identical += (found.share_identical or 0.0) * found.pairs
            similar += (found.mean_similarity or 0.0) * found.pairs
    if not pairs:
        return SampleAgreement(share_identical=None, mean_similarity=None, pairs=0)
    return SampleAgreement(
        share_identical=identical / pairs, mean_similarity=similar / pairs, pairs=pairs
    )
