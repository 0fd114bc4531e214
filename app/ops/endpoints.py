"""Liveness, readiness and metrics."""

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.db.migrate import current_revisions, head_revisions
from app.ops.schemas import Health
from app.state import StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="The database is reachable and migrated, and the dispatcher makes progress",
    responses={503: {"model": Health}},
)
async def readyz(state: StateDep) -> Health | JSONResponse:
    try:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        current = await current_revisions(state.engine)
    except (SQLAlchemyError, OSError) as exc:
        body = Health(status="unavailable", detail={"database": type(exc).__name__})
        return JSONResponse(body.model_dump(), status_code=503)
    heads = head_revisions()
    if state.dispatcher is not None and (stalled := state.dispatcher.stalled()):
        body = Health(status="unavailable", detail={"dispatcher": {"stalled": stalled}})
        return JSONResponse(body.model_dump(), status_code=503)
    if current != heads:
        body = Health(
            status="unavailable",
            detail={"migrations": {"current": sorted(current), "head": sorted(heads)}},
        )
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", detail={"migrations": sorted(current)})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
