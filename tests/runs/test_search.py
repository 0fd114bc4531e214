"""GET /runs?q=: runs whose prompts or outputs hold the words, through the search indexes."""

import uuid
from typing import Any

import asyncpg
import httpx

from app.db.engine import create_engine
from app.runs.repository import PROBED_PAGES, RunFilters, runs_query


async def _run(client: httpx.AsyncClient, prompt: str, name: str, template: str = "raw") -> str:
    body = {"prompts": [prompt], "models": [{"model": "echo", "template": template}], "name": name}
    response = await client.post("/compare", params={"wait": 10}, json=body)
    assert response.json()["status"] == "succeeded"
    run_id: str = response.json()["id"]
    return run_id


async def _found(client: httpx.AsyncClient, **params: Any) -> set[str]:
    response = await client.get("/runs", params=params)
    assert response.status_code == 200, response.text
    return {run["name"] for run in response.json()["items"]}


async def test_q_finds_runs_by_words_in_prompts_and_outputs(client: httpx.AsyncClient) -> None:
    await _run(client, "Tell me how to train my dog to sit", "dog")
    await _run(client, "What do you think of Mars?", "mars")
    # Echo answers with what it was sent: "[INST] ... [/INST]" is only in this run's output.
    await _run(client, "Who is the boss of Twitter?", "twitter", template="llama2-chat")

    assert await _found(client, q="dog") == {"dog"}
    assert await _found(client, q="DOG") == {"dog"}
    assert await _found(client, q="mars") == {"mars"}
    assert await _found(client, q="INST") == {"twitter"}
    assert await _found(client, q='"train my dog"') == {"dog"}
    assert await _found(client, q='"dog my train"') == set()
    assert await _found(client, q="dog or mars") == {"dog", "mars"}
    assert await _found(client, q="of -mars") == {"twitter"}
    assert await _found(client, q="elephant") == set()
    assert await _found(client, q="dog", status="failed") == set()


async def test_q_pages_like_any_other_filter(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await _run(client, f"shared words, prompt {i}", f"run{i}")
    await _run(client, "something else", "other")
    first = (await client.get("/runs", params={"q": "shared", "limit": 3})).json()
    second = (
        await client.get(
            "/runs", params={"q": "shared", "limit": 3, "cursor": first["next_cursor"]}
        )
    ).json()
    names = [r["name"] for r in first["items"] + second["items"]]
    assert names == [f"run{i}" for i in reversed(range(5))]
    assert second["next_cursor"] is None


async def test_a_rare_word_past_the_probed_runs_is_found_from_its_matches(
    client: httpx.AsyncClient,
) -> None:
    """The newest runs are probed, PROBED_PAGES pages of them; matches older than
    those are found from the matches themselves, and pages go on from there."""
    await _run(client, "the oldest zebra", "zebra0")
    await _run(client, "another zebra", "zebra1")
    for i in range(2 * PROBED_PAGES + 1):  # more than the probed pages of 2 (limit 1, + 1)
        await _run(client, f"nothing to see {i}", f"plain{i}")
    names: list[str] = []
    cursor: str | None = None
    for _ in range(3):
        params: dict[str, str | int] = {"q": "zebra", "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/runs", params=params)).json()
        names += [r["name"] for r in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert names == ["zebra1", "zebra0"]
    assert cursor is None
    assert await _found(client, q="nothing", limit=3) == {"plain8", "plain7", "plain6"}


async def test_q_is_answered_from_the_search_indexes(db_url: str) -> None:
    query = runs_query(RunFilters(text="dog"), 50, None)
    dialect = create_engine(db_url).sync_engine.dialect
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    connection = await asyncpg.connect(db_url)
    try:
        # The tables are tiny here, so tell the planner a scan is out of the question: if the
        # query's expression did not match the indexes', it would have to scan anyway.
        await connection.execute("SET enable_seqscan = off")
        plan = "\n".join(row[0] for row in await connection.fetch(f"EXPLAIN {sql}"))
    finally:
        await connection.close()
    assert "ix_prompts_search" in plan, plan
    assert "ix_responses_search" in plan, plan
    assert "Seq Scan on prompts" not in plan, plan
    assert "Seq Scan on responses" not in plan, plan


async def test_a_search_with_nothing_to_find_is_refused(client: httpx.AsyncClient) -> None:
    """Only negations would read every prompt and answer: refused, like web search does."""
    await _run(client, "Tell me how to train my dog to sit", "dog")
    for q in ("-zzz", "-dog -cat", "dog or -cat", "!!", "-"):
        response = await client.get("/runs", params={"q": q})
        assert response.status_code == 422, (q, response.text)
        assert response.json()["errors"][0]["field"] == "q"
    assert await _found(client, q="dog -cat") == {"dog"}


async def test_a_search_in_cost_order_probes_and_pages_in_that_order(
    client: httpx.AsyncClient, database: asyncpg.Connection
) -> None:
    """Probing follows the page's order, and so does the rest of a rare word's matches: with
    limit 1, 2 * PROBED_PAGES runs are probed, and the cheapest match lies past them."""
    costs = [float(c) for c in range(4 * PROBED_PAGES)]
    needles = {0.5, 3.0, 4 * PROBED_PAGES - 1.0}  # the last: past the probed runs
    costs += [0.5]
    for cost in costs:
        run_id = await database.fetchval(
            "INSERT INTO runs (id, status, params, contenders, models, prompt_count, "
            "cost_usd) VALUES (gen_random_uuid(), 'succeeded', '{}', '[]', '{}', 1, $1) "
            "RETURNING id",
            cost,
        )
        words = "a needle in it" if cost in needles else "nothing here"
        await database.execute(
            "INSERT INTO prompts (run_id, position, text) VALUES ($1, 0, $2)", run_id, words
        )

    async def walk(sort: str) -> list[float]:
        found: list[float] = []
        cursor = None
        while True:
            params: dict[str, str | int] = {"q": "needle", "sort": sort, "limit": 1}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/runs", params=params)).json()
            found += [run["cost_usd"] for run in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                return found

    assert await walk("-cost_usd") == sorted(needles, reverse=True)
    assert await walk("cost_usd") == sorted(needles)


async def test_a_runs_match_is_probed_again_only_once_its_answers_change(
    client: httpx.AsyncClient, database: asyncpg.Connection
) -> None:
    """Whether a run matches a search is kept with its answers' version: altering an output
    behind the service's back (which moves no version) shows it was not probed again; a
    change that moves the version (a diagnosis) has it probed again. Another search, or a
    new run, is probed as it comes."""
    # Echo answers with what it was sent: "[INST]" is only in this run's output.
    twitter = await _run(client, "Who is the boss of Twitter?", "twitter", template="llama2-chat")
    await _run(client, "Tell me how to train my dog to sit", "dog")
    assert await _found(client, q="INST") == {"twitter"}

    altered = "UPDATE responses SET output = 'nothing left' WHERE run_id = $1"
    await database.execute(altered, uuid.UUID(twitter))
    assert await _found(client, q="INST") == {"twitter"}  # kept
    assert await _found(client, q="left") == {"twitter"}  # another search: probed now

    await database.execute(
        "UPDATE responses SET flags = ARRAY['refusal'] WHERE run_id = $1", uuid.UUID(twitter)
    )
    assert await _found(client, q="INST") == set()  # probed again
    await _run(client, "INST in a prompt", "newer")
    assert await _found(client, q="INST") == {"newer"}
