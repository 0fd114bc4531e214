"""Fill a migrated database with many stored runs quickly, for the read benchmarks.

Runs of realistic sizes (log-uniform from 1 to 3,000 prompts, like the service's own users:
many small runs, a few large), three contenders each, every pair answered. Prompts and
answers are made of words drawn with a long tail, so full-text search has common and rare
words to find: `COMMON` is in nearly every answer, `RARE` in one answer in a thousand.

Rows are written with INSERT ... SELECT over generate_series from pools of texts made here,
copying the contenders of a run the service itself stored (so every run reads back as the
service's own). The two full-text indexes are dropped during the fill and built again after
it (much faster than updating them row by row), with their own definitions; foreign keys are
not checked during the fill (the rows are consistent by construction), nor do the triggers
that count each run's pairs fire: each run is written with its counts (every pair
succeeded). The schema afterwards is the migrations' own.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

COMMON = "the"
RARE = "quokka"
_RARE_EVERY = 1000  # one answer in this many has RARE
_HEAD = (
    "the of and to a in is it that for you was with on as have be at this not but they "
    "his from by or she which an we all there been one will their if more when would so "
    "can said what up its about into than them only other time new some could these two"
).split()
_OUTPUTS = 20_000  # pool sizes: answers and prompts are drawn from these
_PROMPTS = 5_000
_SEARCH_INDEXES = ("ix_prompts_search", "ix_responses_search")


def _vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"] + ["ar", "en", "is", "on"]
    words: set[str] = set()
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word != RARE:
            words.add(word)
    return sorted(words)


def _text(rng: random.Random, tail: list[str], words: int) -> str:
    chosen = [
        rng.choice(_HEAD) if rng.random() < 0.4 else tail[int(len(tail) * rng.random() ** 2)]
        for _ in range(words)
    ]
    sentences = [" ".join(chosen[i : i + 12]) for i in range(0, len(chosen), 12)]
    return " ".join(s[0].upper() + s[1:] + "." for s in sentences)


async def _make_pools(connection: asyncpg.Connection, seed: int) -> None:
    rng = random.Random(seed)
    tail = _vocabulary(rng)
    outputs = []
    for i in range(_OUTPUTS):
        text = _text(rng, tail, rng.randint(20, 120))
        if COMMON not in text.lower().split():
            text = f"{text} That is the answer."
        if i % _RARE_EVERY == 0:
            text = f"{text} A {RARE} would agree."
        outputs.append((i, text))
    prompts = [(i, _text(rng, tail, rng.randint(6, 30))) for i in range(_PROMPTS)]
    await connection.execute(
        "CREATE TABLE IF NOT EXISTS bench_outputs (i int PRIMARY KEY, text text);"
        "CREATE TABLE IF NOT EXISTS bench_prompts (i int PRIMARY KEY, text text);"
        "TRUNCATE bench_outputs, bench_prompts"
    )
    await connection.copy_records_to_table("bench_outputs", records=outputs)
    await connection.copy_records_to_table("bench_prompts", records=prompts)


@dataclass(frozen=True)
class Filled:
    runs: int
    responses: int


def _run_sizes(rng: random.Random, pairs: int, contenders: int) -> list[int]:
    """Prompt counts, log-uniform in [1, 3000], until they make `pairs` pairs."""
    sizes: list[int] = []
    total = 0
    while total < pairs:
        size = min(int(3000 ** rng.random()), (pairs - total + contenders - 1) // contenders)
        sizes.append(max(size, 1))
        total += sizes[-1] * contenders
    return sizes


async def fill(
    connection: asyncpg.Connection,
    like_run: uuid.UUID,
    pairs: int,
    start: datetime,
    end: datetime,
    seed: int = 1,
) -> Filled:
    """Add runs with about `pairs` answered pairs, created between `start` and `end`, shaped
    like `like_run` (its contenders, models and params)."""
    template = await connection.fetchrow(
        "SELECT r.contenders::text AS contenders, r.models, r.params::text AS params,"
        " x.rendered_prompt, p.text AS prompt"
        " FROM runs r JOIN responses x ON x.run_id = r.id"
        " JOIN prompts p ON p.run_id = r.id AND p.position = x.prompt_position"
        " WHERE r.id = $1 LIMIT 1",
        like_run,
    )
    assert template is not None, "the model run has no responses"
    contenders = len(template["models"])
    rng = random.Random(seed)
    sizes = _run_sizes(rng, pairs, contenders)
    if not await connection.fetchval("SELECT to_regclass('bench_outputs') IS NOT NULL"):
        await _make_pools(connection, seed)
    definitions = await connection.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE indexname = any($1::text[])",
        list(_SEARCH_INDEXES),
    )
    async with connection.transaction():
        await connection.execute(
            "SET LOCAL session_replication_role = replica;"  # no foreign-key triggers
            "SET LOCAL maintenance_work_mem = '512MB'"
        )
        for row in definitions:
            await connection.execute(f'DROP INDEX "{row["indexname"]}"')
        await connection.execute(
            "CREATE TEMP TABLE bench_fill ON COMMIT DROP AS"
            " SELECT seq::int, gen_random_uuid() AS id, size::int AS prompt_count,"
            " $2::timestamptz + ($3::timestamptz - $2::timestamptz) * (seq - 1) / $4 AS created_at"
            " FROM unnest($1::int[]) WITH ORDINALITY AS s(size, seq)",
            sizes,
            start,
            end,
            len(sizes),
        )
        await connection.execute(
            "INSERT INTO runs (id, name, tags, status, params, contenders, models,"
            " prompt_count, created_at, finished_at, pairs_succeeded)"
            " SELECT id, 'bench run ' || seq, jsonb_build_object('ckpt', (seq % 50)::text),"
            " 'succeeded', $1::jsonb, $2::jsonb, $3::text[], prompt_count, created_at,"
            " created_at + interval '1 minute', prompt_count * cardinality($3::text[])"
            " FROM bench_fill",
            template["params"],
            template["contenders"],
            template["models"],
        )
        await connection.execute(
            "INSERT INTO prompts (run_id, position, key, text)"
            " SELECT f.id, g, NULL, p.text"
            " FROM bench_fill f, generate_series(0, f.prompt_count - 1) g, bench_prompts p"
            f" WHERE p.i = (f.seq * 7919 + g) % {_PROMPTS}"
        )
        await connection.execute(
            "INSERT INTO responses (run_id, prompt_position, contender_index, model, status,"
            " rendered_prompt, output, finish_reason, prompt_tokens, completion_tokens,"
            " latency_ms, attempts, created_at, started_at, finished_at)"
            " SELECT f.id, g, c, ($1::text[])[c + 1], 'succeeded',"
            " replace($2, $3, p.text), o.text, 'stop', 12, 40, 40 + (g * 37 + c * 11) % 900,"
            " 1, f.created_at, f.created_at, f.created_at + interval '30 seconds'"
            " FROM bench_fill f, generate_series(0, f.prompt_count - 1) g,"
            f" generate_series(0, {contenders - 1}) c, bench_prompts p, bench_outputs o"
            f" WHERE p.i = (f.seq * 7919 + g) % {_PROMPTS}"
            f" AND o.i = (f.seq * 104729 + g * {contenders} + c) % {_OUTPUTS}",
            template["models"],
            template["rendered_prompt"],
            template["prompt"],
        )
        for row in definitions:
            await connection.execute(row["indexdef"])
    return Filled(len(sizes), sum(sizes) * contenders)
