"""What `GET /models` answers."""

from pydantic import BaseModel, Field

from app.domain import GenerationParams, Price


class ModelOut(BaseModel):
    name: str
    adapter: str
    upstream: str
    template: str
    params: GenerationParams
    concurrency: int
    description: str
    available: bool
    unavailable_reason: str | None
    price: Price | None = Field(
        description="USD per million tokens; null: unknown, so its answers' cost is null."
    )
