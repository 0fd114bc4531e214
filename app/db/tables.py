"""The tables, as ORM classes: runs, their prompts, and one response row per prompt x contender;
and judging's: blind battles and the pairs they are drawn from, votes, a model judge's
judgements.

A response row is also the dispatcher's job: its status, lease token and lease expiry are
the queue.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, array
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from app.domain import (
    FINISH_REASONS,
    JUDGE_VERDICTS,
    JUDGEMENT_STATUSES,
    PENDING_STATUSES,
    RESPONSE_STATUSES,
    RUN_STATUSES,
    WINNERS,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def search_vector(run_id: Any, column: Any) -> ColumnElement[Any]:
    """The full-text form of a text column of a run's row; queries must use this same
    expression to hit its index. The `simple` configuration: whole words, case-insensitive,
    no stemming, of the first 200,000 characters (a tsvector holds at most 1 MB); and one
    lexeme naming the run, which no search can type, matched by `search_term(run_id)` (SQL
    functions made by migration e3a5af2ce945)."""
    return func.run_search_vector(run_id, column)


# A GIN index's pending list (new rows not yet merged into it) is read whole, each row matched,
# by every scan: a search probes a run's prompts, then its answers, for every run it lists.
PROMPTS_SEARCH_STORAGE = {"fastupdate": "off"}
"""Prompts are written once, when their run is accepted: each goes straight into the index,
which has no pending list (migration a7f3c9e1b5d2)."""
ANSWERS_SEARCH_STORAGE = {"gin_pending_list_limit": "64"}
"""Answers are written all the time, and merging them in bulk is cheaper for the writer: the
list stays within 64 kB (8 pages; 4 MB by default)."""


def search_term(run_id: Any) -> ColumnElement[Any]:
    """The search term that matches exactly the rows of this run: AND it with a search to
    search one run, through the same index as a search of every run."""
    return func.run_search_term(run_id)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def status_in(column: ColumnElement[str], *statuses: str) -> ColumnElement[bool]:
    """`column IN (statuses)` with the statuses written into the SQL instead of bound.

    A partial index (`WHERE status = 'queued'`) serves a query only if PostgreSQL can prove
    the query implies its predicate; a bound `status = $1` proves nothing in a generic plan,
    which asyncpg's cached statements switch to after five executions."""
    return column.in_(
        bindparam("statuses", statuses, expanding=True, literal_execute=True, unique=True)
    )


FLAGGED = "flags <> '{}'"
"""The predicate of ix_responses_flagged, written into the queries it serves (a bound empty
array would not prove that a query implies it)."""


CACHEABLE = "status = 'succeeded' AND cached_from IS NULL AND fingerprint IS NOT NULL"
"""The predicate of ix_responses_cache: answers that may be reused."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


DEFAULT_PROJECT_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")
"""The project made by the migration: it owns the runs stored before projects existed, and
every run while auth is off."""
DEFAULT_PROJECT_NAME = "default"


class ProjectRow(Base):
    """Who owns runs (and through them their battles, votes and judgements) and keys."""

    __tablename__ = "projects"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The project's own limits, over the service's (LLM_COMPARE_MONTHLY_BUDGET_USD,
    # LLM_COMPARE_RETENTION_DAYS); NULL: the service's apply.
    monthly_budget_usd: Mapped[float | None] = mapped_column(Float)
    retention_days: Mapped[int | None] = mapped_column(Integer)


class ApiKeyRow(Base):
    """A key: only its SHA-256 and a short prefix to tell it apart; revoked keys stay, so that
    the runs they made still say by whom."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text)
    secret_hash: Mapped[str] = mapped_column(Text, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_api_keys_project_id", "project_id"),)


class RateLimitRow(Base):
    """Fixed-window counters of the `limits` library, shared by every service process."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ServiceSecretRow(Base):
    """Secrets the service makes for itself once and every process shares (the pages'
    cookie-signing secret), so that they survive restarts without being configured."""

    __tablename__ = "service_secrets"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EndedSessionRow(Base):
    """Sessions of the pages signed out before their cookie expires: a copy of the cookie
    must not outlive the sign-out. Kept until `expires_at`, when the cookie is refused anyway."""

    __tablename__ = "ended_sessions"

    # The SHA-256 of the session's CSRF token, which is random and its own.
    token_digest: Mapped[str] = mapped_column(Text, primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RunTallyRow(Base):
    """What statements added to a run's counts and answers version since they were last
    folded into its row, one row per run and shard of connections (`pg_backend_pid() % 16`):
    concurrent writers of a run add to rows of their own instead of each locking the run's
    (migration 9d4b6e2a1c73)."""

    __tablename__ = "run_tallies"

    run_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    pairs_queued: Mapped[int] = mapped_column(Integer, server_default="0")
    pairs_running: Mapped[int] = mapped_column(Integer, server_default="0")
    pairs_succeeded: Mapped[int] = mapped_column(Integer, server_default="0")
    pairs_failed: Mapped[int] = mapped_column(Integer, server_default="0")
    pairs_cancelled: Mapped[int] = mapped_column(Integer, server_default="0")
    pairs_cached: Mapped[int] = mapped_column(Integer, server_default="0")
    answers_version: Mapped[int] = mapped_column(BigInteger, server_default="0")


def _folded(name: str, type_: type[Integer] | type[BigInteger] = Integer) -> Mapped[int]:
    """A run's column of what is folded into its row: read only as part of `tallied`."""
    return mapped_column(name, type_, server_default="0", deferred=True)


def _whole(folded: Any, tallies: Mapped[int]) -> ColumnElement[int]:
    """What is folded into the run's row (a column declared in its class body) plus the sum
    of its tallies (as bigint: a bigint's sum is numeric)."""
    added = func.coalesce(cast(func.sum(tallies), BigInteger), literal_column("0"))
    whole: ColumnElement[int] = folded.column + added
    return whole


# A run's tallied numbers, in `RunRow.tallied`'s order.
TALLIED = ("queued", "running", "succeeded", "failed", "cancelled", "cached", "answers_version")


def counts_of(tallied: Sequence[int]) -> dict[str, int]:
    """Pairs by status, and `cached` (among the succeeded), of a run's `tallied`."""
    return dict(zip(TALLIED[:-1], tallied[:-1], strict=True))


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[dict[str, str]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    status: Mapped[str] = mapped_column(String(16), default="queued")
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Resolved contenders, in request order: label, model, template, params.
    contenders: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    models: Mapped[list[str]] = mapped_column(ARRAY(Text))
    prompt_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set by POST /runs/{id}/cancel: the run ends `cancelled` once its in-flight pairs end.
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The client's Idempotency-Key and a digest of the request it came with.
    idempotency_key: Mapped[str | None] = mapped_column(Text, unique=True)
    request_digest: Mapped[str | None] = mapped_column(Text)
    # A judging run: the run whose answers its judge's calls compare.
    judges: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("runs.id", ondelete="SET NULL")
    )
    # The W3C traceparent of the request that accepted the run, when tracing is on: the spans
    # of its provider calls link to it (app/tracing.py).
    trace_parent: Mapped[str | None] = mapped_column(Text)
    # USD spent: 0 at acceptance when every contender has a price, NULL (unknown) otherwise;
    # the writer adds each answer's cost in the transaction that stores it.
    cost_usd: Mapped[float | None] = mapped_column(Float)
    # Pairs start only while cost_usd + the worst case of the pairs in flight fits in it.
    budget_usd: Mapped[float | None] = mapped_column(Float)
    # A replay (POST /runs/{id}/replay): the run whose prompts it was made from.
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("runs.id", ondelete="SET NULL")
    )
    project_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("projects.id"),
        default=DEFAULT_PROJECT_ID,
        server_default=text(f"'{DEFAULT_PROJECT_ID}'::uuid"),
    )
    # The key that made the run, as it was named then (none while auth is off).
    created_by_key_name: Mapped[str | None] = mapped_column(Text)
    created_by_key_prefix: Mapped[str | None] = mapped_column(Text)
    # How many of its pairs are in each status, how many were answered from the cache, and
    # the version of its answers (stored aggregates of an older one are stale): the part
    # folded into the run's row when it finished; the rest is in `run_tallies`. Never written
    # here: triggers on `responses` keep them (migration 9d4b6e2a1c73). Read `tallied`.
    folded_queued: Mapped[int] = _folded("pairs_queued")
    folded_running: Mapped[int] = _folded("pairs_running")
    folded_succeeded: Mapped[int] = _folded("pairs_succeeded")
    folded_failed: Mapped[int] = _folded("pairs_failed")
    folded_cancelled: Mapped[int] = _folded("pairs_cancelled")
    folded_cached: Mapped[int] = _folded("pairs_cached")
    folded_version: Mapped[int] = _folded("answers_version", BigInteger)
    # The whole of each, in TALLIED's order: what is folded plus the tallies, in one statement.
    tallied: Mapped[list[int]] = column_property(
        select(
            array(
                [
                    _whole(folded_queued, RunTallyRow.pairs_queued),
                    _whole(folded_running, RunTallyRow.pairs_running),
                    _whole(folded_succeeded, RunTallyRow.pairs_succeeded),
                    _whole(folded_failed, RunTallyRow.pairs_failed),
                    _whole(folded_cancelled, RunTallyRow.pairs_cancelled),
                    _whole(folded_cached, RunTallyRow.pairs_cached),
                    _whole(folded_version, RunTallyRow.answers_version),
                ]
            )
        )
        .where(RunTallyRow.run_id == id)
        .correlate_except(RunTallyRow)
        .scalar_subquery()
    )

    @property
    def counts(self) -> dict[str, int]:
        return counts_of(self.tallied)

    @property
    def answers_version(self) -> int:
        return self.tallied[-1]

    __table_args__ = (
        CheckConstraint(_one_of("status", RUN_STATUSES), name="status"),
        # `GET /runs?sort=-cost_usd`: runs of known cost in cost order, id breaking ties.
        Index(
            "ix_runs_cost_usd_id",
            cost_usd.desc(),
            id.desc(),
            postgresql_where=text("cost_usd IS NOT NULL"),
        ),
        Index("ix_runs_project_id_created_at_id", "project_id", created_at.desc(), id.desc()),
        Index("ix_runs_judges", "judges", postgresql_where=text("judges IS NOT NULL")),
        # A run's replays, newest first (GET /runs?parent=).
        Index(
            "ix_runs_parent_id",
            "parent_id",
            created_at.desc(),
            id.desc(),
            postgresql_where=text("parent_id IS NOT NULL"),
        ),
        Index("ix_runs_created_at_id", created_at.desc(), id.desc()),
        Index("ix_runs_status_created_at", "status", created_at.desc()),
        Index(
            "ix_runs_tags",
            "tags",
            postgresql_using="gin",
            postgresql_ops={"tags": "jsonb_path_ops"},
        ),
        Index("ix_runs_models", "models", postgresql_using="gin"),
    )


class RunAggregatesRow(Base):
    """A finished run's per-contender aggregates, as computed at `answers_version` of the run
    (app/runs/aggregates.py): a run page reads them instead of its pairs while that is still
    the run's version."""

    __tablename__ = "run_aggregates"

    run_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    answers_version: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)


class PromptRow(Base):
    __tablename__ = "prompts"

    run_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index(
            "ix_prompts_search",
            search_vector(run_id, text),
            postgresql_using="gin",
            postgresql_with=PROMPTS_SEARCH_STORAGE,
        ),
    )


class ResponseRow(Base):
    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    prompt_position: Mapped[int] = mapped_column(Integer)
    contender_index: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    rendered_prompt: Mapped[str] = mapped_column(Text)
    output: Mapped[str | None] = mapped_column(Text)
    finish_reason: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Claims whose lease ran out: a pair that keeps killing its worker must not loop forever.
    lost_leases: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The claim: whoever holds this token may write the result until the lease expires.
    lease_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # An answer's diagnostics (app/diagnostics.py), written with it; NULL for pairs that did
    # not succeed and for answers stored before them (`llm-compare diagnose` fills those in).
    flags: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    repetition: Mapped[float | None] = mapped_column(Float)
    prompt_overlap: Mapped[float | None] = mapped_column(Float)
    words: Mapped[int | None] = mapped_column(Integer)
    # The rules' DIAGNOSTICS_VERSION they were computed by: older ones can be computed again.
    diagnostics_version: Mapped[int | None] = mapped_column(SmallInteger)
    # USD, from the token counts and the contender's price; NULL when either is unknown.
    cost_usd: Mapped[float | None] = mapped_column(Float)
    # A budgeted run's pair: the most it can cost (its prompt's token bound and the contender's
    # max_new_tokens at its price), reserved while it is in flight. NULL in other runs.
    max_cost_usd: Mapped[float | None] = mapped_column(Float)
    # Which of the pair's repeated samples this is (0 without samples): part of its identity.
    sample: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The request's identity hashed (app/runs/fingerprint.py); NULL when sampling is not
    # deterministic, so that the answer is never reused.
    fingerprint: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # A reused answer: the response it was copied from, instead of calling the provider.
    cached_from: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        ForeignKeyConstraint(
            ["run_id", "prompt_position"],
            ["prompts.run_id", "prompts.position"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("run_id", "prompt_position", "contender_index", "sample"),
        CheckConstraint(_one_of("status", RESPONSE_STATUSES), name="status"),
        CheckConstraint(
            f"finish_reason IS NULL OR {_one_of('finish_reason', FINISH_REASONS)}",
            name="finish_reason",
        ),
        # A pair still to do has not finished: ix_responses_unfinished finds every one.
        CheckConstraint(
            f"finished_at IS NULL OR NOT {_one_of('status', PENDING_STATUSES)}",
            name="pending_is_unfinished",
        ),
        # Each index below serves its own queries and can serve no other. The tables are
        # often never analyzed (autovacuum off) or analyzed long ago, and when the planner
        # believes a status matches no row, every index a query could use looks equally
        # free: so none may be usable by a query it would have to read in full.
        # The queue: claims take the oldest queued pairs of one model, in an order that only
        # this index has (by id alone, the primary key would offer to walk every answered row).
        Index(
            "ix_responses_queued",
            "model",
            "created_at",
            "id",
            postgresql_where=text("status = 'queued'"),
        ),
        Index(
            "ix_responses_leases",
            "lease_expires_at",
            postgresql_where=text("status = 'running'"),
        ),
        # Whether a run still has work, and its queued pairs to cancel. Keyed on finished_at,
        # which no claim or lease query mentions: `status IN ('queued', 'running')` would
        # offer this index to every one of them.
        Index("ix_responses_unfinished", "run_id", postgresql_where=text("finished_at IS NULL")),
        # A budgeted run's pairs in flight, which each claim of its pairs sums: through
        # ix_responses_unfinished it would read every queued pair of the run too. Only
        # queries that say `max_cost_usd IS NOT NULL` (budgets) can use it.
        Index(
            "ix_responses_budgeted_in_flight",
            "run_id",
            postgresql_where=text("status = 'running' AND max_cost_usd IS NOT NULL"),
        ),
        Index(
            "ix_responses_search",
            search_vector(run_id, output),
            postgresql_using="gin",
            postgresql_with=ANSWERS_SEARCH_STORAGE,
        ),
        # A run's prompts with a flagged answer (`?flag=`), in order: only flagged answers are
        # in it, so finding the few flagged prompts of a clean run reads those and no more
        # (by the unique index, it would read every answer of the run). Only queries that say
        # FLAGGED themselves can use it.
        Index("ix_responses_flagged", "run_id", "prompt_position", postgresql_where=text(FLAGGED)),
        # The cache: for a fingerprint, the newest answer that was not itself copied. Only
        # queries that say CACHEABLE themselves can use it.
        Index("ix_responses_cache", "fingerprint", "id", postgresql_where=text(CACHEABLE)),
    )


# Judging. Rows name responses by id without a foreign key to them: responses live and die
# with their run, and these rows go with it (each references its run, ON DELETE CASCADE),
# whereas a key to responses would need an index on every such column for its cascade.


def _run_id() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("runs.id", ondelete="CASCADE"))


def _other_run_id() -> Mapped[uuid.UUID | None]:
    """The second run of a verdict across two runs; null within one."""
    return mapped_column(UUID(as_uuid=True), ForeignKey("runs.id", ondelete="CASCADE"))


class BattleFillRow(Base):
    """How far the battle slots of a run were filled, in passes over its prompts."""

    __tablename__ = "battle_fills"

    run_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    # Prompts before this position have their slots in the current pass.
    next_position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The run's finished_at when the current pass began: a pass over a run that has changed
    # since (answers arrived, or a retry) is followed by another.
    run_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BattleSlotRow(Base):
    """Two succeeded answers to one prompt that people may be asked to compare."""

    __tablename__ = "battle_slots"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[uuid.UUID] = _run_id()
    prompt_position: Mapped[int] = mapped_column(Integer)
    # The answers of the two contenders, the one listed first in the run as `lo`.
    lo_response_id: Mapped[int] = mapped_column(BigInteger)
    hi_response_id: Mapped[int] = mapped_column(BigInteger)
    lo_contender: Mapped[int] = mapped_column(Integer)
    hi_contender: Mapped[int] = mapped_column(Integer)
    votes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Breaks ties among slots with as many votes, in an order no one can predict.
    random_key: Mapped[float] = mapped_column(Float, server_default=func.random())
    # Held by an open battle until then.
    busy_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("lo_response_id", "hi_response_id"),
        CheckConstraint("lo_contender < hi_contender", name="ordered"),
        # The next battle takes the slot with the fewest votes: these orders, and no other
        # index, let a plan stop at the first free slot whatever the planner believes.
        Index("ix_battle_slots_next", "run_id", "votes", "random_key"),
        Index(
            "ix_battle_slots_next_of_pair",
            "run_id",
            "lo_contender",
            "hi_contender",
            "votes",
            "random_key",
        ),
    )


class BattleRow(Base):
    """Two answers shown blind, each on a side, awaiting one vote until `expires_at`."""

    __tablename__ = "battles"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    run_id: Mapped[uuid.UUID] = _run_id()
    slot_id: Mapped[int] = mapped_column(BigInteger)
    prompt_position: Mapped[int] = mapped_column(Integer)
    a_response_id: Mapped[int] = mapped_column(BigInteger)
    b_response_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_battles_run_id", "run_id"),)


class JudgementRow(Base):
    """One judge call on one order of a pair: the judge was shown `a` as A and `b` as B.

    Within one run (`other_run_id` null) or across two (`POST /runs/{a}/diff/{b}/judge`):
    then `a` is an answer of `judged_run_id` (whose prompt `prompt_position` is, and whose
    contender `a_contender`) and `b` of `other_run_id`, so the two orders of a pair name the
    two runs the other way round.
    """

    __tablename__ = "judgements"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    judging_run_id: Mapped[uuid.UUID] = _run_id()
    judge_response_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    judged_run_id: Mapped[uuid.UUID] = _run_id()
    other_run_id: Mapped[uuid.UUID | None] = _other_run_id()
    judge: Mapped[str] = mapped_column(Text)  # the judge's model
    prompt_position: Mapped[int] = mapped_column(Integer)
    a_response_id: Mapped[int] = mapped_column(BigInteger)
    b_response_id: Mapped[int] = mapped_column(BigInteger)
    a_contender: Mapped[int] = mapped_column(Integer)
    b_contender: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8), default="pending", server_default="pending")
    verdict: Mapped[str | None] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # One call per order of a pair in a judging run; also how an order finds the other.
        UniqueConstraint("judging_run_id", "a_response_id", "b_response_id"),
        CheckConstraint(_one_of("status", JUDGEMENT_STATUSES), name="status"),
        CheckConstraint(f"verdict IS NULL OR {_one_of('verdict', JUDGE_VERDICTS)}", name="verdict"),
        CheckConstraint("(status = 'judged') = (verdict IS NOT NULL)", name="judged_has_verdict"),
        Index("ix_judgements_judged_run_id", "judged_run_id"),
        Index(
            "ix_judgements_other_run_id",
            "other_run_id",
            postgresql_where=text("other_run_id IS NOT NULL"),
        ),
        # The judgements whose judge's answer is still to be read, by the run they judge.
        Index(
            "ix_judgements_pending", "judged_run_id", postgresql_where=text("status = 'pending'")
        ),
    )


class VoteRow(Base):
    """A verdict on two answers to one prompt: `a` was shown on the left, `b` on the right.

    `voter` is `people` or `people:NAME` for people, `judge:MODEL` for a model judge. A blind
    vote names its battle, a judge's vote the judgement of its first order: each at most once.
    A cross-run vote (two runs' paired answers, app/history/wins.py) names the run of `b`'s
    answer in `other_run_id` (`run_id`, `prompt_position` and `a_contender` are `a`'s); the
    leaderboard and a run's own judging never read those.
    """

    __tablename__ = "votes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[uuid.UUID] = _run_id()
    other_run_id: Mapped[uuid.UUID | None] = _other_run_id()
    prompt_position: Mapped[int] = mapped_column(Integer)
    a_response_id: Mapped[int] = mapped_column(BigInteger)
    b_response_id: Mapped[int] = mapped_column(BigInteger)
    a_contender: Mapped[int] = mapped_column(Integer)
    b_contender: Mapped[int] = mapped_column(Integer)
    winner: Mapped[str] = mapped_column(String(8))
    voter: Mapped[str] = mapped_column(Text)
    battle_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("battles.id", ondelete="CASCADE"), unique=True
    )
    judgement_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("judgements.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(_one_of("winner", WINNERS), name="winner"),
        CheckConstraint("a_response_id <> b_response_id", name="two_answers"),
        Index("ix_votes_run_id", "run_id"),
        Index(
            "ix_votes_other_run_id",
            "other_run_id",
            postgresql_where=text("other_run_id IS NOT NULL"),
        ),
    )
