"""Judging's request and response bodies: battles, votes, the model judge, the leaderboard."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.domain import GenerationParams, JudgementStatus, JudgeVerdict, Winner
from app.fields import INT4_MAX, Name, NonBlankText

ResponseId = Annotated[int, Field(ge=1, le=2**63 - 1)]
"""A response's `id`, as `GET /runs/{id}` and the export show it."""

Pair = Annotated[
    list[Name],
    Field(min_length=2, max_length=2, description="Two contender labels of the run."),
]

VoterFilter = Annotated[
    str,
    Field(min_length=3, max_length=206, pattern=r"^(all|people|judge:[^\x00]*[^\s\x00][^\x00]*)$"),
]
"""Whose votes a leaderboard scores: `all`, `people` or `judge:MODEL`."""

WINNER_DESCRIPTION = (
    "`a` or `b`: that side's answer is better; `tie`: they are alike; `both_bad`: neither is "
    "acceptable (counted as a tie by the leaderboard)."
)


class BattleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contenders: Pair | None = Field(
        default=None, description="Battle only these two; default: any two of the run."
    )


class BattlePrompt(BaseModel):
    index: int
    key: str | None
    text: str


class BattleAnswer(BaseModel):
    output: str


class BattleOut(BaseModel):
    """Two answers to one prompt, shown blind: which contender gave which is revealed by the
    vote."""

    id: uuid.UUID
    prompt: BattlePrompt
    a: BattleAnswer
    b: BattleAnswer
    expires_at: datetime = Field(description="A vote after this is refused (409).")


class BattleVote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    winner: Winner = Field(description=WINNER_DESCRIPTION)
    voter: Name | None = Field(
        default=None, description="Who votes; stored as `people:VOTER` (`people` if not given)."
    )


class DirectVote(BaseModel):
    """A verdict reached elsewhere on two stored answers to the same prompt."""

    model_config = ConfigDict(extra="forbid")

    a: ResponseId = Field(description="The answer that was shown on the left.")
    b: ResponseId = Field(description="The answer that was shown on the right.")
    winner: Winner = Field(description=WINNER_DESCRIPTION)
    voter: Name = Field(
        description="Who judged: `judge:MODEL` for a model, `people` or `people:NAME` for "
        "people; any other name is stored as `people:NAME`."
    )


class VotedAnswer(BaseModel):
    response_id: int
    label: str
    model: str


class VoteOut(BaseModel):
    """A vote, with which contender's answer was on each side."""

    id: int
    run_id: uuid.UUID = Field(description="The run of `a`'s answer.")
    other_run_id: uuid.UUID | None = Field(
        default=None,
        description="The run of `b`'s answer when it is another run's: a vote across two runs, "
        "counted in their diff (`GET /runs/{a}/diff/{b}`), not on the leaderboard.",
    )
    prompt_index: int = Field(description="The index of `a`'s prompt in its run.")
    battle_id: uuid.UUID | None
    winner: Winner
    voter: str
    created_at: datetime
    a: VotedAnswer
    b: VotedAnswer


class JudgeSettings(BaseModel):
    """What any judging is asked with: the judge, its rubric and params, how much."""

    model_config = ConfigDict(extra="forbid")

    judge: Name = Field(description="A model from `GET /models`.")
    rubric: NonBlankText | None = Field(
        default=None,
        description="Instead of the default rubric (`GET /judge/rubric`); the verdict format "
        "is appended to it whatever it says.",
    )
    max_prompts: int | None = Field(
        default=None,
        ge=1,
        le=INT4_MAX,
        description="Judge at most this many prompts (the first ones not yet judged by this "
        "judge). Each pair of answers to a prompt is two calls, one per order.",
    )
    params: GenerationParams | None = Field(
        default=None,
        description="The judge's generation params; `temperature` defaults to 0 (greedy).",
    )
    again: bool = Field(
        default=False,
        description="Judge again the pairs this judge has judged already, as a new judging "
        "run (default: they are skipped); the latest verdict of a judge on a pair is the one "
        "that counts. Unless `cache` is `true`, the judge is asked anew.",
    )
    cache: bool | None = Field(
        default=None,
        description="As `POST /compare`'s: `false` asks the judge every time, `true` reuses "
        "its stored answer to an identical judge prompt (at temperature 0 the same verdict). "
        "Default: `true`, or `false` with `again`.",
    )

    def reuses_answers(self) -> bool:
        """Whether the judging run's calls may be answered from the response cache."""
        return not self.again if self.cache is None else self.cache


class JudgeRequest(JudgeSettings):
    contenders: Pair | None = Field(
        default=None, description="Judge only these two; default: every two of the run."
    )


class RubricOut(BaseModel):
    rubric: str = Field(description="The default rubric.")
    prompt: str = Field(
        description="What a judge is sent: `{rubric}`, then the question and the two answers "
        "(`{question}`, `{answer_a}`, `{answer_b}`), then the verdict format."
    )


class JudgementOut(BaseModel):
    """One call of the judge: the pair's answers in one order."""

    prompt_index: int
    a: VotedAnswer
    b: VotedAnswer
    status: JudgementStatus = Field(
        description="`pending` (awaiting the judge's answer), `judged`, or `failed`: the call "
        "failed, or its answer held no verdict."
    )
    verdict: JudgeVerdict | None
    error: str | None
    judge_output: str | None = Field(description="The judge's answer, as it gave it.")


class JudgementCounts(BaseModel):
    pending: int = 0
    judged: int = 0
    failed: int = 0
    votes: int = Field(default=0, description="Pairs judged in both orders: one vote each.")
    inconsistent: int = Field(
        default=0, description="Of those, pairs whose two orders disagreed: a tie."
    )


class JudgementsOut(BaseModel):
    judging_run_id: uuid.UUID
    judged_run_id: uuid.UUID | None = Field(description="Null once the judged run is deleted.")
    other_run_id: uuid.UUID | None = Field(
        default=None,
        description="Judging across two runs (`POST /runs/{a}/diff/{b}/judge`): run `b`.",
    )
    judge: str
    counts: JudgementCounts
    offset: int
    items: list[JudgementOut]


class ContenderScoreOut(BaseModel):
    label: str
    model: str | None = Field(description="Comma-separated if the label stood for several.")
    score: float | None = Field(description="Bradley–Terry strength on the Elo scale.")
    ci_low: float | None = Field(description="95% bootstrap interval of the score.")
    ci_high: float | None
    votes: int
    wins: int
    losses: int
    ties: int = Field(description="Ties and both_bad votes.")


class WinRateOut(BaseModel):
    a: str = Field(description="The higher-ranked contender of the pair.")
    b: str
    rate: float = Field(description="Share of their votes `a` won, ties counting half.")
    ci_low: float = Field(description="95% Wilson interval of the rate.")
    ci_high: float
    votes: int


class PositionBiasOut(BaseModel):
    share_a: float | None = Field(description="Share of people's decisive votes for side `a`.")
    ci_low: float | None
    ci_high: float | None
    decisive: int


class JudgeInconsistencyOut(BaseModel):
    judge: str
    share: float | None = Field(description="Share of pairs whose two orders disagreed.")
    inconsistent: int
    pairs: int


class AgreementOut(BaseModel):
    judge: str
    share: float | None = Field(
        description="Share of people's votes on pairs this judge judged that match its verdict."
    )
    ci_low: float | None
    ci_high: float | None
    agree: int
    votes: int


class LeaderboardOut(BaseModel):
    runs: list[uuid.UUID] = Field(description="The runs whose votes count.")
    voter: str
    contenders: list[ContenderScoreOut] = Field(description="Best first; unvoted ones last.")
    win_rates: list[WinRateOut]
    position_bias: PositionBiasOut
    judge_inconsistency: list[JudgeInconsistencyOut]
    agreement: list[AgreementOut]
    connected: bool = Field(
        description="False: some contenders were never compared, even through others; their "
        "scores rest on the prior alone."
    )
