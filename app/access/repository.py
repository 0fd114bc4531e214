"""The SQL of projects and keys, and of which project a run or a battle belongs to."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import (
    ApiKeyRow,
    BattleRow,
    EndedSessionRow,
    ProjectRow,
    RunRow,
    ServiceSecretRow,
)

keys = ApiKeyRow.__table__.c
projects = ProjectRow.__table__.c


@dataclass(frozen=True)
class StoredKey:
    id: uuid.UUID
    project_id: uuid.UUID
    project: str
    name: str
    prefix: str
    scopes: list[str]
    rate_limit_per_minute: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _keys_query() -> Select[Any]:
    return (
        select(
            keys.id,
            keys.project_id,
            projects.name,
            keys.name,
            keys.prefix,
            keys.scopes,
            keys.rate_limit_per_minute,
            keys.created_at,
            keys.last_used_at,
            keys.revoked_at,
        )
        .select_from(ApiKeyRow.__table__.join(ProjectRow.__table__))
        .order_by(keys.created_at, keys.id)
    )


async def project_id(connection: AsyncConnection, name: str) -> uuid.UUID | None:
    found: uuid.UUID | None = await connection.scalar(
        select(projects.id).where(projects.name == name)
    )
    return found


_PROJECT = (
    projects.id,
    projects.name,
    projects.created_at,
    projects.monthly_budget_usd,
    projects.retention_days,
)


async def insert_project(
    connection: AsyncConnection, name: str, limits: dict[str, Any]
) -> ProjectRow | None:
    """The new project; None if one has this name already."""
    row = (
        await connection.execute(
            insert(ProjectRow)
            .values(id=uuid.uuid4(), name=name, **limits)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(*_PROJECT)
        )
    ).first()
    return None if row is None else ProjectRow(**row._mapping)


async def list_projects(connection: AsyncConnection) -> Sequence[ProjectRow]:
    rows = await connection.execute(select(*_PROJECT).order_by(projects.name))
    return [ProjectRow(**r._mapping) for r in rows]


async def insert_key(connection: AsyncConnection, values: dict[str, object]) -> uuid.UUID:
    key_id: uuid.UUID = await connection.scalar(
        insert(ApiKeyRow).values(id=uuid.uuid4(), **values).returning(keys.id)
    )
    return key_id


async def list_keys(
    connection: AsyncConnection, key_id: uuid.UUID | None = None
) -> list[StoredKey]:
    query = _keys_query()
    if key_id is not None:
        query = query.where(keys.id == key_id)
    return [StoredKey(*row) for row in await connection.execute(query)]


async def revoke_key(connection: AsyncConnection, key_id: uuid.UUID) -> bool:
    """Revoke the key (once: a second revocation keeps the first time); False: no such key."""
    found = await connection.scalar(
        update(ApiKeyRow)
        .where(keys.id == key_id)
        .values(revoked_at=func.coalesce(keys.revoked_at, func.now()))
        .returning(keys.id)
    )
    return found is not None


async def live_key(connection: AsyncConnection, secret_hash: str) -> StoredKey | None:
    """The unrevoked key with this digest."""
    row = (
        await connection.execute(
            _keys_query().where(keys.secret_hash == secret_hash, keys.revoked_at.is_(None))
        )
    ).first()
    return None if row is None else StoredKey(*row)


async def touch_key(connection: AsyncConnection, key_id: uuid.UUID) -> None:
    """Note the key's use, at most once a minute: not a write per request."""
    await connection.execute(
        update(ApiKeyRow)
        .where(
            keys.id == key_id,
            (keys.last_used_at.is_(None))
            | (keys.last_used_at < func.now() - text("interval '1 minute'")),
        )
        .values(last_used_at=func.now())
    )


async def run_project(connection: AsyncConnection, run_id: uuid.UUID) -> uuid.UUID | None:
    found: uuid.UUID | None = await connection.scalar(
        select(RunRow.project_id).where(RunRow.id == run_id)
    )
    return found


async def battle_project(connection: AsyncConnection, battle_id: uuid.UUID) -> uuid.UUID | None:
    found: uuid.UUID | None = await connection.scalar(
        select(RunRow.project_id)
        .join(BattleRow, BattleRow.run_id == RunRow.id)
        .where(BattleRow.id == battle_id)
    )
    return found


async def service_secret(connection: AsyncConnection, name: str, candidate: str) -> str:
    """The secret `name`, stored as `candidate` if it has none yet: every process that asks
    gets the one value the first of them stored."""
    await connection.execute(
        insert(ServiceSecretRow).values(name=name, value=candidate).on_conflict_do_nothing()
    )
    secrets = ServiceSecretRow.__table__.c
    stored: str = (
        await connection.execute(select(secrets.value).where(secrets.name == name))
    ).scalar_one()
    return stored


async def end_session(connection: AsyncConnection, token_digest: str, expires_at: datetime) -> None:
    """Refuse the session with this digest from now until `expires_at` (after which its cookie
    is refused anyway); forget the sessions ended that are past theirs."""
    ended = EndedSessionRow.__table__.c
    await connection.execute(delete(EndedSessionRow).where(ended.expires_at < func.now()))
    await connection.execute(
        insert(EndedSessionRow)
        .values(token_digest=token_digest, expires_at=expires_at)
        .on_conflict_do_nothing()
    )


async def session_ended(connection: AsyncConnection, token_digest: str) -> bool:
    ended = EndedSessionRow.__table__.c
    found = await connection.scalar(
        select(ended.token_digest).where(ended.token_digest == token_digest)
    )
    return found is not None
