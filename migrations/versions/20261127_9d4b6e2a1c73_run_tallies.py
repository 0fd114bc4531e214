"""Pair counts and answers versions tallied per connection, not updated on the run's row

The triggers of e3a5af2ce945 (counts) and f1a2c3d4e5b6 (answers version) updated the run's own
row in every statement that claimed or answered its pairs, and so held that row's lock until
the statement's transaction committed: two service processes writing one run waited for each
other there, on every batch. The one trigger per event that replaces them adds each
statement's changes to `run_tallies` instead, in the row of its run and of the connection's
shard (`pg_backend_pid() % 16`): concurrent writers of one run each add to their own row, and
meet only when two connections share a shard. A run's counts and version are its row's
columns (what has been folded in) plus the sum of its tallies; finishing a run folds them in
(app/dispatch/queue.py `finish_runs`), so a finished run's counts are read from its row and an
empty probe of `run_tallies`.

Both are sums of additions, so moving tallies into the run's row in one transaction changes
neither; a reader reads the row and its tallies in one statement, one snapshot.

The old trigger functions are kept (only their triggers are dropped), for the downgrade.

Revision ID: 9d4b6e2a1c73
Revises: f1a2c3d4e5b6
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d4b6e2a1c73"
down_revision: str | None = "f1a2c3d4e5b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARDS = 16
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
COUNTS = [f"pairs_{s}" for s in STATUSES] + ["pairs_cached"]
TALLIED = [*COUNTS, "answers_version"]
# The columns a run's aggregates read (f1a2c3d4e5b6): a statement that changes one of them in
# a run's pairs moves the run's answers version.
READ = (
    "contender_index",
    "status",
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
    "finish_reason",
    "flags",
    "diagnostics_version",
    "cost_usd",
    "cached_from",
)
_COUNTED = {f"pairs_{s}": f"status = '{s}'" for s in STATUSES} | {
    "pairs_cached": "cached_from IS NOT NULL"
}


def _sums(sign: str, table: str) -> str:
    return ", ".join(
        f"{sign}count(*) FILTER (WHERE {table}.{where})" for where in _COUNTED.values()
    )


# Per run, what one statement moved: inserts and deletes count their rows and move the version;
# an update counts new rows less old ones (a pair's run never changes) and moves the version
# when some pair's read columns changed.
_MOVED = {
    "insert": f"SELECT run_id, {_sums('', 'p')}, 1 FROM new_pairs p GROUP BY run_id",
    "delete": f"SELECT run_id, {_sums('-', 'p')}, 1 FROM old_pairs p GROUP BY run_id",
    "update": "SELECT n.run_id, "
    + ", ".join(
        f"count(*) FILTER (WHERE n.{where}) - count(*) FILTER (WHERE o.{where})"
        for where in _COUNTED.values()
    )
    + f", (bool_or(({', '.join(f'n.{c}' for c in READ)}) "
    f"IS DISTINCT FROM ({', '.join(f'o.{c}' for c in READ)})))::int "
    "FROM new_pairs n JOIN old_pairs o ON o.id = n.id GROUP BY n.run_id",
}
_TRANSITIONS = {
    "insert": "NEW TABLE AS new_pairs",
    "delete": "OLD TABLE AS old_pairs",
    "update": "OLD TABLE AS old_pairs NEW TABLE AS new_pairs",
}


def _tally_function(event: str) -> str:
    columns = ", ".join(TALLIED)
    adds = ", ".join(f"{c} = t.{c} + excluded.{c}" for c in TALLIED)
    nonzero = " OR ".join(f"{c} <> 0" for c in TALLIED)
    return f"""
CREATE FUNCTION tally_pairs_on_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Statements that move nothing (lease renewals, calls counted) write no tally, nor do
    -- the pairs of a run being deleted (the cascade from `runs`). Rows in run order: two
    -- connections of one shard lock them in the same order.
    INSERT INTO run_tallies AS t (run_id, shard, {columns})
    SELECT run_id, pg_backend_pid() % {SHARDS}, {columns}
      FROM ({_MOVED[event]}) AS moved(run_id, {columns})
     WHERE ({nonzero}) AND EXISTS (SELECT FROM runs WHERE runs.id = moved.run_id)
     ORDER BY run_id
        ON CONFLICT (run_id, shard) DO UPDATE SET {adds};
    RETURN NULL;
END
$$"""


def upgrade() -> None:
    op.create_table(
        "run_tallies",
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        *(sa.Column(c, sa.Integer(), server_default="0", nullable=False) for c in COUNTS),
        sa.Column("answers_version", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_tallies_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "shard", name=op.f("pk_run_tallies")),
    )
    # No pair may change between the old triggers' last firing and the new ones' first.
    op.execute("LOCK TABLE responses IN SHARE ROW EXCLUSIVE MODE")
    for event, transition in _TRANSITIONS.items():
        op.execute(f"DROP TRIGGER count_pairs_on_{event} ON responses")
        op.execute(f"DROP TRIGGER answers_version_on_{event} ON responses")
        op.execute(_tally_function(event))
        op.execute(
            f"CREATE TRIGGER tally_pairs_on_{event} AFTER {event.upper()} ON responses "
            f"REFERENCING {transition} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION tally_pairs_on_{event}()"
        )


def downgrade() -> None:
    op.execute("LOCK TABLE responses IN SHARE ROW EXCLUSIVE MODE")
    for event, transition in _TRANSITIONS.items():
        op.execute(f"DROP TRIGGER tally_pairs_on_{event} ON responses")
        op.execute(f"DROP FUNCTION tally_pairs_on_{event}()")
        for name in (f"count_pairs_on_{event}", f"answers_version_on_{event}"):
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event.upper()} ON responses "
                f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
    sums = ", ".join(f"sum({c}) AS {c}" for c in TALLIED)
    op.execute(
        f"UPDATE runs SET {', '.join(f'{c} = runs.{c} + s.{c}' for c in TALLIED)} "
        f"FROM (SELECT run_id, {sums} FROM run_tallies GROUP BY run_id) AS s "
        "WHERE runs.id = s.run_id"
    )
    op.drop_table("run_tallies")
