"""The diff's bodies: the diff, and judging it."""

from pydantic import BaseModel, ConfigDict, Field

from app.diagnostics import Flag
from app.domain import FinishReason, ResponseStatus
from app.fields import LabelPair
from app.judging.schemas import JudgeSettings
from app.runs.schemas import RunSummary


class _FromAttributes(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class FlagChangeOut(_FromAttributes):
    """A yes/no property of the paired answers, in `a` and in `b`, with an exact McNemar test."""

    rate_a: float | None = Field(description="Share of the pairs with it in `a`.")
    rate_b: float | None
    only_a: int = Field(description="Pairs with it in `a` only.")
    only_b: int = Field(description="Pairs with it in `b` only.")
    pairs: int = Field(description="Pairs it was looked for in (both answers diagnosed).")
    p_value: float = Field(description="Two-sided exact McNemar test on `only_a`, `only_b`.")
    worse: bool = Field(description="More frequent in `b`, at p < 0.05.")


class PercentilesOut(_FromAttributes):
    p50: float | None
    p95: float | None
    n: int


class PairedChangeOut(_FromAttributes):
    """A number in `a` and in `b`; deltas are b − a."""

    a: PercentilesOut
    b: PercentilesOut
    p50_delta: float | None
    p95_delta: float | None
    mean_delta: float | None = Field(description="Mean of b − a over the pairs with both.")
    pairs: int


class WinRateOut(BaseModel):
    """`b`'s answers against their paired answers in `a`, by the votes on both."""

    rate: float = Field(description="Share of the votes `b` won, ties counting half.")
    ci_low: float = Field(description="95% Wilson interval of the rate.")
    ci_high: float
    votes: int
    wins: int = Field(description="Votes for `b`'s answer.")
    losses: int = Field(description="Votes for `a`'s answer.")
    ties: int = Field(description="Ties and both_bad votes.")


class ContenderDiff(BaseModel):
    """One contender of `a` against its partner in `b`, over every paired prompt."""

    label_a: str
    label_b: str
    model_a: str
    model_b: str
    pairs: int = Field(description="Paired answers compared: both finished (succeeded or failed).")
    incomplete: int = Field(
        description="Paired answers left out: either one queued, running or cancelled."
    )
    changed: int = Field(description="Compared pairs whose answers are not the same.")
    changed_share: float | None
    mean_similarity: float | None = Field(
        description="Over the compared pairs where both answered (0-1)."
    )
    flags: dict[Flag, FlagChangeOut] = Field(description="Every flag, over diagnosed pairs.")
    failed: FlagChangeOut
    latency_ms: PairedChangeOut
    completion_tokens: PairedChangeOut
    worse: list[str] = Field(
        description="Flags (and `failed`) significantly more frequent in `b` (p < 0.05)."
    )
    win_rate: WinRateOut | None = Field(
        description="`b` over `a`, by the votes and judgements comparing the paired answers "
        "(people's `POST /votes` with an answer of each run, `POST /runs/{a}/diff/{b}/judge`); "
        "null without any: `win_rate_reason` says so."
    )
    win_rate_reason: str | None = Field(description="Why `win_rate` is null.")
    win_rate_by_voter: dict[str, WinRateOut] = Field(
        description="The same by voter: `people`, `judge:MODEL`."
    )


class AnswerDiff(BaseModel):
    label_a: str
    label_b: str
    sample: int = Field(
        default=0,
        description="Which repeated sample (0 without samples): sample k of `a` "
        "is paired with sample k of `b` while both runs have it.",
    )
    same: bool | None = Field(
        description="Same status and identical output (two failures count as the same); "
        "null while either answer is queued, running or cancelled."
    )
    similarity: float | None = Field(
        description="0-1, 1 for identical outputs (normalized Indel: 2·LCS / total length); "
        "null unless both answered."
    )
    flags_gained: list[Flag] = Field(description="In `b`'s answer, not in `a`'s.")
    flags_lost: list[Flag] = Field(description="In `a`'s answer, not in `b`'s.")
    response_id_a: int
    response_id_b: int
    status_a: ResponseStatus
    status_b: ResponseStatus
    output_a: str | None
    output_b: str | None
    finish_reason_a: FinishReason | None
    finish_reason_b: FinishReason | None
    flags_a: list[Flag] | None
    flags_b: list[Flag] | None
    completion_tokens_delta: int | None
    latency_ms_delta: float | None


class PromptDiff(BaseModel):
    index_a: int
    index_b: int
    key: str | None
    text: str
    answers: list[AnswerDiff] = Field(description="One per contender pair, in `a`'s order.")


class PromptRef(BaseModel):
    index: int
    key: str | None
    text: str


class Unpaired(BaseModel):
    prompts_a: list[PromptRef] = Field(
        description="`a`'s prompts with no partner in `b`, in order (the first 1,000)."
    )
    prompts_b: list[PromptRef]
    prompt_count_a: int = Field(description="How many of `a`'s prompts have no partner.")
    prompt_count_b: int
    labels_a: list[str] = Field(description="`a`'s contenders with no partner in `b`.")
    labels_b: list[str]


class Gate(BaseModel):
    """What `fail_if_changed` and `fail_on_flag` asked for: a CI job fails on `failures`."""

    passed: bool
    failures: list[str]


class DiffOut(BaseModel):
    a: RunSummary
    b: RunSummary
    paired_prompts: int
    contenders: list[ContenderDiff]
    unpaired: Unpaired
    gate: Gate
    prompts: list[PromptDiff] = Field(description="The page of paired prompts, in `a`'s order.")
    prompt_offset: int
    next_prompt_offset: int | None = Field(
        description="Pass as `prompt_offset` for the next page; null on the last page."
    )


class DiffJudgeRequest(JudgeSettings):
    """A model judging `b`'s answers against their paired answers in `a`."""

    map: list[LabelPair] = Field(
        default_factory=list,
        max_length=1000,
        description="`label_in_a:label_in_b`: pair these contenders, as the diff's `map`; the "
        "others pair by label.",
    )
