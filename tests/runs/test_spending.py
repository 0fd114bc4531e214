"""Monthly budgets: once the runs created this month cost the limit, new runs are refused
with a 402 problem that says when the budget resets; dry runs still answer."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from app.config import Settings
from app.errors import PaymentRequiredError
from app.runs.spending import check_monthly_budget, month_of
from tests.support.app import serve
from tests.support.catalogues import OUTPUT_PER_MTOK, priced_catalogue
from tests.support.fakes.openai_server import FakeOpenAI


@pytest.mark.parametrize(
    ("now", "start", "resets"),
    [
        (datetime(2026, 11, 26, 13, tzinfo=UTC), datetime(2026, 11, 1), datetime(2026, 12, 1)),
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), datetime(2026, 12, 1), datetime(2027, 1, 1)),
        (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 1), datetime(2027, 2, 1)),
    ],
)
def test_a_month_runs_from_its_first_day_to_the_next_months(
    now: datetime, start: datetime, resets: datetime
) -> None:
    assert month_of(now) == (start.replace(tzinfo=UTC), resets.replace(tzinfo=UTC))


def test_a_spent_budget_says_when_it_resets() -> None:
    now = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    check_monthly_budget(0.99, 1.0, now)  # not yet spent
    with pytest.raises(PaymentRequiredError) as refused:
        check_monthly_budget(1.0, 1.0, now)
    assert refused.value.resets_at == "2027-01-01T00:00:00+00:00"
    assert "resets at 2027-01-01T00:00:00+00:00" in refused.value.detail


async def test_new_runs_are_refused_once_the_month_is_spent(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    limit = 3 * 4 * OUTPUT_PER_MTOK / 1e6  # three answers of 4 tokens
    settings = make_settings(
        catalogue_file=priced_catalogue(tmp_path, fake_openai.url), monthly_budget_usd=limit
    )
    body = {"prompts": ["a b c d e"] * 3, "models": ["priced"], "params": {"max_new_tokens": 4}}
    async with serve(settings) as client:
        first = await client.post("/compare", params={"wait": 30}, json=body)
        assert first.status_code == 200, first.text
        assert first.json()["cost_usd"] == pytest.approx(limit)
        refused = await client.post("/compare", json=body)
        assert refused.status_code == 402, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        _, resets = month_of(datetime.now(UTC))
        assert refused.json()["resets_at"] == resets.isoformat()
        assert "monthly budget" in refused.json()["detail"]
        planned = await client.post("/compare", params={"dry_run": "true"}, json=body)
        assert planned.status_code == 200
        assert len((await client.get("/runs")).json()["items"]) == 1


async def test_a_projects_own_monthly_budget_refuses_its_runs(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI, db_url: str
) -> None:
    limit = 3 * 4 * OUTPUT_PER_MTOK / 1e6  # three answers of 4 tokens; the service has none
    settings = make_settings(catalogue_file=priced_catalogue(tmp_path, fake_openai.url))
    body = {"prompts": ["a b c d e"] * 3, "models": ["priced"], "params": {"max_new_tokens": 4}}
    connection = await asyncpg.connect(db_url)
    try:
        # While auth is off every run is the default project's: give it a budget.
        await connection.execute(
            "UPDATE projects SET monthly_budget_usd = $1 WHERE name = 'default'", limit
        )
    finally:
        await connection.close()
    async with serve(settings) as client:
        listed = (await client.get("/projects")).json()
        assert [p["monthly_budget_usd"] for p in listed if p["name"] == "default"] == [limit]
        first = await client.post("/compare", params={"wait": 30}, json=body)
        assert first.status_code == 200, first.text
        refused = await client.post("/compare", json=body)
        assert refused.status_code == 402, refused.text
        assert "monthly budget" in refused.json()["detail"]
