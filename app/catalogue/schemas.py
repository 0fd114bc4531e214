"""What `GET /models` answers."""

from pydantic import BaseModel

from app.domain import GenerationParams


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
