"""The leaderboard: Bradley–Terry scores from pairwise votes, with the diagnostics beside them.

Pure statistics over `Vote` values; the caller reads votes from the database and fills in each
contender's `model`.

How votes count:
- `a` / `b`: a win for the contender shown on that side.
- `tie` and `both_bad`: half a win each, as FastChat counts "tie" and "tie (bothbad)". Both
  answers were judged alike, which is what a tie says to a strength model; `both_bad` stays
  visible in the votes themselves, and here it counts among a contender's `ties`.

Scores are Bradley–Terry strengths on the Elo scale (FastChat's convention: 400·log10 of the
strength ratio, the mean contender at 1000), fitted on win counts by choix's iterative Luce
spectral ranking. The MLE does not exist when a contender only wins or only loses, or when the
comparison graph falls apart, so the fit adds choix's regulariser `alpha` = PRIOR_ALPHA: at
equal strengths it weighs like 4·alpha = 0.4 tied votes between every two contenders. That keeps
every score finite, pulls contenders with few votes towards 1000, and is negligible once a pair
has tens of votes. Across disconnected groups of contenders the scores rest on that prior alone:
`Leaderboard.connected` says when that happened.

Intervals are 95% percentile bootstrap intervals over votes: the votes are resampled with
replacement (as counts, one multinomial draw per resample) by a generator seeded with `seed`,
so the same votes and seed give the same numbers. Where every vote between the contenders went
the same way, every resample looks alike and the interval collapses to the score: read it with
the vote counts (the Wilson interval of the pair's win rate stays honest there).
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import choix
import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from app.domain import WINNERS, Winner

PEOPLE = "people"
JUDGE_PREFIX = "judge:"
ALL_VOTERS = "all"
TIE = "tie"  # the verdict of a tie or a both_bad vote, when verdicts are compared

ELO_BASE = 1000.0
ELO_PER_NATURAL_UNIT = 400.0 / math.log(10.0)
PRIOR_ALPHA = 0.1
_MAX_ITERATIONS = 1000  # choix's default of 100 can run out on lopsided, sparse resamples


@dataclass(frozen=True)
class Vote:
    """One verdict on two answers shown side by side.

    `a` and `b` are the labels of the contenders shown on the left (a) and right (b); `voter`
    is "people" or "judge:MODEL"; `item` names what was compared (e.g. the prompt), so that
    the same pair judged twice (both orders, or by people and a judge) can be matched.
    """

    a: str
    b: str
    winner: Winner
    voter: str = PEOPLE
    item: str | None = None

    def __post_init__(self) -> None:
        if self.a == self.b:
            raise ValueError(f"a vote compares two different contenders, got {self.a!r} twice")
        if self.winner not in WINNERS:
            raise ValueError(f"winner must be one of {sorted(WINNERS)}, got {self.winner!r}")
        if not is_voter(self.voter):
            raise ValueError(f"voter must be 'people' or 'judge:MODEL', got {self.voter!r}")


@dataclass(frozen=True)
class ContenderScore:
    label: str
    model: str | None
    score: float | None  # None without votes
    ci_low: float | None  # None without votes or bootstrap resamples
    ci_high: float | None
    votes: int
    wins: int
    losses: int
    ties: int  # ties and both_bad votes


@dataclass(frozen=True)
class WinRate:
    """How often `a` beat `b` (ties half), with a Wilson interval; `a` ranks above `b`."""

    a: str
    b: str
    rate: float
    ci_low: float
    ci_high: float
    votes: int


@dataclass(frozen=True)
class PositionBias:
    """Share of people's decisive votes (not tie/both_bad) that went to the left side, `a`."""

    share_a: float | None
    ci_low: float | None
    ci_high: float | None
    decisive: int


@dataclass(frozen=True)
class JudgeInconsistency:
    """Of the pairs a judge judged in both orders, how many got different verdicts."""

    judge: str
    share: float | None
    inconsistent: int
    pairs: int


@dataclass(frozen=True)
class Agreement:
    """Of people's votes on pairs this judge also judged, the share with the judge's verdict."""

    judge: str
    share: float | None
    ci_low: float | None
    ci_high: float | None
    agree: int
    votes: int


@dataclass(frozen=True)
class Leaderboard:
    contenders: list[ContenderScore]  # best first
    win_rates: list[WinRate]
    position_bias: PositionBias
    judge_inconsistency: list[JudgeInconsistency]
    agreement: list[Agreement]
    connected: bool  # False: some voted contenders were never compared, even indirectly


def is_voter(voter: str) -> bool:
    return voter == PEOPLE or (voter.startswith(JUDGE_PREFIX) and len(voter) > len(JUDGE_PREFIX))


def wilson(successes: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion; `successes` may be fractional (half-won ties)."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes} of {n}")
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    return max(0.0, centre - half), min(1.0, centre + half)


def verdict(vote: Vote) -> str:
    """The winning contender's label, or TIE for tie and both_bad."""
    return vote.a if vote.winner == "a" else vote.b if vote.winner == "b" else TIE


def leaderboard(
    votes: Sequence[Vote],
    *,
    voter: str = ALL_VOTERS,
    labels: Iterable[str] = (),
    bootstrap: int = 1000,
    seed: int = 0,
) -> Leaderboard:
    """Scores and win rates from the votes of `voter` ("all", "people" or "judge:MODEL").

    `labels` adds contenders that may have no votes yet: they are listed last, unscored (they
    stay out of the fit, so they do not move the others). The diagnostics (position bias, judge
    inconsistency, agreement) always look at all the votes given, whatever `voter` selects.
    """
    if voter != ALL_VOTERS and not is_voter(voter):
        raise ValueError(f"voter must be 'all', 'people' or 'judge:MODEL', got {voter!r}")
    chosen = [v for v in votes if voter == ALL_VOTERS or v.voter == voter]
    names = sorted({*(v.a for v in chosen), *(v.b for v in chosen)})
    index = {name: i for i, name in enumerate(names)}
    cells, cell_counts = _vote_cells(chosen, index)
    n = len(names)
    point = _fit(_comparisons(cells, cell_counts, n))
    ci = _bootstrap_intervals(cells, cell_counts, n, point, bootstrap, seed)

    record = _records(chosen)
    scored = [_contender(name, point[i], ci, i, record[name]) for i, name in enumerate(names)]
    scored.sort(key=lambda c: (-(c.score or 0.0), c.label))
    unvoted = [
        ContenderScore(name, None, None, None, None, votes=0, wins=0, losses=0, ties=0)
        for name in sorted(set(labels) - index.keys())
    ]
    rank = {c.label: r for r, c in enumerate(scored)}
    return Leaderboard(
        contenders=scored + unvoted,
        win_rates=_win_rates(chosen, rank),
        position_bias=position_bias(votes),
        judge_inconsistency=judge_inconsistency(votes),
        agreement=agreement(votes),
        connected=_connected(cells, n),
    )


def _vote_cells(
    votes: Sequence[Vote], index: dict[str, int]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Votes as counts per cell (i, j, outcome) with i < j; outcome 0: i won, 1: j won, 2: tie."""
    n = len(index)
    codes = np.empty(len(votes), dtype=np.int64)
    for k, v in enumerate(votes):
        i, j = index[v.a], index[v.b]
        outcome = 0 if v.winner == "a" else 1 if v.winner == "b" else 2
        if i > j:
            i, j = j, i
            outcome = {0: 1, 1: 0, 2: 2}[outcome]
        codes[k] = (i * n + j) * 3 + outcome
    cells, counts = np.unique(codes, return_counts=True)
    return cells, counts.astype(np.int64)


def _comparisons(
    cells: NDArray[np.int64], counts: NDArray[np.int64], n: int
) -> NDArray[np.float64]:
    """The matrix of wins, comp[i, j] = times i beat j, a tie giving each half a win."""
    pair, outcome = np.divmod(cells, 3)
    i, j = np.divmod(pair, n)
    first = np.where(outcome == 1, j * n + i, i * n + j)
    second = j * n + i
    first_weight = np.where(outcome == 2, 0.5, 1.0)
    second_weight = np.where(outcome == 2, 0.5, 0.0)
    flat = np.bincount(
        np.concatenate([first, second]),
        weights=np.concatenate([counts * first_weight, counts * second_weight]),
        minlength=n * n,
    )
    return flat.astype(np.float64, copy=False).reshape(n, n)


def _fit(
    comparisons: NDArray[np.float64], initial: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    """Bradley–Terry log-strengths, centred on their mean (one contender: zero)."""
    if len(comparisons) < 2:
        return np.zeros(len(comparisons))
    params = choix.ilsr_pairwise_dense(
        comparisons, alpha=PRIOR_ALPHA, initial_params=initial, max_iter=_MAX_ITERATIONS
    )
    centred: NDArray[np.float64] = params - params.mean()
    return centred


def _bootstrap_intervals(
    cells: NDArray[np.int64],
    counts: NDArray[np.int64],
    n: int,
    point: NDArray[np.float64],
    resamples: int,
    seed: int,
) -> NDArray[np.float64] | None:
    """Rows 2.5th and 97.5th percentiles of the Elo scores over resampled votes, or None."""
    total = int(counts.sum())
    if n < 2 or total == 0 or resamples <= 0:
        return None
    rng = np.random.default_rng(seed)
    shares = counts / total
    samples = np.empty((resamples, n))
    for r in range(resamples):
        drawn = rng.multinomial(total, shares)
        samples[r] = _fit(_comparisons(cells, drawn, n), initial=point)
    elo: NDArray[np.float64] = np.percentile(_elo(samples), [2.5, 97.5], axis=0)
    return elo


def _elo(params: NDArray[np.float64]) -> NDArray[np.float64]:
    return ELO_BASE + ELO_PER_NATURAL_UNIT * params


@dataclass
class _Record:
    wins: int = 0
    losses: int = 0
    ties: int = 0


def _records(votes: Iterable[Vote]) -> defaultdict[str, _Record]:
    record: defaultdict[str, _Record] = defaultdict(_Record)
    for v in votes:
        if v.winner in ("a", "b"):
            winner, loser = (v.a, v.b) if v.winner == "a" else (v.b, v.a)
            record[winner].wins += 1
            record[loser].losses += 1
        else:
            record[v.a].ties += 1
            record[v.b].ties += 1
    return record


def _contender(
    label: str, param: float, ci: NDArray[np.float64] | None, i: int, record: _Record
) -> ContenderScore:
    votes = record.wins + record.losses + record.ties
    low = high = None
    if ci is not None:
        low, high = float(ci[0, i]), float(ci[1, i])
    return ContenderScore(
        label=label,
        model=None,
        score=float(ELO_BASE + ELO_PER_NATURAL_UNIT * param),
        ci_low=low,
        ci_high=high,
        votes=votes,
        wins=record.wins,
        losses=record.losses,
        ties=record.ties,
    )


def _win_rates(votes: Iterable[Vote], rank: dict[str, int]) -> list[WinRate]:
    """One row per pair that met, oriented so that `a` is the higher-ranked contender."""
    won: defaultdict[tuple[str, str], float] = defaultdict(float)
    met: defaultdict[tuple[str, str], int] = defaultdict(int)
    for v in votes:
        a, b = sorted((v.a, v.b), key=rank.__getitem__)
        met[a, b] += 1
        won[a, b] += 1.0 if verdict(v) == a else 0.5 if verdict(v) == TIE else 0.0
    rows = []
    for (a, b), n in sorted(met.items(), key=lambda kv: (rank[kv[0][0]], rank[kv[0][1]])):
        low, high = wilson(won[a, b], n)
        rows.append(WinRate(a=a, b=b, rate=won[a, b] / n, ci_low=low, ci_high=high, votes=n))
    return rows


def _connected(cells: NDArray[np.int64], n: int) -> bool:
    if n < 2:
        return True
    pair = cells // 3
    i, j = np.divmod(pair, n)
    graph = csr_matrix((np.ones(len(pair)), (i, j)), shape=(n, n))
    components, _ = connected_components(graph, directed=False)
    return int(components) == 1


def position_bias(votes: Iterable[Vote]) -> PositionBias:
    """How often people's decisive votes went to side `a`; 0.5 means no side is favoured."""
    decisive = [v for v in votes if v.voter == PEOPLE and v.winner in ("a", "b")]
    if not decisive:
        return PositionBias(share_a=None, ci_low=None, ci_high=None, decisive=0)
    for_a = sum(v.winner == "a" for v in decisive)
    low, high = wilson(for_a, len(decisive))
    return PositionBias(
        share_a=for_a / len(decisive), ci_low=low, ci_high=high, decisive=len(decisive)
    )


_PairKey = tuple[str, frozenset[str]]  # (item, the two contenders)


def _judge_verdicts(votes: Iterable[Vote]) -> dict[str, dict[_PairKey, dict[tuple[str, str], str]]]:
    """judge → pair → shown order (a, b) → verdict; a later vote in the same order wins."""
    found: dict[str, dict[_PairKey, dict[tuple[str, str], str]]] = {}
    for v in votes:
        if v.voter.startswith(JUDGE_PREFIX) and v.item is not None:
            pairs = found.setdefault(v.voter, {})
            pairs.setdefault((v.item, frozenset((v.a, v.b))), {})[v.a, v.b] = verdict(v)
    return found


def judge_inconsistency(votes: Iterable[Vote]) -> list[JudgeInconsistency]:
    """Per judge: the pairs judged in both orders (matched by `item`) whose verdicts differ."""
    rows = []
    for judge, pairs in sorted(_judge_verdicts(votes).items()):
        both = [orders for orders in pairs.values() if len(orders) == 2]
        differ = sum(len(set(orders.values())) > 1 for orders in both)
        share = differ / len(both) if both else None
        rows.append(JudgeInconsistency(judge, share=share, inconsistent=differ, pairs=len(both)))
    return rows


def agreement(votes: Sequence[Vote]) -> list[Agreement]:
    """Per judge: the share of people's votes that match the judge's verdict on the same pair.

    A pair is matched by `item` and the two contenders, whatever the order shown. A judge that
    judged both orders and disagreed with itself counts as having called a tie (the MT-bench
    convention); tie and both_bad are the same verdict here. Each person's vote counts once.
    """
    people: defaultdict[_PairKey, list[str]] = defaultdict(list)
    for v in votes:
        if v.voter == PEOPLE and v.item is not None:
            people[v.item, frozenset((v.a, v.b))].append(verdict(v))
    rows = []
    for judge, pairs in sorted(_judge_verdicts(votes).items()):
        agree = total = 0
        for key, orders in pairs.items():
            calls = set(orders.values())
            judged = calls.pop() if len(calls) == 1 else TIE
            agree += sum(call == judged for call in people.get(key, ()))
            total += len(people.get(key, ()))
        low, high = wilson(agree, total) if total else (None, None)
        share = agree / total if total else None
        rows.append(Agreement(judge, share, ci_low=low, ci_high=high, agree=agree, votes=total))
    return rows
