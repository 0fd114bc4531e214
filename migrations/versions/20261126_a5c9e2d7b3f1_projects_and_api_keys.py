"""projects and API keys

`projects` own runs (and through them battles, votes and judgements) and keys; a `default`
project with a fixed id owns every run stored before, and every run made while auth is off.
`api_keys` hold a SHA-256 of each key and a short prefix, never the key. `runs` name their
project and the key that made them. `rate_limits` holds the `limits` library's fixed-window
counters, shared by every service process.

Revision ID: a5c9e2d7b3f1
Revises: 5ac3d9e1f702
Create Date: 2026-11-26 11:55:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "a5c9e2d7b3f1"
down_revision: str | None = "5ac3d9e1f702"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_PROJECT_ID = "00000000-0000-0000-0000-000000000001"


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
    )
    op.execute(f"INSERT INTO projects (id, name) VALUES ('{DEFAULT_PROJECT_ID}', 'default')")
    op.create_table(
        "api_keys",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_api_keys_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
    )
    op.create_index("ix_api_keys_project_id", "api_keys", ["project_id"])
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )
    # A constant default: existing rows take it without the table being rewritten.
    op.add_column(
        "runs",
        sa.Column(
            "project_id",
            sa.UUID(),
            server_default=sa.text(f"'{DEFAULT_PROJECT_ID}'::uuid"),
            nullable=False,
        ),
    )
    op.add_column("runs", sa.Column("created_by_key_name", sa.Text(), nullable=True))
    op.add_column("runs", sa.Column("created_by_key_prefix", sa.Text(), nullable=True))
    op.create_foreign_key(
        op.f("fk_runs_project_id_projects"), "runs", "projects", ["project_id"], ["id"]
    )
    op.create_index(
        "ix_runs_project_id_created_at_id",
        "runs",
        ["project_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )


def downgrade() -> None:
    op.drop_index("ix_runs_project_id_created_at_id", table_name="runs")
    op.drop_constraint(op.f("fk_runs_project_id_projects"), "runs", type_="foreignkey")
    op.drop_column("runs", "created_by_key_prefix")
    op.drop_column("runs", "created_by_key_name")
    op.drop_column("runs", "project_id")
    op.drop_table("rate_limits")
    op.drop_table("api_keys")
    op.drop_table("projects")
