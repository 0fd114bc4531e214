"""Who voted: how voters are stored, and whom the leaderboard counts them as.

Stored: `people` or `people:NAME` for people, `judge:MODEL` for a model judge. The leaderboard
(app/judging/ranking.py) counts every person as `people` and each judge on its own.
"""

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
