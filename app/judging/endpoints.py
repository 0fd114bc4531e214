"""Judging's HTTP API: blind battles and votes, a model as judge, the leaderboard. Thin: each
route parses, calls a service, answers."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from app.access.auth import CallerDep
from app.errors import problems
from app.fields import Count, TagFilter
from app.judging import board, judge, service
from app.judging.schemas import (
    BattleOut,
    BattleRequest,
    BattleVote,
    DirectVote,
    JudgementsOut,
    JudgeRequest,
    LeaderboardOut,
    RubricOut,
    VoteOut,
    VoterFilter,
)
from app.judging.verdicts import PROMPT_TEMPLATE, RUBRIC
from app.runs.schemas import RunSummary
from app.state import StateDep

router = APIRouter(tags=["judging"])


@router.post(
    "/runs/{run_id}/battles",
    status_code=status.HTTP_201_CREATED,
    response_model=BattleOut,
    summary="Two answers to compare, blind",
    responses={
        201: {"description": "A battle: vote on it with `POST /battles/{id}/vote`."},
        409: {
            "description": "The run has no free pair of succeeded answers to battle.",
            **problems(409)[409],
        },
        **problems(400, 404, 415, 422),
    },
)
async def create_battle(
    run_id: uuid.UUID, state: StateDep, body: Annotated[BattleRequest | None, Body()] = None
) -> BattleOut:
    """Two succeeded answers to one prompt, on random sides, without saying whose: the prompt
    and pair with the fewest votes so far (random among equals), so that every pair gets a
    vote before any gets a second. The pair is held for the battle until it expires
    (`LLM_COMPARE_BATTLE_TTL_S`)."""
    return await service.new_battle(state, run_id, body.contenders if body else None)


@router.post(
    "/battles/{battle_id}/vote",
    response_model=VoteOut,
    summary="Vote on a battle; reveals it",
    responses={
        200: {"description": "The vote, with whose answer was on each side."},
        409: {
            "description": "The battle has a vote already, or expired.",
            **problems(409)[409],
        },
        **problems(400, 404, 415, 422),
    },
)
async def vote_on_battle(battle_id: uuid.UUID, body: BattleVote, state: StateDep) -> VoteOut:
    return await service.vote_on_battle(state, battle_id, body.winner, body.voter)


@router.post(
    "/votes",
    status_code=status.HTTP_201_CREATED,
    response_model=VoteOut,
    summary="Record a verdict reached elsewhere",
    responses={
        201: {"description": "The vote, with the contender of each answer."},
        **problems(400, 415, 422),
    },
)
async def vote_directly(body: DirectVote, state: StateDep, caller: CallerDep) -> VoteOut:
    """For a service that compared two stored answers itself (not blind): both must be
    succeeded answers to one prompt of one run, or to paired prompts of two runs (the same
    key, or no key and the same text): such a vote counts in the two runs' diff
    (`GET /runs/{a}/diff/{b}`, `win_rate`), not on the leaderboard. Answers carry their `id`
    in `GET /runs/{id}`, the diff and the export."""
    return await service.vote_directly(state, body, caller)


@router.post(
    "/runs/{run_id}/judge",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunSummary,
    summary="Have a model judge the run's answers",
    responses={
        202: {"description": "The judging run's summary; `Location` names it."},
        409: {
            "description": "No pair of succeeded answers is left for this judge to judge.",
            **problems(409)[409],
        },
        **problems(400, 402, 404, 415, 422),
    },
)
async def judge_run(
    run_id: uuid.UUID, body: JudgeRequest, state: StateDep, caller: CallerDep, response: Response
) -> RunSummary:
    """A judging run: each pair of succeeded answers to a prompt, judged in both orders, as
    a run of its own whose one contender is the judge (its progress at `GET /runs/{id}`, its
    verdicts at `GET /runs/{id}/judgements`). Both orders agreeing make a vote by
    `judge:MODEL`; disagreeing, a tie. Pairs this judge judged already are skipped,
    unless `again`: then they are judged anew, and its latest verdict on a pair counts."""
    summary = await judge.start(state, run_id, body, caller)
    response.headers["Location"] = f"/runs/{summary.id}"
    return summary


@router.get(
    "/runs/{run_id}/judgements",
    response_model=JudgementsOut,
    summary="A judging run's verdicts",
    responses={
        409: {"description": "The run is not a judging run.", **problems(409)[409]},
        **problems(404, 422),
    },
)
async def judgements(
    run_id: uuid.UUID,
    state: StateDep,
    offset: Annotated[Count, Query(description="First judgement to show.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="Judgements to show.")] = 100,
) -> JudgementsOut:
    """Each judge call with its verdict, or why it has none (the judge's answer is kept), and
    the counts: pending, judged, failed, votes made, and how many of those the two orders
    disagreed on."""
    return await judge.judgements_of(state, run_id, offset, limit)


@router.get("/judge/rubric", response_model=RubricOut, summary="The default rubric")
async def rubric() -> RubricOut:
    return RubricOut(rubric=RUBRIC, prompt=PROMPT_TEMPLATE)


@router.get(
    "/leaderboard",
    response_model=LeaderboardOut,
    summary="Contenders ranked by their votes",
    responses=problems(404, 422),
)
async def leaderboard(
    state: StateDep,
    caller: CallerDep,
    run: Annotated[list[uuid.UUID] | None, Query(description="A run's id; repeatable.")] = None,
    tag: Annotated[
        list[TagFilter] | None,
        Query(description="`key:value`: the runs with every such tag; repeatable."),
    ] = None,
    voter: Annotated[
        VoterFilter,
        Query(description="Whose votes to score: `people`, `judge:MODEL` or `all`."),
    ] = "all",
    bootstrap: Annotated[
        int, Query(ge=0, le=10_000, description="Resamples of the intervals (0: none).")
    ] = 1000,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1, description="Of the resampling.")] = 0,
) -> LeaderboardOut:
    """Bradley–Terry scores on the Elo scale with seeded 95% bootstrap intervals, Wilson
    intervals of each pair's win rate, people's position bias, each judge's position
    inconsistency and its agreement with people. The runs named by `run` and those with
    every `tag` count (neither: every run with votes); a contender is its label."""
    tags = {key: value for key, _, value in (t.partition(":") for t in tag or [])}
    return await board.board(state, run or [], tags, voter, bootstrap, seed, caller.visible_project)
