"""The SQL of blind battles and votes: the slots battles are drawn from, battles, votes.

A slot is two succeeded answers to one prompt. Slots are made lazily, a range of prompts at a
time (`fill_slots`), as battles need them; the next battle takes the free slot with the fewest
votes (`take_slot`), which two indexes let PostgreSQL find by reading the first free entry in
order, with statistics or none (tests/judging/test_query_plans.py checks the plans).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations, groupby
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Table,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import (
    BattleFillRow,
    BattleRow,
    BattleSlotRow,
    PromptRow,
    ResponseRow,
    RunRow,
    VoteRow,
    status_in,
)

fills: Table = BattleFillRow.__table__  # type: ignore[assignment]
slots: Table = BattleSlotRow.__table__  # type: ignore[assignment]
battles: Table = BattleRow.__table__  # type: ignore[assignment]
votes: Table = VoteRow.__table__  # type: ignore[assignment]
responses: Table = ResponseRow.__table__  # type: ignore[assignment]
prompts: Table = PromptRow.__table__  # type: ignore[assignment]
runs: Table = RunRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class RunState:
    id: uuid.UUID
    name: str | None
    status: str
    finished_at: datetime | None
    prompt_count: int
    contenders: list[dict[str, Any]]


async def run_state(connection: AsyncConnection, run_id: uuid.UUID) -> RunState | None:
    c = runs.c
    query = select(c.id, c.name, c.status, c.finished_at, c.prompt_count, c.contenders)
    row = (await connection.execute(query.where(c.id == run_id))).first()
    return RunState(*row) if row else None


async def contenders_of(
    connection: AsyncConnection, run_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    rows = await connection.execute(
        select(runs.c.id, runs.c.contenders).where(runs.c.id.in_(run_ids))
    )
    return {run_id: contenders for run_id, contenders in rows}


# Slots


@dataclass(frozen=True)
class Fill:
    next_position: int
    run_finished_at: datetime | None


async def fill_progress(connection: AsyncConnection, run_id: uuid.UUID, lock: bool) -> Fill | None:
    query = select(fills.c.next_position, fills.c.run_finished_at).where(fills.c.run_id == run_id)
    row = (await connection.execute(query.with_for_update() if lock else query)).first()
    return Fill(*row) if row else None


async def lock_fill(connection: AsyncConnection, run_id: uuid.UUID) -> Fill:
    """The run's fill progress, locked until the transaction ends (made if it has none)."""
    await connection.execute(
        pg_insert(fills).values(run_id=run_id, next_position=0).on_conflict_do_nothing()
    )
    found = await fill_progress(connection, run_id, lock=True)
    assert found is not None
    return found


async def save_fill(connection: AsyncConnection, run_id: uuid.UUID, fill: Fill) -> None:
    await connection.execute(
        update(fills)
        .where(fills.c.run_id == run_id)
        .values(next_position=fill.next_position, run_finished_at=fill.run_finished_at)
    )


_insert_slots = text(
    "INSERT INTO battle_slots (run_id, prompt_position, lo_response_id, hi_response_id, "
    "lo_contender, hi_contender) SELECT :run_id, * FROM unnest(:positions, :lo_ids, :hi_ids, "
    ":lo_contenders, :hi_contenders) ON CONFLICT DO NOTHING"
).bindparams(
    bindparam("run_id", type_=UUID(as_uuid=True)),
    bindparam("positions", type_=ARRAY(Integer)),
    bindparam("lo_ids", type_=ARRAY(BigInteger)),
    bindparam("hi_ids", type_=ARRAY(BigInteger)),
    bindparam("lo_contenders", type_=ARRAY(Integer)),
    bindparam("hi_contenders", type_=ARRAY(Integer)),
)


async def fill_slots(connection: AsyncConnection, run_id: uuid.UUID, first: int, stop: int) -> int:
    """Make the slots missing for prompts `first` to `stop - 1`: each two succeeded answers to
    one of them, by two contenders' first samples (a battle compares contenders, not one's
    samples). The answers are read in one range query on one table and paired here: a
    self-join, planned without statistics, re-read the range for every answer."""
    r = responses.c
    answers = await connection.execute(
        select(r.prompt_position, r.id, r.contender_index)
        .where(
            r.run_id == run_id,
            r.prompt_position >= first,
            r.prompt_position < stop,
            status_in(r.status, "succeeded"),
            r.sample == 0,
        )
        .order_by(r.prompt_position, r.contender_index)
    )
    columns: tuple[list[int], ...] = ([], [], [], [], [])
    for position, group in groupby(answers, key=lambda row: row[0]):
        for (_, lo, lo_index), (_, hi, hi_index) in combinations(list(group), 2):
            for column, value in zip(columns, (position, lo, hi, lo_index, hi_index), strict=True):
                column.append(value)
    if not columns[0]:
        return 0
    names = ("positions", "lo_ids", "hi_ids", "lo_contenders", "hi_contenders")
    result = await connection.execute(
        _insert_slots, {"run_id": run_id, **dict(zip(names, columns, strict=True))}
    )
    return int(result.rowcount)


@dataclass(frozen=True)
class Slot:
    id: int
    prompt_position: int
    lo_response_id: int
    hi_response_id: int
    votes: int


async def take_slot(
    connection: AsyncConnection, run_id: uuid.UUID, pair: tuple[int, int] | None
) -> Slot | None:
    """The free slot of the run (of the pair of contender indexes, if given) with the fewest
    votes, random among equals, locked; slots other transactions hold are skipped."""
    s = slots.c
    query = (
        select(s.id, s.prompt_position, s.lo_response_id, s.hi_response_id, s.votes)
        .where(s.run_id == run_id, or_(s.busy_until.is_(None), s.busy_until <= func.now()))
        .order_by(s.votes, s.random_key)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if pair is not None:
        query = query.where(s.lo_contender == pair[0], s.hi_contender == pair[1])
    row = (await connection.execute(query)).first()
    return Slot(*row) if row else None


# Battles


@dataclass(frozen=True)
class Battle:
    id: uuid.UUID
    run_id: uuid.UUID
    slot_id: int
    prompt_position: int
    a_response_id: int
    b_response_id: int
    expires_at: datetime


async def open_battle(
    connection: AsyncConnection, run_id: uuid.UUID, slot: Slot, a: int, b: int, ttl_s: float
) -> Battle:
    """A battle on `slot`, answer `a` on the left, `b` on the right; the slot is busy until
    the battle expires."""
    expires = func.now() + timedelta(seconds=ttl_s)
    expires_at = await connection.scalar(
        update(slots)
        .where(slots.c.id == slot.id)
        .values(busy_until=expires)
        .returning(slots.c.busy_until)
    )
    battle = Battle(uuid.uuid4(), run_id, slot.id, slot.prompt_position, a, b, expires_at)
    await connection.execute(
        insert(battles).values(
            id=battle.id,
            run_id=run_id,
            slot_id=slot.id,
            prompt_position=slot.prompt_position,
            a_response_id=a,
            b_response_id=b,
            expires_at=expires_at,
        )
    )
    return battle


async def shown(
    connection: AsyncConnection, battle: Battle
) -> tuple[tuple[str | None, str], dict[int, str]]:
    """The battle's prompt (key, text) and its two answers' outputs by response id."""
    p = prompts.c
    key, text = (
        await connection.execute(
            select(p.key, p.text).where(
                p.run_id == battle.run_id, p.position == battle.prompt_position
            )
        )
    ).one()
    outputs = await connection.execute(
        select(responses.c.id, responses.c.output).where(
            responses.c.id.in_([battle.a_response_id, battle.b_response_id])
        )
    )
    return (key, text), {row_id: output or "" for row_id, output in outputs}


async def get_battle(
    connection: AsyncConnection, battle_id: uuid.UUID
) -> tuple[Battle, bool, bool] | None:
    """The battle, whether it is still open (by the database's clock) and whether it has a
    vote; None if there is no such battle."""
    b = battles.c
    row = (
        await connection.execute(
            select(
                b.id,
                b.run_id,
                b.slot_id,
                b.prompt_position,
                b.a_response_id,
                b.b_response_id,
                b.expires_at,
                b.expires_at > func.now(),
                exists().where(votes.c.battle_id == b.id),
            ).where(b.id == battle_id)
        )
    ).first()
    if row is None:
        return None
    return Battle(*row[:7]), bool(row[7]), bool(row[8])


async def count_battle_vote(connection: AsyncConnection, battle: Battle) -> None:
    """The slot got a vote; it is free again unless another battle took it since."""
    s = slots.c
    await connection.execute(
        update(slots)
        .where(s.id == battle.slot_id)
        .values(
            votes=s.votes + 1,
            busy_until=case((s.busy_until == battle.expires_at, None), else_=s.busy_until),
        )
    )


# Votes


@dataclass(frozen=True)
class Answer:
    id: int
    run_id: uuid.UUID
    prompt_position: int
    contender_index: int
    status: str


async def answers(connection: AsyncConnection, ids: Sequence[int]) -> dict[int, Answer]:
    r = responses.c
    rows = await connection.execute(
        select(r.id, r.run_id, r.prompt_position, r.contender_index, r.status).where(r.id.in_(ids))
    )
    return {row[0]: Answer(*row) for row in rows}


async def prompts_pair(connection: AsyncConnection, a: Answer, b: Answer) -> bool:
    """Whether two answers of two runs answer paired prompts: the same key, or no key and
    the same text (as a diff pairs them, app/history/pairing.py)."""
    pa, pb = prompts.alias("pa"), prompts.alias("pb")
    same = or_(
        pa.c.key == pb.c.key,
        (pa.c.key.is_(None)) & (pb.c.key.is_(None)) & (pa.c.text == pb.c.text),
    )
    query = (
        select(same)
        .select_from(pa)
        .join(pb, (pb.c.run_id == b.run_id) & (pb.c.position == b.prompt_position))
        .where(pa.c.run_id == a.run_id, pa.c.position == a.prompt_position)
    )
    return bool(await connection.scalar(query))


async def insert_vote(
    connection: AsyncConnection,
    a: Answer,
    b: Answer,
    winner: str,
    voter: str,
    battle_id: uuid.UUID | None = None,
) -> tuple[int, datetime]:
    """The new vote's id and time. A battle's second vote breaks `uq_votes_battle_id`."""
    row = (
        await connection.execute(
            insert(votes)
            .values(
                run_id=a.run_id,
                other_run_id=b.run_id if b.run_id != a.run_id else None,
                prompt_position=a.prompt_position,
                a_response_id=a.id,
                b_response_id=b.id,
                a_contender=a.contender_index,
                b_contender=b.contender_index,
                winner=winner,
                voter=voter,
                battle_id=battle_id,
            )
            .returning(votes.c.id, votes.c.created_at)
        )
    ).one()
    return row[0], row[1]


@dataclass(frozen=True)
class StoredVote:
    run_id: uuid.UUID
    prompt_position: int
    a_contender: int
    b_contender: int
    winner: str
    voter: str
    judgement_id: int | None
    a_response_id: int
    b_response_id: int


async def votes_of(
    connection: AsyncConnection, run_ids: Sequence[uuid.UUID] | None
) -> list[StoredVote]:
    """The votes on two answers of one of these runs (None: of any run); votes across two
    runs are not among them."""
    v = votes.c
    query = (
        select(
            v.run_id,
            v.prompt_position,
            v.a_contender,
            v.b_contender,
            v.winner,
            v.voter,
            v.judgement_id,
            v.a_response_id,
            v.b_response_id,
        )
        .where(v.other_run_id.is_(None))
        .order_by(v.id)
    )
    if run_ids is not None:
        query = query.where(v.run_id.in_(run_ids))
    return [StoredVote(*row) for row in await connection.execute(query)]


@dataclass(frozen=True)
class VoteAcross:
    a_run_id: uuid.UUID  # the run of the answer shown as `a`
    a_response_id: int
    b_response_id: int
    winner: str
    voter: str
    judgement_id: int | None


async def votes_across(
    connection: AsyncConnection, runs: tuple[uuid.UUID, uuid.UUID]
) -> list[VoteAcross]:
    """The votes on an answer of one of two runs against one of the other, either way round."""
    v = votes.c
    query = select(
        v.run_id, v.a_response_id, v.b_response_id, v.winner, v.voter, v.judgement_id
    ).where(v.run_id.in_(runs), v.other_run_id.in_(runs), v.run_id != v.other_run_id)
    return [VoteAcross(*row) for row in await connection.execute(query)]
