"""Sessions of the pages signed out before their cookie expires

The cookie is signed, not stored, so clearing it at sign-out left any copy of it valid until
it expired. The digest of each signed-out session's CSRF token (random, its own) is kept until
then, and a cookie of that session is refused.

Revision ID: b8d4f0a2c6e1
Revises: a7f3c9e1b5d2
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b8d4f0a2c6e1"
down_revision: str | None = "a7f3c9e1b5d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ended_sessions",
        sa.Column("token_digest", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_ended_sessions")),
    )


def downgrade() -> None:
    op.drop_table("ended_sessions")
