"""/keys and /projects (the `admin` scope). Thin: each route parses, calls a service, answers."""

import uuid

from fastapi import APIRouter, status

from app.access import service
from app.access.schemas import CreatedKey, KeyOut, KeyRequest, ProjectOut, ProjectRequest
from app.errors import problems
from app.state import StateDep

router = APIRouter(tags=["access"])


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=CreatedKey,
    summary="Make an API key",
    responses=problems(400, 401, 403, 415, 422),
)
async def create_key(body: KeyRequest, state: StateDep) -> CreatedKey:
    """The key is in this answer only: the service keeps its SHA-256 and its prefix."""
    async with state.engine.begin() as connection:
        return await service.create_key(connection, body)


@router.get(
    "/keys",
    response_model=list[KeyOut],
    summary="Every key, revoked ones too",
    responses=problems(401, 403),
)
async def list_keys(state: StateDep) -> list[KeyOut]:
    async with state.engine.connect() as connection:
        return await service.list_keys(connection)


@router.delete(
    "/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a key",
    responses=problems(401, 403, 404, 422),
)
async def revoke_key(key_id: uuid.UUID, state: StateDep) -> None:
    """Refused by every service process from the next request on. The key stays listed, with
    `revoked_at`, and the runs it made still name it."""
    async with state.engine.begin() as connection:
        await service.revoke_key(connection, key_id)


@router.post(
    "/projects",
    status_code=status.HTTP_201_CREATED,
    response_model=ProjectOut,
    summary="Make a project",
    responses=problems(400, 401, 403, 409, 415, 422),
)
async def create_project(body: ProjectRequest, state: StateDep) -> ProjectOut:
    """A project owns runs (and their battles, votes and judgements) and keys; a key sees only
    its project's runs unless it has the `admin` scope. `monthly_budget_usd` and
    `retention_days` are its own limits, in place of the service's."""
    async with state.engine.begin() as connection:
        return await service.create_project(connection, body.name, body)


@router.get(
    "/projects",
    response_model=list[ProjectOut],
    summary="Every project",
    responses=problems(401, 403),
)
async def list_projects(state: StateDep) -> list[ProjectOut]:
    async with state.engine.connect() as connection:
        return await service.list_projects(connection)
