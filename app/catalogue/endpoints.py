"""GET /models: the catalogue."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.catalogue.schemas import ModelOut
from app.catalogue.service import Catalogue

router = APIRouter(tags=["models"])


async def get_catalogue(request: Request) -> Catalogue:
    # Async: FastAPI would run a plain function in a worker thread. Read off the service state
    # without importing it: the state sits above the catalogue.
    catalogue: Catalogue = request.app.state.service.catalogue
    return catalogue


@router.get("/models", response_model=list[ModelOut], summary="The models this service knows")
async def list_models(catalogue: Annotated[Catalogue, Depends(get_catalogue)]) -> list[ModelOut]:
    return catalogue.describe()
