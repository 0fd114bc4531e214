"""Request and response bodies of /keys and /projects."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from app.access.scopes import Scope
from app.fields import Name

RateLimit = Annotated[int, Field(ge=1, le=1_000_000)]


class KeyRequest(BaseModel):
    name: Name = Field(description="What the key is for, to tell keys apart.")
    project: Name = Field(default="default", description="The project the key belongs to.")
    scopes: list[Scope] = Field(
        min_length=1, max_length=4, description="`read`, `write`, `vote`, `admin`."
    )
    rate_limit_per_minute: RateLimit | None = Field(
        default=None, description="Requests per minute this key may make (null: no limit)."
    )


class KeyOut(BaseModel):
    id: uuid.UUID
    prefix: str = Field(description="The key's first characters, to recognise it.")
    name: str
    project: str
    scopes: list[Scope]
    rate_limit_per_minute: int | None
    created_at: datetime
    last_used_at: datetime | None = Field(description="To the minute.")
    revoked_at: datetime | None


class CreatedKey(KeyOut):
    key: str = Field(description="The key itself: shown this once, never stored.")


class ProjectLimits(BaseModel):
    monthly_budget_usd: float | None = Field(
        default=None,
        ge=0,
        le=1e9,
        description="What the project's runs created in a calendar month (UTC) may cost "
        "together; past it new runs are a 402. Null: the service's LLM_COMPARE_MONTHLY_BUDGET_USD.",
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36500,
        description="The project's finished runs older than this are deleted. Null: the "
        "service's LLM_COMPARE_RETENTION_DAYS (unset: kept forever).",
    )


class ProjectRequest(ProjectLimits):
    name: Name


class ProjectOut(ProjectLimits):
    id: uuid.UUID
    name: str
    created_at: datetime
