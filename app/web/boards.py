"""What the leaderboard page draws of a leaderboard: each score with its 95% interval as a bar
on one scale shared by every contender, and the win rates as a matrix (the row's contender
against the column's).

The bars are inline SVG whose geometry is in attributes, not styles: the pages' policy allows
no inline style, and a bar drawn by the server needs no script.
"""

import math
from dataclasses import dataclass

from app.judging.schemas import ContenderScoreOut, LeaderboardOut, WinRateOut

BAR_WIDTH = 100.0  # the bars' coordinate space: 0 (the scale's low end) to 100 (its high end)
_TICKS = 4  # intervals between the scale's ticks
_SHADES = 10  # the matrix cells' shades of colour, by win rate


@dataclass(frozen=True)
class ScoreBar:
    """One contender's row: where its interval and score fall on the shared scale."""

    contender: ContenderScoreOut
    rank: int | None  # None: no score (no votes)
    low: float | None
    score: float | None
    high: float | None


@dataclass(frozen=True)
class Tick:
    at: float  # on the bars' scale
    value: int  # on the score's (Elo) scale


@dataclass(frozen=True)
class Cell:
    """The row's contender against the column's: the share of their votes it won."""

    rate: float
    ci_low: float
    ci_high: float
    votes: int

    @property
    def shade(self) -> int:
        """0 (lost every vote) to 10 (won every vote); 5 is even."""
        return round(self.rate * _SHADES)


@dataclass(frozen=True)
class Matrix:
    labels: list[str]
    rows: list[list[Cell | None]]  # rows[i][j]: labels[i] against labels[j]; None: no votes


def _scale(contenders: list[ContenderScoreOut]) -> tuple[float, float]:
    """The score range the bars span: every interval, with a margin, never empty."""
    ends = [
        value
        for c in contenders
        for value in (c.ci_low, c.score, c.ci_high)
        if value is not None and math.isfinite(value)
    ]
    if not ends:
        return 950.0, 1050.0
    low, high = min(ends), max(ends)
    margin = max((high - low) * 0.08, 10.0)
    return math.floor(low - margin), math.ceil(high + margin)


def score_bars(board: LeaderboardOut) -> tuple[list[ScoreBar], list[Tick]]:
    """The contenders' bars, best first as the board ranks them, and the scale's ticks."""
    low, high = _scale(board.contenders)

    def at(value: float | None) -> float | None:
        if value is None or not math.isfinite(value):
            return None
        return round((value - low) / (high - low) * BAR_WIDTH, 2)

    bars = []
    rank = 0
    for c in board.contenders:
        if c.score is not None:
            rank += 1
        bars.append(
            ScoreBar(
                contender=c,
                rank=rank if c.score is not None else None,
                low=at(c.ci_low if c.ci_low is not None else c.score),
                score=at(c.score),
                high=at(c.ci_high if c.ci_high is not None else c.score),
            )
        )
    step = (high - low) / _TICKS
    ticks = [Tick(i * BAR_WIDTH / _TICKS, round(low + i * step)) for i in range(_TICKS + 1)]
    return bars, ticks


def _cell(pair: WinRateOut, row: str) -> Cell:
    """The pair's rate seen from `row`'s side."""
    if pair.a == row:
        return Cell(pair.rate, pair.ci_low, pair.ci_high, pair.votes)
    return Cell(1 - pair.rate, 1 - pair.ci_high, 1 - pair.ci_low, pair.votes)


def win_matrix(board: LeaderboardOut) -> Matrix:
    """Every contender against every other, in the board's order."""
    labels = [c.label for c in board.contenders]
    pairs = {frozenset((p.a, p.b)): p for p in board.win_rates if p.votes > 0}
    rows: list[list[Cell | None]] = []
    for row in labels:
        cells: list[Cell | None] = []
        for column in labels:
            pair = pairs.get(frozenset((row, column))) if row != column else None
            cells.append(None if pair is None else _cell(pair, row))
        rows.append(cells)
    return Matrix(labels=labels, rows=rows)
