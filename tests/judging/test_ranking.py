"""The leaderboard's statistics against votes drawn from known Bradley–Terry strengths."""

import math

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.stats import binomtest

from app.judging.ranking import (
    ELO_BASE,
    ELO_PER_NATURAL_UNIT,
    Leaderboard,
    Vote,
    agreement,
    judge_inconsistency,
    leaderboard,
    position_bias,
    wilson,
)


def simulated_votes(
    strengths: NDArray[np.float64], n_votes: int, seed: int, tie_share: float = 0.0
) -> list[Vote]:
    """Votes between random pairs, `a` winning with the Bradley–Terry probability."""
    rng = np.random.default_rng(seed)
    n = len(strengths)
    a = rng.integers(0, n, n_votes)
    b = (a + rng.integers(1, n, n_votes)) % n
    p_a = 1 / (1 + np.exp(strengths[b] - strengths[a]))
    tie = rng.random(n_votes) < tie_share
    a_wins = rng.random(n_votes) < p_a
    return [
        Vote(f"m{i}", f"m{j}", "tie" if t else "a" if w else "b")
        for i, j, t, w in zip(a.tolist(), b.tolist(), tie.tolist(), a_wins.tolist(), strict=True)
    ]


def true_elo(strengths: NDArray[np.float64]) -> dict[str, float]:
    """Strengths are identified up to a shift: centre them on their mean, as the scores are."""
    centred = strengths - strengths.mean()
    return {f"m{i}": ELO_BASE + ELO_PER_NATURAL_UNIT * float(s) for i, s in enumerate(centred)}


def scores(board: Leaderboard) -> dict[str, float | None]:
    return {c.label: c.score for c in board.contenders}


def score_of(board: Leaderboard, label: str) -> float:
    (score,) = (c.score for c in board.contenders if c.label == label)
    assert score is not None
    return score


def test_the_fit_recovers_the_order_of_known_strengths() -> None:
    strengths = np.linspace(-1.2, 1.2, 8)  # about 60 Elo points apart
    board = leaderboard(simulated_votes(strengths, 8000, seed=7, tie_share=0.1), bootstrap=100)

    assert [c.label for c in board.contenders] == [f"m{i}" for i in reversed(range(8))]
    truth = true_elo(strengths)
    for label, expected in truth.items():
        assert score_of(board, label) == pytest.approx(expected, abs=40)
    assert sum(score_of(board, label) for label in truth) / 8 == pytest.approx(ELO_BASE)
    assert board.connected


def test_bootstrap_intervals_cover_the_true_strengths_about_95_percent_of_the_time() -> None:
    strengths = np.array([-0.9, -0.5, -0.2, 0.1, 0.5, 1.0])
    truth = true_elo(strengths)
    covered = total = 0
    for repetition in range(50):
        votes = simulated_votes(strengths, 600, seed=1000 + repetition)
        for c in leaderboard(votes, bootstrap=200, seed=repetition).contenders:
            assert c.ci_low is not None
            assert c.ci_high is not None
            covered += c.ci_low <= truth[c.label] <= c.ci_high
            total += 1
    coverage = covered / total
    # Printed on purpose (pytest -s): the figure itself is worth seeing, not just the band.
    print(f"bootstrap 95% intervals covered the true strength in {coverage:.1%} of {total}")  # noqa: T201
    assert 0.85 <= coverage <= 0.995


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (5, 10, 0.2366, 0.7634),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (81, 263, 0.2553, 0.3662),
    ],
)
def test_wilson_matches_known_intervals(successes: int, n: int, low: float, high: float) -> None:
    assert wilson(successes, n) == pytest.approx((low, high), abs=5e-5)
    reference = binomtest(successes, n).proportion_ci(method="wilson")
    assert wilson(successes, n) == pytest.approx((reference.low, reference.high), abs=1e-4)


def test_wilson_refuses_an_empty_sample() -> None:
    with pytest.raises(ValueError, match="n > 0"):
        wilson(0, 0)


def test_a_tie_counts_as_half_a_win_for_each_side() -> None:
    with_ties = [Vote("x", "y", "a"), Vote("x", "y", "tie"), Vote("y", "x", "both_bad")]
    as_wins = [Vote("x", "y", "a"), Vote("x", "y", "a"), Vote("y", "x", "a")]

    assert scores(leaderboard(with_ties)) == pytest.approx(scores(leaderboard(as_wins)))
    board = leaderboard(with_ties)
    (rate,) = board.win_rates
    assert (rate.a, rate.b, rate.votes) == ("x", "y", 3)
    assert rate.rate == pytest.approx(2 / 3)
    x = board.contenders[0]
    assert (x.label, x.wins, x.losses, x.ties, x.votes) == ("x", 1, 0, 2, 3)


def test_the_same_votes_and_seed_give_the_same_numbers() -> None:
    votes = simulated_votes(np.array([0.0, 0.3, 0.6, 0.9]), 400, seed=3, tie_share=0.2)

    assert leaderboard(votes, seed=5) == leaderboard(list(votes), seed=5)
    assert leaderboard(votes, seed=5) != leaderboard(votes, seed=6)


def test_no_votes_give_an_empty_board() -> None:
    board = leaderboard([])

    assert board.contenders == []
    assert board.win_rates == []
    assert board.position_bias.share_a is None
    assert board.connected


def test_one_contender_without_votes_is_listed_unscored() -> None:
    (only,) = leaderboard([], labels=["x"]).contenders

    assert (only.label, only.score, only.ci_low, only.ci_high, only.votes) == (
        "x",
        None,
        None,
        None,
        0,
    )


def test_contenders_without_votes_come_last_and_leave_the_scores_alone() -> None:
    votes = [Vote("x", "y", "a"), Vote("x", "y", "tie")]
    board = leaderboard(votes, labels=["y", "new", "another"])

    assert [c.label for c in board.contenders] == ["x", "y", "another", "new"]
    assert scores(board) == pytest.approx(
        {**scores(leaderboard(votes)), "another": None, "new": None}
    )


def test_a_contender_that_only_wins_gets_a_finite_score_from_the_prior() -> None:
    votes = [Vote("x", "y", "a")] * 5 + [Vote("z", "x", "b")] * 5 + [Vote("y", "z", "tie")] * 10
    board = leaderboard(votes)

    assert board.contenders[0].label == "x"
    assert all(c.score is not None and math.isfinite(c.score) for c in board.contenders)
    # 10-0 in the data: the prior keeps the gap large but finite.
    assert 300 < score_of(board, "x") - score_of(board, "y") < 1000
    assert score_of(board, "y") == pytest.approx(score_of(board, "z"))


def test_disconnected_groups_are_fitted_and_reported() -> None:
    votes = [Vote("x", "y", "a"), Vote("x", "y", "a"), Vote("p", "q", "b"), Vote("p", "q", "b")]
    board = leaderboard(votes)

    assert not board.connected
    assert score_of(board, "x") == pytest.approx(score_of(board, "q"))
    assert score_of(board, "y") == pytest.approx(score_of(board, "p"))
    assert all(c.score is not None and math.isfinite(c.score) for c in board.contenders)
    assert leaderboard(votes[:2] + [Vote("y", "p", "tie")] + votes[2:]).connected


def test_the_voter_filter_picks_whose_votes_are_scored() -> None:
    votes = [Vote("x", "y", "a")] * 3 + [Vote("x", "y", "b", voter="judge:gpt")] * 3

    people = leaderboard(votes, voter="people")
    judge = leaderboard(votes, voter="judge:gpt")
    assert people.contenders[0].label == "x"
    assert judge.contenders[0].label == "y"
    assert scores(leaderboard(votes, voter="all")) == pytest.approx({"x": 1000.0, "y": 1000.0})
    with pytest.raises(ValueError, match="voter"):
        leaderboard(votes, voter="judges")


def test_a_vote_needs_two_contenders_and_a_known_winner() -> None:
    with pytest.raises(ValueError, match="two different"):
        Vote("x", "x", "a")
    with pytest.raises(ValueError, match="winner"):
        Vote("x", "y", "draw")  # type: ignore[arg-type]


def test_position_bias_is_the_share_of_peoples_decisive_votes_for_a() -> None:
    votes = [
        *[Vote("x", "y", "a")] * 6,
        *[Vote("y", "x", "b")] * 2,
        Vote("x", "y", "tie"),
        Vote("x", "y", "both_bad"),
        *[Vote("x", "y", "a", voter="judge:gpt")] * 5,
    ]
    bias = position_bias(votes)

    assert (bias.share_a, bias.decisive) == (0.75, 8)
    assert (bias.ci_low, bias.ci_high) == pytest.approx(wilson(6, 8))


def test_judge_inconsistency_counts_pairs_whose_two_orders_disagree() -> None:
    votes = [
        Vote("x", "y", "a", voter="judge:gpt", item="p1"),
        Vote("y", "x", "b", voter="judge:gpt", item="p1"),  # x both times: consistent
        Vote("x", "y", "a", voter="judge:gpt", item="p2"),
        Vote("y", "x", "a", voter="judge:gpt", item="p2"),  # side a both times: inconsistent
        Vote("x", "y", "tie", voter="judge:gpt", item="p3"),
        Vote("y", "x", "both_bad", voter="judge:gpt", item="p3"),  # no winner both times
        Vote("x", "y", "a", voter="judge:gpt", item="p4"),  # one order only: not counted
        Vote("x", "y", "a", item="p2"),  # people: not a judge
    ]
    (gpt,) = judge_inconsistency(votes)

    assert (gpt.judge, gpt.inconsistent, gpt.pairs) == ("judge:gpt", 1, 3)
    assert gpt.share == pytest.approx(1 / 3)


def test_agreement_compares_peoples_votes_with_the_judges_verdict_on_the_same_pair() -> None:
    votes = [
        Vote("x", "y", "a", voter="judge:gpt", item="p1"),
        Vote("y", "x", "b", item="p1"),  # agrees (x), shown the other way round
        Vote("x", "y", "b", item="p1"),  # disagrees
        Vote("x", "y", "a", voter="judge:gpt", item="p2"),
        Vote("y", "x", "a", voter="judge:gpt", item="p2"),  # self-contradicting judge: a tie
        Vote("x", "y", "both_bad", item="p2"),  # agrees with the tie
        Vote("x", "y", "a", item="p9"),  # not judged: not counted
        Vote("x", "z", "a", item="p1"),  # another pair on the same item: not counted
    ]
    (gpt,) = agreement(votes)

    assert (gpt.judge, gpt.agree, gpt.votes) == ("judge:gpt", 2, 3)
    assert gpt.share == pytest.approx(2 / 3)
    assert (gpt.ci_low, gpt.ci_high) == pytest.approx(wilson(2, 3))


def test_a_judge_without_overlap_has_no_agreement_share() -> None:
    (gpt,) = agreement([Vote("x", "y", "a", voter="judge:gpt", item="p1")])

    assert (gpt.share, gpt.votes) == (None, 0)
