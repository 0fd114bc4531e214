"""The win rate of run `b` over run `a`: the votes and judgements that compare an answer of
one run with its paired answer in the other, per contender pair of the diff.

Such verdicts are ordinary votes (app/judging: `POST /votes` with an answer of each run, or a
judging run started by `POST /runs/{a}/diff/{b}/judge`, app/history/judging.py) whose
`other_run_id` names the second run. A column rather than a table of their own, so that the
judge's machinery (judgements, settling, one vote per pair judged in both orders) serves both
unchanged; the leaderboard and a run's own judging read only the votes without it.

A vote counts for a contender pair when its two answers are exactly a pair the diff compared
(same paired prompt, the pair's contenders, the same sample); either answer may have been on
the left. A judge that judged a pair again (`again`) counts with its latest verdict only
(app/judging/voters.py `latest_verdicts`). Ties and `both_bad` count half; the interval is
Wilson's, as the leaderboard's.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from app.history.schemas import WinRateOut
from app.judging.ranking import wilson
from app.judging.repository import VoteAcross
from app.judging.voters import ranked_as

AnswerPair = tuple[int, int]
"""(the response id of an answer in `a`, that of its paired answer in `b`)."""


def no_votes(a: uuid.UUID, b: uuid.UUID) -> str:
    return (
        "no vote or judgement compares these paired answers yet: POST "
        f"/runs/{a}/diff/{b}/judge, or POST /votes with an answer of each run"
    )


@dataclass
class Record:
    """`b`'s record against `a`: won, lost, tied."""

    wins: int = 0
    losses: int = 0
    ties: int = 0

    def add(self, winner_in_b: bool | None) -> None:
        if winner_in_b is None:
            self.ties += 1
        elif winner_in_b:
            self.wins += 1
        else:
            self.losses += 1

    def rate(self) -> WinRateOut | None:
        votes = self.wins + self.losses + self.ties
        if not votes:
            return None
        won = self.wins + self.ties / 2
        low, high = wilson(won, votes)
        return WinRateOut(
            rate=won / votes,
            ci_low=low,
            ci_high=high,
            votes=votes,
            wins=self.wins,
            losses=self.losses,
            ties=self.ties,
        )


@dataclass
class VoteTally:
    """One contender pair's verdicts: overall and by voter (`people`, `judge:MODEL`)."""

    all: Record
    by_voter: defaultdict[str, Record]


def tally(
    votes: Sequence[VoteAcross], a: uuid.UUID, pairs: Sequence[set[AnswerPair]]
) -> list[VoteTally]:
    """Each contender pair's record, from the votes between the two runs; `pairs` holds the
    answer pairs each contender pair compared."""
    found = [VoteTally(Record(), defaultdict(Record)) for _ in pairs]
    owner = {pair: k for k, compared in enumerate(pairs) for pair in compared}
    for vote in votes:
        a_on_left = vote.a_run_id == a
        pair = (
            (vote.a_response_id, vote.b_response_id)
            if a_on_left
            else (vote.b_response_id, vote.a_response_id)
        )
        k = owner.get(pair)
        if k is None:
            continue
        b_side = "b" if a_on_left else "a"
        winner_in_b = None if vote.winner not in ("a", "b") else vote.winner == b_side
        found[k].all.add(winner_in_b)
        found[k].by_voter[ranked_as(vote.voter)].add(winner_in_b)
    return found
