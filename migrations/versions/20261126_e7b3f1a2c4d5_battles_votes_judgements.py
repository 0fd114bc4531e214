"""battles, votes, judgements

Judging's tables: `battle_slots` (two succeeded answers to one prompt that people may be asked
to compare, with their vote count and the open battle holding them) filled in passes recorded
in `battle_fills`; `battles` (a pair shown blind, on random sides, until it expires);
`judgements` (one call of a model judge: one order of one pair); `votes` (people's and judges'
verdicts: both answers, which was shown as `a`, the voter, the battle or judgement it came
from, each at most once). `runs.judges` names the run a judging run judges.

Every row names its run (ON DELETE CASCADE) and the answers by id without a key to them:
answers live and die with their run.

Revision ID: e7b3f1a2c4d5
Revises: d1a9c0e4f2b1
Create Date: 2026-11-26 07:59:05.888339+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.sql.schema import SchemaItem

revision: str = "e7b3f1a2c4d5"
down_revision: str | None = "d1a9c0e4f2b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _run_id(name: str, table: str) -> list[SchemaItem]:
    return [
        sa.Column(name, sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            [name], ["runs.id"], name=op.f(f"fk_{table}_{name}_runs"), ondelete="CASCADE"
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "battle_fills",
        *_run_id("run_id", "battle_fills"),
        sa.Column("next_position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("run_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_battle_fills")),
    )
    op.create_table(
        "battle_slots",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        *_run_id("run_id", "battle_slots"),
        sa.Column("prompt_position", sa.Integer(), nullable=False),
        sa.Column("lo_response_id", sa.BigInteger(), nullable=False),
        sa.Column("hi_response_id", sa.BigInteger(), nullable=False),
        sa.Column("lo_contender", sa.Integer(), nullable=False),
        sa.Column("hi_contender", sa.Integer(), nullable=False),
        sa.Column("votes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("random_key", sa.Float(), server_default=sa.text("random()"), nullable=False),
        sa.Column("busy_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("lo_contender < hi_contender", name=op.f("ck_battle_slots_ordered")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_battle_slots")),
        sa.UniqueConstraint(
            "lo_response_id", "hi_response_id", name=op.f("uq_battle_slots_lo_response_id")
        ),
    )
    op.create_index("ix_battle_slots_next", "battle_slots", ["run_id", "votes", "random_key"])
    op.create_index(
        "ix_battle_slots_next_of_pair",
        "battle_slots",
        ["run_id", "lo_contender", "hi_contender", "votes", "random_key"],
    )
    op.create_table(
        "battles",
        sa.Column("id", sa.UUID(), nullable=False),
        *_run_id("run_id", "battles"),
        sa.Column("slot_id", sa.BigInteger(), nullable=False),
        sa.Column("prompt_position", sa.Integer(), nullable=False),
        sa.Column("a_response_id", sa.BigInteger(), nullable=False),
        sa.Column("b_response_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_battles")),
    )
    op.create_index("ix_battles_run_id", "battles", ["run_id"])
    op.create_table(
        "judgements",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        *_run_id("judging_run_id", "judgements"),
        sa.Column("judge_response_id", sa.BigInteger(), nullable=False),
        *_run_id("judged_run_id", "judgements"),
        sa.Column("judge", sa.Text(), nullable=False),
        sa.Column("prompt_position", sa.Integer(), nullable=False),
        sa.Column("a_response_id", sa.BigInteger(), nullable=False),
        sa.Column("b_response_id", sa.BigInteger(), nullable=False),
        sa.Column("a_contender", sa.Integer(), nullable=False),
        sa.Column("b_contender", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), server_default="pending", nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(status = 'judged') = (verdict IS NOT NULL)",
            name=op.f("ck_judgements_judged_has_verdict"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'judged', 'failed')", name=op.f("ck_judgements_status")
        ),
        sa.CheckConstraint(
            "verdict IS NULL OR verdict IN ('a', 'b', 'tie')", name=op.f("ck_judgements_verdict")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judgements")),
        sa.UniqueConstraint("judge_response_id", name=op.f("uq_judgements_judge_response_id")),
        sa.UniqueConstraint(
            "judging_run_id",
            "a_response_id",
            "b_response_id",
            name=op.f("uq_judgements_judging_run_id"),
        ),
    )
    op.create_index("ix_judgements_judged_run_id", "judgements", ["judged_run_id"])
    op.create_index(
        "ix_judgements_pending",
        "judgements",
        ["judged_run_id"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "votes",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        *_run_id("run_id", "votes"),
        sa.Column("prompt_position", sa.Integer(), nullable=False),
        sa.Column("a_response_id", sa.BigInteger(), nullable=False),
        sa.Column("b_response_id", sa.BigInteger(), nullable=False),
        sa.Column("a_contender", sa.Integer(), nullable=False),
        sa.Column("b_contender", sa.Integer(), nullable=False),
        sa.Column("winner", sa.String(length=8), nullable=False),
        sa.Column("voter", sa.Text(), nullable=False),
        sa.Column("battle_id", sa.UUID(), nullable=True),
        sa.Column("judgement_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("winner IN ('a', 'b', 'tie', 'both_bad')", name=op.f("ck_votes_winner")),
        sa.CheckConstraint("a_response_id <> b_response_id", name=op.f("ck_votes_two_answers")),
        sa.ForeignKeyConstraint(
            ["battle_id"],
            ["battles.id"],
            name=op.f("fk_votes_battle_id_battles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["judgement_id"],
            ["judgements.id"],
            name=op.f("fk_votes_judgement_id_judgements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_votes")),
        sa.UniqueConstraint("battle_id", name=op.f("uq_votes_battle_id")),
        sa.UniqueConstraint("judgement_id", name=op.f("uq_votes_judgement_id")),
    )
    op.create_index("ix_votes_run_id", "votes", ["run_id"])
    op.add_column("runs", sa.Column("judges", sa.UUID(), nullable=True))
    op.create_index(
        "ix_runs_judges", "runs", ["judges"], postgresql_where=sa.text("judges IS NOT NULL")
    )
    op.create_foreign_key(
        op.f("fk_runs_judges_runs"), "runs", "runs", ["judges"], ["id"], ondelete="SET NULL"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_runs_judges_runs"), "runs", type_="foreignkey")
    op.drop_index("ix_runs_judges", table_name="runs")
    op.drop_column("runs", "judges")
    op.drop_table("votes")
    op.drop_table("judgements")
    op.drop_table("battles")
    op.drop_table("battle_slots")
    op.drop_table("battle_fills")
