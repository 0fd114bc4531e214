"""response cache and repeated samples

A response's `fingerprint`: the identity of its request (adapter, upstream model, endpoint,
rendered prompt, params, sample), hashed; NULL when sampling is not deterministic, so such a
pair is never reused. `cached_from`: the answer a reused one was copied from.
ix_responses_cache finds, for a fingerprint, the newest answer that was not itself copied.

`sample`: which of a pair's repeated samples a row is (0 for runs without samples); it joins
the pair's identity, so the unique constraint takes it in.

Revision ID: 5ac3d9e1f702
Revises: a4c8e2f61b93
Create Date: 2026-11-26 12:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5ac3d9e1f702"
down_revision: str | None = "a4c8e2f61b93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CACHE_PREDICATE = "status = 'succeeded' AND cached_from IS NULL AND fingerprint IS NOT NULL"


def upgrade() -> None:
    # Nullable, or a constant default: adding them rewrites no row.
    op.add_column("responses", sa.Column("fingerprint", postgresql.UUID(), nullable=True))
    op.add_column("responses", sa.Column("cached_from", sa.BigInteger(), nullable=True))
    op.add_column(
        "responses", sa.Column("sample", sa.Integer(), server_default="0", nullable=False)
    )
    op.drop_constraint("uq_responses_run_id", "responses", type_="unique")
    op.create_unique_constraint(
        "uq_responses_run_id",
        "responses",
        ["run_id", "prompt_position", "contender_index", "sample"],
    )
    op.create_index(
        "ix_responses_cache",
        "responses",
        ["fingerprint", "id"],
        unique=False,
        postgresql_where=sa.text(CACHE_PREDICATE),
    )


def downgrade() -> None:
    op.drop_index("ix_responses_cache", table_name="responses")
    op.execute("DELETE FROM responses WHERE sample > 0")
    op.drop_constraint("uq_responses_run_id", "responses", type_="unique")
    op.create_unique_constraint(
        "uq_responses_run_id", "responses", ["run_id", "prompt_position", "contender_index"]
    )
    op.drop_column("responses", "sample")
    op.drop_column("responses", "cached_from")
    op.drop_column("responses", "fingerprint")
