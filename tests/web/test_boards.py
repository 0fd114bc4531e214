"""The leaderboard drawn: score bars on one shared scale, ranks, and the win-rate matrix seen
from each row's side (pure functions over a leaderboard)."""

from typing import Any

import pytest

from app.judging.schemas import ContenderScoreOut, LeaderboardOut, PositionBiasOut, WinRateOut
from app.web.boards import BAR_WIDTH, score_bars, win_matrix


def _contender(
    label: str, score: float | None, low: float | None, high: float | None
) -> dict[str, Any]:
    return {
        "label": label, "model": "m", "score": score, "ci_low": low, "ci_high": high,
        "votes": 0 if score is None else 4, "wins": 0, "losses": 0, "ties": 0,
    }  # fmt: skip


def _board(contenders: list[dict[str, Any]], rates: list[WinRateOut]) -> LeaderboardOut:
    return LeaderboardOut(
        runs=[],
        voter="all",
        contenders=[ContenderScoreOut.model_validate(c) for c in contenders],
        win_rates=rates,
        position_bias=PositionBiasOut(share_a=None, ci_low=None, ci_high=None, decisive=0),
        judge_inconsistency=[],
        agreement=[],
        connected=True,
    )


def test_bars_share_one_scale_and_unscored_contenders_have_no_rank() -> None:
    board = _board(
        [
            _contender("best", 1100, 1050, 1200),
            _contender("worst", 900, 800, 950),
            _contender("new", None, None, None),
        ],
        [],
    )
    bars, ticks = score_bars(board)
    best, worst, new = bars
    assert [b.rank for b in bars] == [1, 2, None]
    assert new.score is None
    assert best.low is not None
    assert best.high is not None
    assert worst.low is not None
    assert best.score is not None
    assert worst.score is not None
    # Every interval within the scale, the lowest end near 0 and the highest near the width.
    assert 0 < worst.low < worst.score < best.score < best.high < BAR_WIDTH
    assert worst.low < 10
    assert best.high > BAR_WIDTH - 10
    assert ticks[0].at == 0
    assert ticks[-1].at == BAR_WIDTH
    assert ticks[0].value < 800 < 1200 < ticks[-1].value


def test_a_board_without_scores_still_has_a_scale() -> None:
    bars, ticks = score_bars(_board([_contender("a", None, None, None)], []))
    assert bars[0].rank is None
    assert ticks[0].value < ticks[-1].value


def test_the_matrix_reads_each_pair_from_the_rows_side() -> None:
    board = _board(
        [_contender(x, 1000, 990, 1010) for x in ("p", "q", "r")],
        [WinRateOut(a="p", b="q", rate=0.75, ci_low=0.5, ci_high=0.9, votes=8)],
    )
    matrix = win_matrix(board)
    assert matrix.labels == ["p", "q", "r"]
    p_vs_q, q_vs_p = matrix.rows[0][1], matrix.rows[1][0]
    assert p_vs_q is not None
    assert q_vs_p is not None
    assert (p_vs_q.rate, p_vs_q.ci_low, p_vs_q.ci_high, p_vs_q.shade) == (0.75, 0.5, 0.9, 8)
    assert q_vs_p.rate == pytest.approx(0.25)
    assert q_vs_p.ci_low == pytest.approx(0.1)
    assert q_vs_p.ci_high == pytest.approx(0.5)
    assert q_vs_p.votes == 8
    # Pairs that never met, and each contender against itself, are empty.
    assert matrix.rows[0][0] is None
    assert matrix.rows[0][2] is None
    assert matrix.rows[2][1] is None
