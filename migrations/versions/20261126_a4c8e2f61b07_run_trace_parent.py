"""the request that accepted a run, for traces

`runs.trace_parent`: the W3C `traceparent` of the request that accepted the run, when the
service traces (app/tracing.py), so that each provider call's span links to that request's
trace. NULL when tracing is off, and for runs stored before.

Revision ID: a4c8e2f61b07
Revises: e7b3f1a2c4d5
Create Date: 2026-11-26 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a4c8e2f61b07"
down_revision: str | None = "e7b3f1a2c4d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable and without a default: adding it rewrites no row.
    op.add_column("runs", sa.Column("trace_parent", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "trace_parent")
