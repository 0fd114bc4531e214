"""What PostgreSQL does with the SQL we send: the statements our code executes, recorded, and
their plans, run.

asyncpg prepares every statement and keeps it per connection; PostgreSQL plans its first five
executions with the values bound (custom plans), then may switch to one generic plan made
without them. `explain` shows either, for a recorded statement, executed under
EXPLAIN (ANALYZE, BUFFERS) in a transaction that is rolled back.
"""

import json
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

PlanMode = Literal["custom", "generic"]
PLAN_MODES: tuple[PlanMode, ...] = ("custom", "generic")


@dataclass(frozen=True)
class Statement:
    sql: str
    parameters: tuple[Any, ...]


@contextmanager
def recording(engine: AsyncEngine) -> Iterator[list[Statement]]:
    """Every statement `engine` sends while this is open, as sent."""
    sent: list[Statement] = []

    def record(*args: Any) -> None:
        _connection, _cursor, sql, parameters, _context, _executemany = args
        sent.append(Statement(sql, tuple(parameters or ())))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def only(sent: Sequence[Statement], containing: str) -> Statement:
    """The one recorded statement whose SQL contains `containing`."""
    (found,) = {s.sql: s for s in sent if containing in s.sql}.values()
    return found


@dataclass(frozen=True)
class Plan:
    root: dict[str, Any]

    def nodes(self) -> Iterator[dict[str, Any]]:
        pending = [self.root]
        while pending:
            node = pending.pop()
            yield node
            pending.extend(node.get("Plans", []))

    def node_types(self) -> set[str]:
        return {node["Node Type"] for node in self.nodes()}

    def scans_of(self, table: str) -> list[dict[str, Any]]:
        """The nodes that read `table`: its index, heap or bitmap scans."""
        return [node for node in self.nodes() if node.get("Relation Name") == table]

    def rows_read(self, table: str) -> int:
        """Rows the scans of `table` returned or threw away, over all their loops."""
        return sum(
            (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
            for node in self.scans_of(table)
            if node["Node Type"] != "ModifyTable"
        )

    def __str__(self) -> str:
        return json.dumps(self.root, indent=1)


def _literal(value: Any) -> str:
    """A value as SQL text; an untyped literal takes the type of the statement's parameter."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, timedelta):
        return f"'{value.total_seconds()} seconds'"
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, str | uuid.UUID):
        return "'" + str(value).replace("'", "''") + "'"
    if isinstance(value, list):  # an array, as its text form: '{"a","b"}'
        quoted = ('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value)
        return _literal("{" + ",".join(quoted) + "}")
    raise TypeError(f"no SQL literal for {value!r}")


async def explain(connection: asyncpg.Connection, statement: Statement, mode: PlanMode) -> Plan:
    """Run `statement` with the plan PostgreSQL makes in `mode`; its changes are rolled back."""
    arguments = ", ".join(_literal(value) for value in statement.parameters)
    prepared = False
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute(f"SET LOCAL plan_cache_mode = force_{mode}_plan")
        await connection.execute(f"PREPARE explained AS {statement.sql}")
        prepared = True
        found = await connection.fetchval(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE explained"
            + (f"({arguments})" if arguments else "")
        )
    finally:
        await transaction.rollback()
        if prepared:
            await connection.execute("DEALLOCATE explained")
    return Plan(json.loads(found)[0]["Plan"])


async def statements_sent(
    engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[object]]
) -> list[Statement]:
    """The statements `work` sends on a connection of `engine`, its changes rolled back."""
    with recording(engine) as sent:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            await work(connection)
            await transaction.rollback()
    return sent
