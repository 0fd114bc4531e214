"""The judging pages: the arena (blind votes on a run's answers) and the leaderboard.

The arena's page is a frame; its script asks these routes for a battle and sends each vote,
and gets HTML back, rendered here from judging's own services (app/judging/service.py) with
the same autoescaping as every page: the answers, untrusted text, never go through a script as
markup. Those two routes change state, so they are POSTs, and the service's guard against
cross-site requests (app/server/guards.py, `JsonOnly`) refuses any that a page elsewhere could
send: a vote is JSON, and asking for a battle carries `X-Requested-With`.
"""

import uuid

from fastapi import APIRouter, Request, Response

from app.access.auth import CallerDep
from app.errors import ConflictError, NotFoundError
from app.judging import board, service
from app.judging.schemas import BattleVote
from app.runs import service as runs
from app.state import SessionDep, StateDep
from app.web.boards import BAR_WIDTH, score_bars, win_matrix
from app.web.forms import LeaderboardQuery, read_query
from app.web.pages import UI, error_page, render

router = APIRouter(include_in_schema=False)

# The leaderboard's bootstrap, as the API's default: the same votes give the same intervals.
BOOTSTRAP = 1000
SEED = 0

# The keys the arena answers to, with their votes (also on the buttons, `aria-keyshortcuts`).
VOTE_KEYS = (("a", "A is better", "A"), ("b", "B is better", "B"))
OTHER_KEYS = (("tie", "Tie", "T"), ("both_bad", "Both are bad", "X"))


@router.get(UI + "/runs/{run_id}/arena")
async def arena_page(run_id: str, request: Request, session: SessionDep) -> Response:
    try:
        run = await runs.get_summary(session, uuid.UUID(run_id))
    except ValueError:
        return error_page(request, NotFoundError(f"no run with id {run_id}"))
    except NotFoundError as exc:
        return error_page(request, exc)
    return render(request, "arena.html", run=run, keys=(*VOTE_KEYS, *OTHER_KEYS))


@router.post(UI + "/runs/{run_id}/arena/battles")
async def arena_battle(run_id: uuid.UUID, request: Request, state: StateDep) -> Response:
    """The next battle of the run, as the arena shows it; 409 and why, when there is none."""
    try:
        battle = await service.new_battle(state, run_id, None)
    except ConflictError as exc:
        return render(
            request, "_arena_none.html", status_code=409, run_id=run_id, detail=exc.detail
        )
    return render(request, "_battle.html", battle=battle, keys=(*VOTE_KEYS, *OTHER_KEYS))


@router.post(UI + "/battles/{battle_id}/vote")
async def arena_vote(
    battle_id: uuid.UUID, body: BattleVote, request: Request, state: StateDep
) -> Response:
    """The vote recorded and the battle revealed; 409 and why when it expired or had a vote."""
    try:
        vote = await service.vote_on_battle(state, battle_id, body.winner, body.voter)
    except ConflictError as exc:
        return render(request, "_reveal.html", status_code=409, vote=None, detail=exc.detail)
    return render(request, "_reveal.html", vote=vote, detail="")


@router.get(UI + "/leaderboard")
async def leaderboard_page(request: Request, state: StateDep, caller: CallerDep) -> Response:
    query, errors = read_query(LeaderboardQuery, request.query_params)
    runs_named = [query.run] if query.run is not None else []
    try:
        scores = await board.board(
            state, runs_named, query.tags(), query.voter, BOOTSTRAP, SEED, caller.visible_project
        )
    except NotFoundError as exc:
        return error_page(request, exc)
    bars, ticks = score_bars(scores)
    judges = {j.judge for j in scores.judge_inconsistency} | {query.voter} - {"all", "people"}
    return render(
        request,
        "leaderboard.html",
        status_code=422 if errors else 200,
        query=query,
        errors=errors,
        board=scores,
        bars=bars,
        ticks=ticks,
        width=BAR_WIDTH,
        matrix=win_matrix(scores),
        voters=["all", "people", *sorted(judges)],
    )
