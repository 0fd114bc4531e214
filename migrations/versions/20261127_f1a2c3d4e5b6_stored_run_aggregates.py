"""A finished run's per-contender aggregates stored, with the version of its answers they read

`runs.answers_version` moves whenever a statement inserts or deletes a run's pairs, or changes
a column of them that the aggregates read (status, latency, tokens, finish reason, flags,
diagnostics, cost, cache origin): statement-level triggers with transition tables, so that no
path can forget, as for the counts (e3a5af2ce945). An update compares each pair's old and new
values, because some change no status (a diagnosis rewrites flags); those that change none of
these columns (lease renewals, calls counted) lock no run.

`run_aggregates` holds a finished run's aggregates with the version they were computed at. A
reader reads the version before computing, so aggregates are never stored under a version
newer than what they read; they are used only while it is still the run's.

Revision ID: f1a2c3d4e5b6
Revises: e3a5af2ce945
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "f1a2c3d4e5b6"
down_revision: str | None = "e3a5af2ce945"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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
_CHANGED = {
    "insert": "SELECT DISTINCT run_id FROM new_pairs",
    "delete": "SELECT DISTINCT run_id FROM old_pairs",
    "update": "SELECT DISTINCT n.run_id FROM new_pairs n JOIN old_pairs o ON o.id = n.id "
    f"WHERE ({', '.join(f'n.{c}' for c in READ)}) "
    f"IS DISTINCT FROM ({', '.join(f'o.{c}' for c in READ)})",
}
_TRANSITIONS = {
    "insert": "NEW TABLE AS new_pairs",
    "delete": "OLD TABLE AS old_pairs",
    "update": "OLD TABLE AS old_pairs NEW TABLE AS new_pairs",
}


def _version_function(event: str) -> str:
    return f"""
CREATE FUNCTION answers_version_on_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
BEGIN
    SELECT array_agg(run_id ORDER BY run_id) INTO ids FROM ({_CHANGED[event]}) AS changed;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    -- After the pairs and in id order, as every writer locks runs. These triggers fire
    -- before the counting ones (triggers fire in the order of their names) and lock every
    -- run those will: they then take no lock that is not already held, in any order.
    PERFORM 1 FROM runs WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    UPDATE runs SET answers_version = answers_version + 1 WHERE id = ANY(ids);
    RETURN NULL;
END
$$"""


def upgrade() -> None:
    op.add_column(
        "runs",
        sa.Column("answers_version", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.create_table(
        "run_aggregates",
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("answers_version", sa.BigInteger(), nullable=False),
        sa.Column("rows", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_run_aggregates_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_aggregates")),
    )
    for event, transition in _TRANSITIONS.items():
        op.execute(_version_function(event))
        op.execute(
            f"CREATE TRIGGER answers_version_on_{event} AFTER {event.upper()} ON responses "
            f"REFERENCING {transition} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION answers_version_on_{event}()"
        )


def downgrade() -> None:
    for event in _TRANSITIONS:
        op.execute(f"DROP TRIGGER answers_version_on_{event} ON responses")
        op.execute(f"DROP FUNCTION answers_version_on_{event}()")
    op.drop_table("run_aggregates")
    op.drop_column("runs", "answers_version")
