"""Keys never appear in clear: not in logs, error answers, metrics or the database."""

import logging
from collections.abc import Callable

import asyncpg
import pytest

from app.access import tokens
from app.access.scopes import Scope
from app.config import Settings
from tests.support.access import ADMIN_KEY, bearer
from tests.support.app import serve
from tests.support.judging import JSON


async def _database_text(db_url: str) -> str:
    """Every row of every table, as text."""
    connection = await asyncpg.connect(db_url)
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
        rows = []
        for table in tables:
            name = table["tablename"]
            rows += await connection.fetch(f'SELECT row_to_json(t)::text AS row FROM "{name}" t')
        return "\n".join(r["row"] for r in rows)
    finally:
        await connection.close()


async def test_keys_stay_out_of_logs_errors_metrics_and_the_database(
    make_settings: Callable[..., Settings], db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = {**bearer(ADMIN_KEY), **JSON}
    answers = []
    async with serve(make_settings(auth="on", admin_key=ADMIN_KEY)) as client:
        made = await client.post(
            "/keys", json={"name": "ci", "scopes": [Scope.READ, Scope.WRITE]}, headers=admin
        )
        key = made.json()["key"]
        body = {"prompts": ["hi"], "models": ["echo"]}
        compared = await client.post(
            "/compare", params={"wait": 30}, json=body, headers={**bearer(key), **JSON}
        )
        assert compared.status_code == 200
        unknown = key[:-4] + "abcd"
        answers += [
            await client.get("/runs", headers=bearer(unknown)),
            await client.get("/keys", headers=bearer(key)),  # 403: not admin
            await client.get("/runs/not-a-uuid", headers=bearer(key)),
            await client.get("/runs", headers={"Authorization": f"Basic {key}"}),
        ]
        await client.delete(f"/keys/{made.json()['id']}", headers=admin)
        answers.append(await client.get("/runs", headers=bearer(key)))
        metrics = (await client.get("/metrics")).text
    assert [a.status_code for a in answers] == [401, 403, 422, 401, 401]
    for secret in (key, unknown, ADMIN_KEY):
        assert all(secret not in a.text and secret not in str(a.headers) for a in answers)
        assert secret not in caplog.text
        assert secret not in metrics
    stored = await _database_text(db_url)
    assert key not in stored
    assert ADMIN_KEY not in stored
    assert tokens.digest(key) in stored  # what is kept instead
