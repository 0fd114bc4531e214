"""The rules of blind battles and votes.

A battle shows two succeeded answers to one prompt, on random sides, without saying whose
they are. The service picks the prompt and pair with the fewest votes cast in battles so far
(random among equals), so every pair gets a vote before any gets a second. An open battle
holds its pair until it expires (`LLM_COMPARE_BATTLE_TTL_S`); a vote on it reveals whose the
answers were, and a second vote on it is refused by the votes table itself (`battle_id` is
unique), so concurrent voters can never count twice.

The pairs are made lazily, in passes over the run's prompts, a range at a time, only when no
pair made so far is without a vote: a battle on a run of 10,000 prompts x 16 contenders never
waits for its 1.2 million pairs. A run that changed since a pass began (answers arrived, or a
retry) gets another pass when the pairs it has are all voted on.
"""

import random
import uuid
from datetime import datetime
from functools import partial

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.access.caller import OPEN, Caller
from app.access.repository import run_project
from app.db.engine import in_transaction
from app.domain import FINISHED_STATUSES
from app.errors import ConflictError, InvalidFieldError, NotFoundError
from app.judging import repository as repo
from app.judging.repository import Battle, Fill, RunState, Slot
from app.judging.schemas import (
    BattleAnswer,
    BattleOut,
    BattlePrompt,
    DirectVote,
    VotedAnswer,
    VoteOut,
)
from app.judging.voters import people_voter, stored_voter
from app.state import ServiceState

# Pairs made per range of prompts: a range costs about 0.15 s on a 2-core machine.
FILL_PAIRS = 20_000
# Ranges one request may fill before it settles for a pair that has votes already.
FILL_RANGES_PER_REQUEST = 5

_sides = random.SystemRandom()


def run_not_found(run_id: uuid.UUID) -> NotFoundError:
    return NotFoundError(f"no run with id {run_id}")


def contender_pair(run: RunState, labels: list[str] | None, field: str) -> tuple[int, int] | None:
    """The indexes of two of the run's contenders, in run order, from their labels."""
    if labels is None:
        return None
    index = {c["label"]: i for i, c in enumerate(run.contenders)}
    found = []
    for k, label in enumerate(labels):
        if label not in index:
            known = ", ".join(repr(c["label"]) for c in run.contenders)
            raise InvalidFieldError(
                f"run {run.id} has no contender {label!r}; its contenders: {known}",
                field=f"{field}[{k}]",
            )
        found.append(index[label])
    if found[0] == found[1]:
        raise InvalidFieldError("name two different contenders", field=f"{field}[1]")
    lo, hi = sorted(found)
    return lo, hi


# Battles


async def new_battle(state: ServiceState, run_id: uuid.UUID, labels: list[str] | None) -> BattleOut:
    """A battle on the free pair with the fewest votes; 409 when there is none."""
    async with state.engine.connect() as connection:
        run = await repo.run_state(connection, run_id)
    if run is None:
        raise run_not_found(run_id)
    pair = contender_pair(run, labels, "contenders")
    ranges = 0
    while True:
        # One transaction takes a slot (or sees it needs more), another makes more: the
        # slot stays locked only as long as it takes to open its battle.
        open_one = partial(
            _open,
            run=run,
            pair=pair,
            ttl_s=state.settings.battle_ttl_s,
            may_fill=ranges < FILL_RANGES_PER_REQUEST,
        )
        opened = await in_transaction(state.engine, open_one)
        if opened is not None:
            return opened
        ranges += 1
        if not await in_transaction(state.engine, lambda c: _fill_more(c, run)):
            ranges = FILL_RANGES_PER_REQUEST  # nothing more to make: take what there is


async def _open(
    connection: AsyncConnection,
    run: RunState,
    pair: tuple[int, int] | None,
    ttl_s: float,
    may_fill: bool,
) -> BattleOut | None:
    """A battle on the best free slot; None when more slots should be made first."""
    slot = await repo.take_slot(connection, run.id, pair)
    if slot is None or slot.votes > 0:
        if may_fill and _needs_more(await repo.fill_progress(connection, run.id, lock=False), run):
            return None
        if slot is None:
            which = "these two contenders" if pair is not None else "two contenders"
            raise ConflictError(
                f"run {run.id} has no free pair of succeeded answers of {which} to battle: "
                "fewer than two succeeded answers to any prompt, or every pair is in an open "
                "battle"
            )
    return await _start(connection, run, slot, ttl_s)


async def _start(connection: AsyncConnection, run: RunState, slot: Slot, ttl_s: float) -> BattleOut:
    a, b = slot.lo_response_id, slot.hi_response_id
    if _sides.random() < 0.5:
        a, b = b, a
    battle = await repo.open_battle(connection, run.id, slot, a, b, ttl_s)
    (key, text), outputs = await repo.shown(connection, battle)
    return BattleOut(
        id=battle.id,
        prompt=BattlePrompt(index=battle.prompt_position, key=key, text=text),
        a=BattleAnswer(output=outputs[a]),
        b=BattleAnswer(output=outputs[b]),
        expires_at=battle.expires_at,
    )


def _pass_over(fill: Fill, run: RunState) -> bool:
    """Whether the current pass has seen the run as it is now, to its last prompt."""
    return (
        fill.next_position >= run.prompt_count
        and run.status in FINISHED_STATUSES
        and fill.run_finished_at == run.finished_at
    )


def _needs_more(fill: Fill | None, run: RunState) -> bool:
    return fill is None or not _pass_over(fill, run)


async def _fill_more(connection: AsyncConnection, run: RunState) -> bool:
    """Make the pairs of the next range of prompts; False when every pair is made."""
    current = await repo.run_state(connection, run.id)
    if current is None:
        raise run_not_found(run.id)
    fill = await repo.lock_fill(connection, run.id)
    if _pass_over(fill, current):
        return False
    if fill.next_position >= current.prompt_count or fill.next_position == 0:
        fill = Fill(next_position=0, run_finished_at=current.finished_at)  # a new pass
    pairs_per_prompt = max(1, len(current.contenders) * (len(current.contenders) - 1) // 2)
    stop = min(current.prompt_count, fill.next_position + max(1, FILL_PAIRS // pairs_per_prompt))
    await repo.fill_slots(connection, run.id, fill.next_position, stop)
    await repo.save_fill(connection, run.id, Fill(stop, fill.run_finished_at))
    return True


# Votes


async def vote_on_battle(
    state: ServiceState, battle_id: uuid.UUID, winner: str, voter: str | None
) -> VoteOut:
    """Record the vote and reveal the battle; 409 if it expired or has a vote already."""

    async def work(connection: AsyncConnection) -> VoteOut:
        found = await repo.get_battle(connection, battle_id)
        if found is None:
            raise NotFoundError(f"no battle with id {battle_id}")
        battle, is_open, voted = found
        if voted:
            raise _already_voted(battle)
        if not is_open:
            raise ConflictError(
                f"battle {battle.id} expired at {battle.expires_at.isoformat()}; "
                f"ask for a new one (POST /runs/{battle.run_id}/battles)"
            )
        answers = await repo.answers(connection, [battle.a_response_id, battle.b_response_id])
        a, b = answers[battle.a_response_id], answers[battle.b_response_id]
        stored = people_voter(voter)
        vote_id, at = await repo.insert_vote(connection, a, b, winner, stored, battle.id)
        await repo.count_battle_vote(connection, battle)
        return await _reveal(connection, vote_id, at, a, b, winner, stored, battle.id)

    try:
        return await in_transaction(state.engine, work)
    except IntegrityError as exc:  # a concurrent vote on the same battle committed first
        if "uq_votes_battle_id" in str(exc.orig):
            raise ConflictError(f"battle {battle_id} already has a vote") from None
        raise


def _already_voted(battle: Battle) -> ConflictError:
    return ConflictError(
        f"battle {battle.id} already has a vote; ask for a new one "
        f"(POST /runs/{battle.run_id}/battles)"
    )


async def vote_directly(state: ServiceState, vote: DirectVote, caller: Caller = OPEN) -> VoteOut:
    """Record a verdict reached elsewhere on two stored answers to one prompt (of a run the
    caller sees: others' answers are as if they did not exist), or to paired prompts of two
    runs: such a vote counts in their diff (app/history/wins.py), not on the leaderboard."""

    async def work(connection: AsyncConnection) -> VoteOut:
        answers = await repo.answers(connection, [vote.a, vote.b])
        for side in ("a", "b"):
            response_id = getattr(vote, side)
            answer = answers.get(response_id)
            if answer is None or not caller.sees(await run_project(connection, answer.run_id)):
                raise InvalidFieldError(f"no response with id {response_id}", field=side)
        a, b = answers[vote.a], answers[vote.b]
        if a.id == b.id:
            raise InvalidFieldError("a vote compares two different answers", field="b")
        if not await _same_prompt(connection, a, b):
            raise InvalidFieldError(
                f"response {b.id} answers prompt {b.prompt_position} of run {b.run_id}, "
                f"response {a.id} prompt {a.prompt_position} of run {a.run_id}: a vote "
                "compares two answers to one prompt (of one run, or paired prompts of two: "
                "the same key, or no key and the same text)",
                field="b",
            )
        for side, answer in (("a", a), ("b", b)):
            if answer.status != "succeeded":
                raise InvalidFieldError(
                    f"response {answer.id} is {answer.status}; only succeeded answers get votes",
                    field=side,
                )
        voter = stored_voter(vote.voter)
        vote_id, at = await repo.insert_vote(connection, a, b, vote.winner, voter)
        return await _reveal(connection, vote_id, at, a, b, vote.winner, voter, None)

    return await in_transaction(state.engine, work)


async def _same_prompt(connection: AsyncConnection, a: repo.Answer, b: repo.Answer) -> bool:
    if a.run_id == b.run_id:
        return a.prompt_position == b.prompt_position
    return await repo.prompts_pair(connection, a, b)


async def _reveal(
    connection: AsyncConnection,
    vote_id: int,
    at: datetime,
    a: repo.Answer,
    b: repo.Answer,
    winner: str,
    voter: str,
    battle_id: uuid.UUID | None,
) -> VoteOut:
    contenders = await repo.contenders_of(connection, [a.run_id, b.run_id])

    def answer(side: repo.Answer) -> VotedAnswer:
        c = contenders[side.run_id][side.contender_index]
        return VotedAnswer(response_id=side.id, label=c["label"], model=c["model"])

    return VoteOut.model_validate(
        {
            "id": vote_id,
            "run_id": a.run_id,
            "other_run_id": b.run_id if b.run_id != a.run_id else None,
            "prompt_index": a.prompt_position,
            "battle_id": battle_id,
            "winner": winner,
            "voter": voter,
            "created_at": at,
            "a": answer(a),
            "b": answer(b),
        }
    )
