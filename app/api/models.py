"""GET /models: the catalogue."""

from fastapi import APIRouter

from app.api.deps import StateDep
from app.schemas import ModelOut

router = APIRouter(tags=["models"])


@router.get("/models", response_model=list[ModelOut], summary="The models this service knows")
async def list_models(state: StateDep) -> list[ModelOut]:
    catalogue = state.catalogue
    models = []
    for spec in catalogue:
        reason = catalogue.unavailable_reason(spec)
        models.append(
            ModelOut(
                name=spec.name,
                adapter=spec.adapter,
                upstream=spec.upstream,
                template=spec.template,
                params=spec.params,
                concurrency=catalogue.concurrency(spec),
                description=spec.description,
                available=reason is None,
                unavailable_reason=reason,
            )
        )
    return models
