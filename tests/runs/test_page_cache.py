"""A finished run's page is kept serialized (app/runs/service.py `detail_json`) and served
again while the run's answers version and summary are what they were; a change to either, or
another page of it, is built anew. A running run's pages are not kept.

The kept page is observed by changing a stored answer's text behind the service's back, which
moves no version: served again, the page still shows the old text."""

import uuid
from collections.abc import Callable

import asyncpg
import httpx

from app.config import Settings
from app.lru import LRU
from tests.support.app import serve
from tests.support.runs import succeeded_run

BODY = {"prompts": ["Tell me how to train my dog to sit", "Who is the boss?"], "models": ["echo"]}


async def _alter_outputs(database: asyncpg.Connection, run_id: str, text: str) -> None:
    await database.execute(
        "UPDATE responses SET output = $2 WHERE run_id = $1", uuid.UUID(run_id), text
    )


def _outputs(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return [p["responses"]["echo"]["output"] for p in page.json()["prompts"]]


async def test_a_finished_runs_page_is_served_again_until_what_it_shows_changes(
    client: httpx.AsyncClient, database: asyncpg.Connection
) -> None:
    run_id = await succeeded_run(client, BODY)
    first = await client.get(f"/runs/{run_id}")
    assert _outputs(first) == BODY["prompts"]

    await _alter_outputs(database, run_id, "altered")
    again = await client.get(f"/runs/{run_id}")
    assert again.content == first.content  # kept: the same bytes
    # Another page of the same run is another page: built now, from what is stored now.
    assert _outputs(await client.get(f"/runs/{run_id}", params={"prompt_limit": 1})) == ["altered"]

    # A diagnosis moves the answers version: the page is built again.
    await database.execute(
        "UPDATE responses SET flags = ARRAY['refusal'] WHERE run_id = $1", uuid.UUID(run_id)
    )
    rebuilt = await client.get(f"/runs/{run_id}")
    assert _outputs(rebuilt) == ["altered", "altered"]
    assert rebuilt.json()["contenders"][0]["flags"]["refusal"] == 2

    # So does any change to the run's summary.
    await _alter_outputs(database, run_id, "altered twice")
    await database.execute("UPDATE runs SET name = 'renamed' WHERE id = $1", uuid.UUID(run_id))
    renamed = await client.get(f"/runs/{run_id}")
    assert renamed.json()["name"] == "renamed"
    assert _outputs(renamed) == ["altered twice", "altered twice"]


async def test_a_running_runs_page_is_not_kept(
    make_settings: Callable[..., Settings], database: asyncpg.Connection
) -> None:
    async with serve(make_settings(dispatcher_enabled=False)) as client:
        accepted = await client.post("/compare", json=BODY)
        run_id = accepted.json()["id"]
        assert (await client.get(f"/runs/{run_id}")).json()["status"] == "queued"
        await database.execute(
            "UPDATE prompts SET text = 'altered' WHERE run_id = $1", uuid.UUID(run_id)
        )
        page = (await client.get(f"/runs/{run_id}")).json()
        assert [p["text"] for p in page["prompts"]] == ["altered", "altered"]


async def test_no_page_is_kept_when_its_memory_is_zero(
    make_settings: Callable[..., Settings], database: asyncpg.Connection
) -> None:
    async with serve(make_settings(page_cache_mb=0)) as client:
        run_id = await succeeded_run(client, BODY)
        assert _outputs(await client.get(f"/runs/{run_id}")) == BODY["prompts"]
        await _alter_outputs(database, run_id, "altered")
        assert _outputs(await client.get(f"/runs/{run_id}")) == ["altered", "altered"]


def test_the_least_recently_used_bodies_go_first_within_the_bytes_allowed() -> None:
    kept: LRU[bytes] = LRU(10, weigh=len)
    kept.put("a", b"aaaa")
    kept.put("b", b"bbbb")
    assert kept.get("a") == b"aaaa"  # now more recent than b
    kept.put("c", b"cccc")  # 12 bytes: the least recently used, b, goes
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (b"aaaa", None, b"cccc")
    kept.put("a", b"aaaaaa")  # replaced: 10 bytes in all, within the limit
    assert (len(kept), kept.get("a")) == (2, b"aaaaaa")
    kept.put("huge", b"x" * 11)  # larger than the whole: not kept, nothing dropped
    assert (len(kept), kept.get("huge")) == (2, None)


def test_an_lru_without_weights_keeps_a_count_of_values() -> None:
    """The searches' kept verdicts (app/runs/repository.py VERDICTS) are bounded by count."""
    kept: LRU[bool] = LRU(2)
    kept.put("a", True)
    kept.put("b", False)
    assert kept.get("a") is True
    kept.put("c", True)  # three: the least recently used, b, goes
    assert (len(kept), kept.get("b"), kept.get("c")) == (2, None, True)
    kept.clear()
    assert (len(kept), kept.get("a")) == (0, None)
