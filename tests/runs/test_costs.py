"""Costs through the API, against the fake OpenAI server and its token counts: each answer's
cost at its model's price, the sums per contender and per run, unknown (null) without a
price, dry runs that store and send nothing, and budgets that end a run `partial`."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.config import Settings
from tests.support.app import serve
from tests.support.catalogues import OUTPUT_PER_MTOK, priced_catalogue
from tests.support.fakes.openai_server import FakeOpenAI

PROMPTS = [f"prompt number {i} of ten" for i in range(10)]


async def _finished(client: httpx.AsyncClient, body: dict[str, Any]) -> Any:
    accepted = await client.post("/compare", params={"wait": 30}, json=body)
    assert accepted.status_code == 200, accepted.text
    run = await client.get(accepted.headers["location"], params={"prompt_limit": 1000})
    assert run.status_code == 200, run.text
    return run.json()


def _cost(answer: dict[str, Any]) -> float:
    return float(answer["completion_tokens"]) * OUTPUT_PER_MTOK / 1_000_000


@pytest.fixture
def priced(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> Settings:
    return make_settings(catalogue_file=priced_catalogue(tmp_path, fake_openai.url))


async def test_each_answer_costs_its_tokens_at_its_price_and_runs_sum_them(
    priced: Settings,
) -> None:
    async with serve(priced) as client:
        models = (await client.get("/models")).json()
        assert {m["name"]: m["price"] for m in models}["unpriced"] is None
        run = await _finished(client, {"prompts": PROMPTS[:3], "models": ["priced", "unpriced"]})
        answers = [p["responses"] for p in run["prompts"]]
        assert all(a["priced"]["completion_tokens"] > 0 for a in answers)
        for a in answers:
            assert a["priced"]["cost_usd"] == pytest.approx(_cost(a["priced"]))
            assert a["unpriced"]["cost_usd"] is None  # unknown, never 0
        priced_stats, unpriced_stats = run["contenders"]
        assert priced_stats["price"]["output_per_mtok"] == OUTPUT_PER_MTOK
        assert priced_stats["cost_usd"] == pytest.approx(sum(_cost(a["priced"]) for a in answers))
        assert unpriced_stats["cost_usd"] is None
        assert run["cost_usd"] is None  # part of it is unknown

        alone = await _finished(client, {"prompts": PROMPTS[:3], "models": ["priced"]})
        total = sum(_cost(p["responses"]["priced"]) for p in alone["prompts"])
        assert total > 0
        assert alone["cost_usd"] == pytest.approx(total)
        listed = (await client.get("/runs")).json()["items"]
        assert {r["id"]: r["cost_usd"] for r in listed} == {
            alone["id"]: pytest.approx(total),
            run["id"]: None,
        }


async def test_a_dry_run_stores_nothing_and_calls_nothing(
    priced: Settings, fake_openai: FakeOpenAI
) -> None:
    async with serve(priced) as client:
        body = {
            "prompts": PROMPTS[:4],
            "models": ["priced", "unpriced"],
            "params": {"max_new_tokens": 8},
        }
        answer = await client.post("/compare", params={"dry_run": "true"}, json=body)
        assert answer.status_code == 200, answer.text
        plan = answer.json()
        assert (plan["pairs"], plan["prompt_count"]) == (8, 4)
        priced_plan, unpriced_plan = plan["contenders"]
        # Counted with gpt-4o-mini's own encoding: 6 tokens a prompt, and the chat format's 6.
        assert priced_plan["tokenizer"] == "o200k_base"
        assert priced_plan["prompt_tokens"] == 4 * (6 + 6)
        assert unpriced_plan["tokenizer"] == "estimate"
        assert priced_plan["max_completion_tokens"] == 8
        assert priced_plan["max_cost_usd"] == pytest.approx(4 * 8 * OUTPUT_PER_MTOK / 1e6)
        assert unpriced_plan["max_cost_usd"] is None
        assert plan["max_cost_usd"] is None
        refused = await client.post(
            "/compare", params={"dry_run": "true"}, json={**body, "models": ["nope"]}
        )
        assert refused.status_code == 422
        assert (await client.get("/runs")).json()["items"] == []
    assert fake_openai.requests == []


async def test_a_run_with_a_budget_for_half_its_pairs_ends_partial_within_it(
    priced: Settings,
) -> None:
    # Each answer is cut at 4 tokens, so each pair costs its worst case: 0.004 USD.
    pair = 4 * OUTPUT_PER_MTOK / 1e6
    budget = 5.5 * pair
    async with serve(priced) as client:
        run = await _finished(
            client,
            {
                "prompts": PROMPTS,
                "models": ["priced"],
                "params": {"max_new_tokens": 4},
                "budget_usd": budget,
            },
        )
        assert run["status"] == "partial"
        assert run["budget_usd"] == budget
        answers = [p["responses"]["priced"] for p in run["prompts"]]
        done = [a for a in answers if a["status"] == "succeeded"]
        over = [a for a in answers if a["status"] != "succeeded"]
        assert len(done) == 5
        assert {(a["status"], a["error"]) for a in over} == {("cancelled", "budget exhausted")}
        assert all(a["attempts"] == 0 for a in over)  # never sent
        assert run["cost_usd"] == pytest.approx(5 * pair)
        assert run["cost_usd"] <= budget


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"models": ["unpriced"]}, "has no price"),
        ({"params": {}}, "max_new_tokens"),
        ({"budget_usd": 0.001}, "cannot pay for one pair"),
    ],
)
async def test_a_budget_that_cannot_be_kept_is_refused(
    priced: Settings, change: dict[str, Any], says: str
) -> None:
    body = {
        "prompts": PROMPTS[:2],
        "models": ["priced"],
        "params": {"max_new_tokens": 4},
        "budget_usd": 1.0,
        **change,
    }
    async with serve(priced) as client:
        for dry_run in ("false", "true"):
            refused = await client.post("/compare", params={"dry_run": dry_run}, json=body)
            assert refused.status_code == 422, refused.text
            (error,) = refused.json()["errors"]
            assert error["field"] == "budget_usd"
            assert says in error["message"]
        assert (await client.get("/runs")).json()["items"] == []


async def _store_runs(db_url: str, costs: list[float | None]) -> list[tuple[float | None, str]]:
    """Finished runs of these costs, stored directly; their (cost, id)."""
    connection = await asyncpg.connect(db_url)
    try:
        rows = await connection.fetch(
            "INSERT INTO runs (id, status, params, contenders, models, prompt_count, cost_usd) "
            "SELECT gen_random_uuid(), 'succeeded', '{}', '[]', '{}', 0, c "
            "FROM unnest($1::float8[]) c RETURNING cost_usd, id::text",
            costs,
        )
    finally:
        await connection.close()
    return [(row["cost_usd"], row["id"]) for row in rows]


async def _walk(client: httpx.AsyncClient, **params: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = await client.get(
            "/runs", params={**params, "limit": 3, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        ids += [run["id"] for run in page.json()["items"]]
        if (cursor := page.json()["next_cursor"]) is None:
            return ids


async def test_runs_are_listed_and_filtered_by_cost_page_by_page(
    client: httpx.AsyncClient, db_url: str
) -> None:
    # Ties, so that pages must break them by id; unknown costs, which no cost order lists.
    stored = await _store_runs(db_url, [0.5, 0.25, None, 0.5, 1.0, 0.5, 0.0, None, 0.25, 2.0])
    known = [(cost, run_id) for cost, run_id in stored if cost is not None]
    costliest = [run_id for _, run_id in sorted(known, reverse=True)]
    assert await _walk(client, sort="-cost_usd") == costliest
    cheapest = [run_id for _, run_id in sorted(known)]
    assert await _walk(client, sort="cost_usd") == cheapest
    between = [run_id for cost, run_id in sorted(known) if 0.25 <= cost <= 0.5]
    assert await _walk(client, sort="cost_usd", min_cost_usd=0.25, max_cost_usd=0.5) == between
    assert len(await _walk(client)) == len(stored)  # newest first lists every run
    first = (await client.get("/runs", params={"sort": "-cost_usd", "limit": 1})).json()
    wrong = await client.get("/runs", params={"cursor": first["next_cursor"]})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "cursor"
