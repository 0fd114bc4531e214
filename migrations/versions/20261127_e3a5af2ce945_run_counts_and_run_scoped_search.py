"""Each run's pair counts stored on it, kept by a trigger; search indexes that know each row's run

`runs.pairs_<status>` and `runs.pairs_cached` are what `GET /runs` shows of each run: a page
of runs no longer counts its runs' pairs. Statement-level triggers with transition tables on
`responses` keep them exact through every path that inserts, changes or deletes pairs (accept,
claim, cache, record, cancel, retry, budget, lease loss, delete, retention): none can forget.

The search indexes hold, beside an answer's (or prompt's) words, one lexeme naming its run,
which no search can type ("run <uuid>": the parser never makes a lexeme with a space). A search
of one run is then the words AND that lexeme, one probe of one GIN index, which skips through
the posting list of a common word instead of reading it: `GET /runs?q=the` probes the newest
runs one by one. The same index serves a search of every run, as before.

Revision ID: e3a5af2ce945
Revises: c3e5a7b9d1f2
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e3a5af2ce945"
down_revision: str | None = "c3e5a7b9d1f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
COUNTED = [(f"pairs_{s}", f"status = '{s}'") for s in STATUSES] + [
    ("pairs_cached", "cached_from IS NOT NULL")
]
# What changed, per trigger: the rows a statement inserted (+1) or deleted (-1), or, for an
# update, the old rows (-1) and the new (+1).
CHANGES = {
    "insert": "SELECT run_id, status, cached_from, 1 AS n FROM new_pairs",
    "delete": "SELECT run_id, status, cached_from, -1 AS n FROM old_pairs",
    "update": "SELECT run_id, status, cached_from, -1 AS n FROM old_pairs"
    " UNION ALL SELECT run_id, status, cached_from, 1 FROM new_pairs",
}


def _count_function(event: str) -> str:
    names = [name for name, _ in COUNTED]
    sums = ", ".join(
        f"coalesce(sum(n) FILTER (WHERE {where}), 0)::int AS {name}" for name, where in COUNTED
    )
    arrays = ", ".join(f"array_agg({name} ORDER BY run_id)" for name in names)
    adds = ", ".join(f"{name} = runs.{name} + d.{name}" for name in names)
    nonzero = " OR ".join(f"{name} <> 0" for name in names)
    found = [f"moved_{name}" for name in names]  # not the columns' names: plpgsql would mix them
    declared = " ".join(f"{name} int[];" for name in found)
    return f"""
CREATE FUNCTION count_pairs_on_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[]; {declared}
BEGIN
    -- Per run, how its counts move. Statements that change no status (lease renewals, calls
    -- counted, diagnostics) move none and lock no run.
    SELECT array_agg(run_id ORDER BY run_id), {arrays}
      INTO ids, {", ".join(found)}
      FROM (SELECT run_id, {sums} FROM ({CHANGES[event]}) AS changed GROUP BY run_id) AS d
     WHERE {nonzero};
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    -- The runs are locked after the pairs this statement changed and in id order: the lock
    -- order of every other writer (app/dispatch/queue.py), so this cannot deadlock with
    -- them. Writers of a run's answers already lock its row to charge its cost and to see
    -- whether it ended (finish_runs), in the same transaction, so two dispatchers writing
    -- one run wait for each other no longer than they did; claims lock it now too, for the
    -- one short transaction a claim is. NO KEY UPDATE, as an UPDATE takes: inserts of other
    -- rows that reference the run (their foreign-key checks) are not held up.
    PERFORM 1 FROM runs WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    UPDATE runs SET {adds}
      FROM unnest(ids, {", ".join(found)}) AS d(run_id, {", ".join(names)})
     WHERE runs.id = d.run_id;
    RETURN NULL;
END
$$"""


_TRANSITIONS = {
    "insert": "NEW TABLE AS new_pairs",
    "delete": "OLD TABLE AS old_pairs",
    "update": "OLD TABLE AS old_pairs NEW TABLE AS new_pairs",
}

SEARCH = {"prompts": "text", "responses": "output"}
# New rows wait in a GIN index's pending list, which every scan reads whole, until it holds
# this many kB (4 MB by default, about 500 pages: read by each of a search's probes); 64 kB
# is at most 8 pages a probe, and the list is still merged in bulk, not a row at a time.
SEARCH_INDEX_STORAGE = {"gin_pending_list_limit": 64}


def upgrade() -> None:
    # No pair may change between the backfill and the triggers' first firing.
    op.execute("LOCK TABLE responses IN SHARE ROW EXCLUSIVE MODE")
    for name, _ in COUNTED:
        op.add_column("runs", sa.Column(name, sa.Integer(), server_default="0", nullable=False))
    for event, transition in _TRANSITIONS.items():
        op.execute(_count_function(event))
        op.execute(
            f"CREATE TRIGGER count_pairs_on_{event} AFTER {event.upper()} ON responses "
            f"REFERENCING {transition} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION count_pairs_on_{event}()"
        )
    sums = ", ".join(f"count(*) FILTER (WHERE {where}) AS {name}" for name, where in COUNTED)
    op.execute(
        f"UPDATE runs SET {', '.join(f'{name} = c.{name}' for name, _ in COUNTED)} "
        f"FROM (SELECT run_id, {sums} FROM responses GROUP BY run_id) AS c "
        "WHERE runs.id = c.run_id"
    )

    # plpgsql, so that it is not inlined and its cost counts: a search of one run, whose
    # tsquery the planner cannot see, gets its default guess of matches (0.5% of the rows),
    # and a sequential scan stopping at the first of so many looks cheaper than the index,
    # unless computing the words of every row it passes costs what it does.
    op.execute(
        "CREATE FUNCTION run_search_vector(run_id uuid, body text) RETURNS tsvector "
        "LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 10000 AS $$ BEGIN "
        "RETURN to_tsvector('simple'::regconfig, left(body, 200000)) "
        "|| array_to_tsvector(ARRAY['run ' || run_id::text]); END $$"
    )
    op.execute(
        "CREATE FUNCTION run_search_term(run_id uuid) RETURNS tsquery "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ "
        "SELECT ('''run ' || run_id::text || '''')::tsquery $$"
    )
    for table, column in SEARCH.items():
        op.drop_index(f"ix_{table}_search", table_name=table, postgresql_using="gin")
        op.create_index(
            f"ix_{table}_search",
            table,
            [sa.literal_column(f"run_search_vector(run_id, {column})")],
            unique=False,
            postgresql_using="gin",
            postgresql_with=SEARCH_INDEX_STORAGE,
        )


def downgrade() -> None:
    for table, column in SEARCH.items():
        op.drop_index(f"ix_{table}_search", table_name=table, postgresql_using="gin")
        op.create_index(
            f"ix_{table}_search",
            table,
            [sa.literal_column(f"to_tsvector('simple'::regconfig, left({column}, 200000))")],
            unique=False,
            postgresql_using="gin",
        )
    op.execute("DROP FUNCTION run_search_term(uuid)")
    op.execute("DROP FUNCTION run_search_vector(uuid, text)")
    for event in _TRANSITIONS:
        op.execute(f"DROP TRIGGER count_pairs_on_{event} ON responses")
        op.execute(f"DROP FUNCTION count_pairs_on_{event}()")
    for name, _ in reversed(COUNTED):
        op.drop_column("runs", name)
