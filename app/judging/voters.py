"""Who voted: how voters are stored, and whom the leaderboard counts them as.

Stored: `people` or `people:NAME` for people, `judge:MODEL` for a model judge. The leaderboard
(app/judging/ranking.py) counts every person as `people` and each judge on its own.

A judge asked again about a pair it judged (`again`) votes again in its new judging run; only
its latest verdict on the pair counts (`latest_verdicts`), so re-asking measures or replaces a
verdict and never weighs a pair twice. People's votes all count: each is a person's look.
"""

from collections.abc import Sequence
from typing import Protocol, TypeVar

from app.judging.ranking import JUDGE_PREFIX, PEOPLE

PEOPLE_PREFIX = PEOPLE + ":"


def people_voter(name: str | None) -> str:
    """A person's stored name: `people:NAME`, or `people` for no name."""
    if name is None or name == PEOPLE or name.startswith(PEOPLE_PREFIX):
        return name or PEOPLE
    return PEOPLE_PREFIX + name


def stored_voter(name: str) -> str:
    """A voter named in `POST /votes`: a judge as it is, anyone else as a person."""
    return name if is_judge(name) else people_voter(name)


def is_judge(voter: str) -> bool:
    return voter.startswith(JUDGE_PREFIX) and len(voter) > len(JUDGE_PREFIX)


def ranked_as(voter: str) -> str:
    """The voter as the leaderboard counts it: `judge:MODEL`, or `people`."""
    return voter if is_judge(voter) else PEOPLE


def judge_voter(model: str) -> str:
    return JUDGE_PREFIX + model


class _Vote(Protocol):
    @property
    def voter(self) -> str: ...
    @property
    def a_response_id(self) -> int: ...
    @property
    def b_response_id(self) -> int: ...
    @property
    def judgement_id(self) -> int | None: ...


V = TypeVar("V", bound=_Vote)


def latest_verdicts(votes: Sequence[V]) -> list[V]:
    """The votes that count: of a judge's votes from judging runs on one pair, the latest
    (judgement ids grow with the judging runs); every other vote."""

    def key(vote: V) -> tuple[str, frozenset[int]]:
        return vote.voter, frozenset((vote.a_response_id, vote.b_response_id))

    latest: dict[tuple[str, frozenset[int]], int] = {}
    for vote in votes:
        if vote.judgement_id is not None:
            latest[key(vote)] = max(latest.get(key(vote), 0), vote.judgement_id)
    return [v for v in votes if v.judgement_id is None or latest[key(v)] == v.judgement_id]
