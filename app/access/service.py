"""Projects and keys: the rules, on a connection in the caller's transaction (the API's, or
`llm-compare keys --database`'s)."""

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from app.access import repository as repo
from app.access import tokens
from app.access.schemas import CreatedKey, KeyOut, KeyRequest, ProjectLimits, ProjectOut
from app.access.scopes import Scope
from app.db.tables import ProjectRow
from app.errors import ConflictError, InvalidFieldError, NotFoundError


async def create_project(
    connection: AsyncConnection, name: str, limits: ProjectLimits | None = None
) -> ProjectOut:
    wanted = (limits or ProjectLimits()).model_dump(include=set(ProjectLimits.model_fields))
    row = await repo.insert_project(connection, name, wanted)
    if row is None:
        raise ConflictError(f"a project named {name!r} exists already")
    return _project(row)


async def list_projects(connection: AsyncConnection) -> list[ProjectOut]:
    return [_project(p) for p in await repo.list_projects(connection)]


def _project(row: ProjectRow) -> ProjectOut:
    return ProjectOut(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        monthly_budget_usd=row.monthly_budget_usd,
        retention_days=row.retention_days,
    )


def _out(key: repo.StoredKey) -> KeyOut:
    return KeyOut(
        id=key.id,
        prefix=key.prefix,
        name=key.name,
        project=key.project,
        scopes=[Scope(s) for s in key.scopes],
        rate_limit_per_minute=key.rate_limit_per_minute,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


async def create_key(connection: AsyncConnection, request: KeyRequest) -> CreatedKey:
    """A new key: the one time it is shown."""
    project_id = await repo.project_id(connection, request.project)
    if project_id is None:
        raise InvalidFieldError(
            f"no project named {request.project!r}; make it first (POST /projects)",
            field="project",
        )
    key = tokens.new_key()
    key_id = await repo.insert_key(
        connection,
        {
            "project_id": project_id,
            "name": request.name,
            "prefix": tokens.prefix_of(key),
            "secret_hash": tokens.digest(key),
            "scopes": sorted(set(request.scopes)),
            "rate_limit_per_minute": request.rate_limit_per_minute,
        },
    )
    (stored,) = await repo.list_keys(connection, key_id)
    return CreatedKey(**_out(stored).model_dump(), key=key)


async def list_keys(connection: AsyncConnection) -> list[KeyOut]:
    return [_out(key) for key in await repo.list_keys(connection)]


async def revoke_key(connection: AsyncConnection, key_id: uuid.UUID) -> None:
    """Every process refuses the key from the next request on: they read keys per request."""
    if not await repo.revoke_key(connection, key_id):
        raise NotFoundError(f"no key with id {key_id}")
