"""Monthly budgets: once what the runs created this calendar month (UTC) cost reaches the
limit, new runs are refused with a 402 problem that says when the month, and the budget,
resets. A run already going is not stopped: its own `budget_usd` bounds it.

The limit and the runs it covers are parameters, so that one check serves the service's
`LLM_COMPARE_MONTHLY_BUDGET_USD` over every run and a project's own budget over its runs.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import ProjectRow, RunRow
from app.errors import PaymentRequiredError
from app.runs import repository as runs_repo


def month_of(now: datetime) -> tuple[datetime, datetime]:
    """The start of `now`'s calendar month (UTC) and of the next."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start, following


def check_monthly_budget(spent_usd: float, limit_usd: float, now: datetime) -> None:
    """Refuse new runs once `spent_usd` this month reached `limit_usd`."""
    if spent_usd >= limit_usd:
        _, resets = month_of(now)
        raise PaymentRequiredError(
            f"the monthly budget of {limit_usd:g} USD is spent ({spent_usd:.6g} USD on runs "
            f"created this month); it resets at {resets.isoformat()}",
            resets_at=resets.isoformat(),
        )


async def enforce_monthly_budget(
    session: AsyncSession,
    limit_usd: float | None,
    scope: ColumnElement[bool] | None = None,
    now: datetime | None = None,
) -> None:
    """Refuse a new run if the runs in `scope` spent `limit_usd` this month (None: no limit)."""
    if limit_usd is None:
        return
    now = now or datetime.now(UTC)
    start, _ = month_of(now)
    check_monthly_budget(await runs_repo.spent_since(session, start, scope), limit_usd, now)


async def enforce_budgets(
    session: AsyncSession, project_id: uuid.UUID, service_limit_usd: float | None
) -> None:
    """Refuse a new run of this project if the service's monthly budget is spent (over every
    run) or the project's own (over its runs)."""
    await enforce_monthly_budget(session, service_limit_usd)
    own = await session.scalar(
        select(ProjectRow.monthly_budget_usd).where(ProjectRow.id == project_id)
    )
    await enforce_monthly_budget(session, own, RunRow.project_id == project_id)
