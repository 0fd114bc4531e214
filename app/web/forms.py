"""What the pages' forms and links send, read into what the services take.

A browser's GET form sends every field, empty or not (`?q=&model=`): an empty field means
"no filter" here, where the API would refuse a blank name. Each value is then checked with the
API's own types, so the pages refuse what the API refuses, with the same messages.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import QueryParams

from app.domain import RunStatus
from app.fields import Count, Cursor, Name, SearchText, TagFilter
from app.judging.schemas import VoterFilter
from app.runs.repository import RunFilters

RUNS_PER_PAGE = 25
PROMPTS_PER_PAGE = 50


class RunsQuery(BaseModel):
    """The runs page's search and filters: `?q=&status=&model=&tag=key:value&cursor=`."""

    model_config = ConfigDict(extra="ignore")

    q: SearchText | None = None
    status: RunStatus | None = None
    model: Name | None = None
    tag: TagFilter | None = None
    cursor: Cursor | None = None

    def filters(self, project_id: uuid.UUID | None) -> RunFilters:
        """The search, in `project_id`'s runs (None: every project's)."""
        tags = None
        if self.tag is not None:
            key, _, value = self.tag.partition(":")
            tags = {key: value}
        statuses = (self.status,) if self.status else ()
        return RunFilters(
            statuses=statuses, model=self.model, tags=tags, text=self.q, project_id=project_id
        )

    def link(self, **changes: str | None) -> dict[str, str]:
        """The query string of this search with `changes` (None removes a field)."""
        values = {**self.model_dump(exclude_none=True), **changes}
        return {k: v for k, v in values.items() if v is not None}


class RunPageQuery(BaseModel):
    """The run page's paging and toggles: `?prompt_offset=&differ=1&flagged=1`."""

    model_config = ConfigDict(extra="ignore")

    prompt_offset: Count = 0
    prompt_limit: int = Field(default=PROMPTS_PER_PAGE, ge=1, le=500)
    differ: bool = False
    flagged: bool = False


class LeaderboardQuery(BaseModel):
    """The leaderboard page's choice: one run's votes or those of runs with a tag (neither:
    every run with votes), and whose votes: `?run=&tag=key:value&voter=people`."""

    model_config = ConfigDict(extra="ignore")

    run: uuid.UUID | None = None
    tag: TagFilter | None = None
    voter: VoterFilter = "all"

    def tags(self) -> dict[str, str]:
        if self.tag is None:
            return {}
        key, _, value = self.tag.partition(":")
        return {key: value}


Errors = dict[str, str]
Q = TypeVar("Q", bound=BaseModel)


def read_query(kind: type[Q], params: QueryParams) -> tuple[Q, Errors]:
    """`params` as `kind`, without the empty fields; with each bad field's message, the
    field left at its default."""
    given = {name: value for name, value in params.items() if value.strip()}
    try:
        return kind.model_validate(given), {}
    except ValidationError as exc:
        errors = {str(e["loc"][0]): e["msg"] for e in exc.errors() if e["loc"]}
        kept = {name: value for name, value in given.items() if name not in errors}
        return kind.model_validate(kept), errors


# The new comparison form


@dataclass
class ContenderDraft:
    model: str = ""
    label: str = ""
    template: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class CompareDraft:
    """What the new-comparison form shows filled in: empty, or one of the examples."""

    contenders: list[ContenderDraft] = field(
        default_factory=lambda: [ContenderDraft(), ContenderDraft()]
    )
    prompts: str = ""
    name: str = ""
    tags: str = ""


def _prompt_line(prompt: str | dict[str, Any]) -> str:
    return prompt if isinstance(prompt, str) else str(prompt["text"])


def draft_of(body: dict[str, Any]) -> CompareDraft:
    """The form filled with a `POST /compare` body. The run-wide params go to each contender
    (whose own win), which is what the service does with them."""
    run_params: dict[str, Any] = body.get("params") or {}
    contenders = []
    for given in body["models"]:
        wanted: dict[str, Any] = {"model": given} if isinstance(given, str) else given
        contenders.append(
            ContenderDraft(
                model=wanted["model"],
                label=wanted.get("label", ""),
                template=wanted.get("template", ""),
                params={**run_params, **(wanted.get("params") or {})},
            )
        )
    tags: dict[str, str] = body.get("tags") or {}
    return CompareDraft(
        contenders=contenders,
        prompts="\n".join(_prompt_line(p) for p in body["prompts"]),
        name=body.get("name") or "",
        tags=", ".join(f"{k}={v}" for k, v in tags.items()),
    )


# The generation params the form offers per contender, with their input attributes.
PARAM_INPUTS: list[tuple[str, str, dict[str, str]]] = [
    ("max_new_tokens", "Max new tokens", {"min": "1", "max": "32768", "step": "1"}),
    ("temperature", "Temperature", {"min": "0", "max": "2", "step": "0.01"}),
    ("top_p", "Top p", {"min": "0", "max": "1", "step": "0.01"}),
    ("seed", "Seed", {"step": "1"}),
]

UploadFormat = Literal["auto", "jsonl", "csv", "text"]


class DiffPageQuery(BaseModel):
    """The diff page's paging and toggle: `?prompt_offset=&prompt_limit=&only=changed`."""

    model_config = ConfigDict(extra="ignore")

    prompt_offset: Count = 0
    prompt_limit: int = Field(default=PROMPTS_PER_PAGE, ge=1, le=500)
    only: Literal["changed"] | None = None
