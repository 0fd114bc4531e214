"""A model as judge, end to end against the fake OpenAI server: a judging run through the queue,
both orders of each pair, strict verdicts, votes, and what is refused."""

import asyncio
import json
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.judging.verdicts import RUBRIC
from tests.support.app import serve
from tests.support.fakes.openai_server import FakeOpenAI
from tests.support.judging import JSON, fetch, finished_run

JUDGE = "judge-gpt"
CONTENDERS = [
    {"model": "echo", "label": "ckpt-1"},
    {"model": "echo", "label": "ckpt-2", "template": "llama2-chat"},
    {"model": "echo", "label": "ckpt-3", "template": "alpaca"},
]
PROMPTS = ["settled question", "a question the judge flips on", "a question it cannot answer"]


def shown(prompt: str) -> tuple[str, str, str]:
    """The question and the answers A and B of a judge prompt."""
    question = re.search(r"\[User Question\]\n(.*?)\n\n\[The Start", prompt, re.S)
    a = re.search(r"Assistant A's Answer\]\n(.*?)\n\[The End of Assistant A", prompt, re.S)
    b = re.search(r"Assistant B's Answer\]\n(.*?)\n\[The End of Assistant B", prompt, re.S)
    assert question, prompt
    assert a, prompt
    assert b, prompt
    return question[1], a[1], b[1]


def judge_reply(prompt: str) -> str:
    """A judge that prefers [INST] answers, then longer ones, on the first question (in either
    order); always says A on the second; gives no verdict on the third."""
    question, a, b = shown(prompt)
    if question == PROMPTS[1]:
        return "Assistant A answers first, so: [[A]]"
    if question == PROMPTS[2]:
        return "I cannot decide [[D]] between these."
    better = max((a, "A"), (b, "B"), key=lambda s: ("[INST]" in s[0], len(s[0])))[1]
    return f"Tempted by [[C]] at first; on reflection {better} is better. [[{better}]]"


def judge_catalogue(fake: FakeOpenAI, **fields: Any) -> str:
    """A catalogue whose judge model is the fake OpenAI server."""
    judge = {"name": JUDGE, "adapter": "openai", "upstream": "gpt-judge", "template": "chat"}
    return json.dumps({"models": [{**judge, "base_url": f"{fake.url}/v1", **fields}]})


@pytest.fixture
async def judged(
    make_settings: Callable[..., Settings], tmp_path: Path, fake_openai: FakeOpenAI
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(judge_catalogue(fake_openai, concurrency=4))
    fake_openai.reply = judge_reply
    async with serve(make_settings(catalogue_file=catalogue)) as client:
        yield client, await finished_run(client, PROMPTS, CONTENDERS, name="nightly")


async def judge_and_wait(client: httpx.AsyncClient, run_id: str, **body: Any) -> dict[str, Any]:
    response = await client.post(f"/runs/{run_id}/judge", json={"judge": JUDGE, **body})
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/runs/{response.json()['id']}"
    judging = (await client.get(response.headers["location"], params={"wait": 30})).json()
    assert judging["status"] == "succeeded"
    return dict(judging)


async def test_a_judge_judges_both_orders_and_agreeing_orders_make_a_vote(
    judged: tuple[httpx.AsyncClient, dict[str, Any]], fake_openai: FakeOpenAI, db_url: str
) -> None:
    client, run = judged
    judging = await judge_and_wait(client, run["id"])
    assert judging["judges"] == run["id"]
    assert judging["models"] == [JUDGE]
    assert judging["counts"]["succeeded"] == len(PROMPTS) * 3 * 2  # 3 pairs, 2 orders
    assert (await client.get(f"/runs/{run['id']}")).json()["judges"] is None

    # Every pair went to the judge in both orders, blind.
    sent = [request.body["messages"][-1]["content"] for request in fake_openai.requests]
    orders = Counter((q, a, b) for q, a, b in map(shown, sent))
    assert len(orders) == 18
    assert all((q, b, a) in orders for q, a, b in orders)
    assert all(RUBRIC in prompt and '"[[C]]" for a tie' in prompt for prompt in sent)
    assert not any("ckpt" in prompt for prompt in sent)
    assert {request.body["temperature"] for request in fake_openai.requests} == {0}

    result = (await client.get(f"/runs/{judging['id']}/judgements", params={"limit": 100})).json()
    assert result["judged_run_id"] == run["id"]
    assert result["judge"] == JUDGE
    assert result["counts"] == {
        "pending": 0,
        "judged": 12,
        "failed": 6,
        "votes": 6,
        "inconsistent": 3,
    }
    failed = [j for j in result["items"] if j["status"] == "failed"]
    assert {j["prompt_index"] for j in failed} == {2}
    assert all(j["judge_output"] == "I cannot decide [[D]] between these." for j in failed)
    assert all(j["verdict"] is None and "no verdict" in j["error"] for j in failed)
    # The last marker is the verdict: "[[C]]" came first in the settled answers.
    settled = [j for j in result["items"] if j["prompt_index"] == 0]
    assert {j["verdict"] for j in settled} <= {"a", "b"}

    votes = await fetch(
        db_url,
        "SELECT v.prompt_position, v.winner, v.voter, a.contender_index AS a, "
        "b.contender_index AS b FROM votes v JOIN responses a ON a.id = v.a_response_id "
        "JOIN responses b ON b.id = v.b_response_id ORDER BY v.prompt_position, a, b",
    )
    assert [(v["prompt_position"], v["a"], v["b"], v["winner"]) for v in votes] == [
        (0, 0, 1, "b"),  # ckpt-2's [INST] answer wins both orders
        (0, 0, 2, "b"),  # ckpt-3's answer is longer
        (0, 1, 2, "a"),
        (1, 0, 1, "tie"),  # "A" in both orders: position-inconsistent, a tie
        (1, 0, 2, "tie"),
        (1, 1, 2, "tie"),
    ]
    assert {v["voter"] for v in votes} == {f"judge:{JUDGE}"}

    # Reading again changes nothing: each pair was counted once.
    again = (await client.get(f"/runs/{judging['id']}/judgements")).json()
    assert again["counts"] == result["counts"]
    assert len(await fetch(db_url, "SELECT id FROM votes")) == 6

    board = (
        await client.get("/leaderboard", params={"run": run["id"], "voter": f"judge:{JUDGE}"})
    ).json()
    assert [c["label"] for c in board["contenders"]] == ["ckpt-2", "ckpt-3", "ckpt-1"]
    (inconsistency,) = board["judge_inconsistency"]
    assert inconsistency == {
        "judge": f"judge:{JUDGE}",
        "share": 0.5,
        "inconsistent": 3,
        "pairs": 6,
    }


async def test_judging_again_judges_only_what_is_left(
    judged: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, run = judged
    first = await judge_and_wait(client, run["id"], max_prompts=1)
    assert first["counts"]["succeeded"] == 6
    second = await judge_and_wait(client, run["id"], contenders=["ckpt-3", "ckpt-1"])
    # Prompts 1 and 2, their one pair each: prompt 0's was judged by the first run.
    assert second["counts"]["succeeded"] == 4
    keys = [p["key"] for p in (await client.get(f"/runs/{second['id']}")).json()["prompts"]]
    assert [key.split(":")[0] for key in keys] == ["prompt 1"] * 2 + ["prompt 2"] * 2

    # Prompt 1 has two pairs left; prompt 2's judgements had no verdict, so all three of its
    # pairs are open again.
    third = await judge_and_wait(client, run["id"])
    assert third["counts"]["succeeded"] == 2 * (2 + 3)
    fourth = await judge_and_wait(client, run["id"], max_prompts=1)
    assert fourth["counts"]["succeeded"] == 2 * 3
    keys = [p["key"] for p in (await client.get(f"/runs/{fourth['id']}")).json()["prompts"]]
    assert {key.split(":")[0] for key in keys} == {"prompt 2"}


async def test_every_pair_judged_leaves_nothing_to_judge(
    judged: tuple[httpx.AsyncClient, dict[str, Any]], fake_openai: FakeOpenAI
) -> None:
    client, run = judged
    fake_openai.reply = lambda prompt: "[[A]]"
    await judge_and_wait(client, run["id"], contenders=["ckpt-1", "ckpt-2"])
    again = await client.post(
        f"/runs/{run['id']}/judge", json={"judge": JUDGE, "contenders": ["ckpt-2", "ckpt-1"]}
    )
    assert again.status_code == 409
    assert "judged by it already" in again.json()["detail"]
    one = await finished_run(client, ["alone"], ["echo"])
    lonely = await client.post(f"/runs/{one['id']}/judge", json={"judge": JUDGE})
    assert lonely.status_code == 409
    assert "fewer than two succeeded answers" in lonely.json()["detail"]
    not_judging = await client.get(f"/runs/{run['id']}/judgements")
    assert not_judging.status_code == 409
    assert (await client.get(f"/runs/{uuid.uuid4()}/judgements")).status_code == 404


async def test_failed_judge_calls_are_failed_judgements_until_retried(
    judged: tuple[httpx.AsyncClient, dict[str, Any]], fake_openai: FakeOpenAI
) -> None:
    client, run = judged
    fake_openai.fail_next(400, times=2, message="the judge refuses")
    response = await client.post(
        f"/runs/{run['id']}/judge",
        json={"judge": JUDGE, "contenders": ["ckpt-1", "ckpt-2"], "max_prompts": 1},
    )
    judging = (await client.get(f"/runs/{response.json()['id']}", params={"wait": 30})).json()
    assert judging["status"] == "failed"
    result = (await client.get(f"/runs/{judging['id']}/judgements")).json()
    assert result["counts"] == {
        "pending": 0,
        "judged": 0,
        "failed": 2,
        "votes": 0,
        "inconsistent": 0,
    }
    assert all("the judge refuses" in j["error"] for j in result["items"])

    # The judging run is a run like any other: its failed calls can be retried.
    retried = await client.post(
        f"/runs/{judging['id']}/retry", headers={"Content-Type": "application/json"}
    )
    assert retried.status_code == 202
    assert (await client.get(f"/runs/{judging['id']}", params={"wait": 30})).json()[
        "status"
    ] == "succeeded"
    result = (await client.get(f"/runs/{judging['id']}/judgements")).json()
    assert result["counts"] == {
        "pending": 0,
        "judged": 2,
        "failed": 0,
        "votes": 1,
        "inconsistent": 0,
    }


async def test_long_answers_are_cut_to_fit_the_judge_prompt(
    make_settings: Callable[..., Settings], tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(judge_catalogue(fake_openai))
    fake_openai.reply = lambda prompt: "[[A]]"
    async with serve(make_settings(catalogue_file=catalogue, max_prompt_chars=4000)) as client:
        long = "word " * 700  # 3,500 characters: the question and both answers cannot all fit
        run = await finished_run(client, [long], CONTENDERS[:2])
        judging = await judge_and_wait(client, run["id"])
    sent = [request.body["messages"][-1]["content"] for request in fake_openai.requests]
    assert len(sent) == 2
    for prompt in sent:
        assert len(prompt) <= 4000
        question, a, b = shown(prompt)
        assert all("more characters cut]" in text for text in (question, a, b))
        assert question.startswith("word word")
    assert judging["counts"]["succeeded"] == 2


async def test_bad_judge_requests(judged: tuple[httpx.AsyncClient, dict[str, Any]]) -> None:
    client, run = judged
    unknown_run = await client.post(f"/runs/{uuid.uuid4()}/judge", json={"judge": JUDGE})
    assert unknown_run.status_code == 404
    cases = [
        ({"judge": "nobody"}, "judge", "unknown model 'nobody'"),
        ({"judge": "chat-gpt"}, "judge", "unavailable: no OpenAI key"),
        ({"judge": JUDGE, "contenders": ["ckpt-1", "ckpt-9"]}, "contenders[1]", "no contender"),
        ({"judge": JUDGE, "contenders": ["ckpt-1", "ckpt-1"]}, "contenders[1]", "different"),
        ({"judge": JUDGE, "max_prompts": 0}, "max_prompts", "greater than or equal to 1"),
        ({"judge": JUDGE, "rubric": " "}, "rubric", "blank"),
        ({"judge": JUDGE, "rubric": "x" * 100_000}, "rubric", "shorten it"),
        ({"judge": JUDGE, "params": {"temperature": 9}}, "params.temperature", "less than"),
    ]
    for body, field, message in cases:
        response = await client.post(f"/runs/{run['id']}/judge", json=body)
        assert response.status_code == 422, body
        (error,) = response.json()["errors"]
        assert error["field"] == field, body
        assert message in error["message"], (body, error)
    assert [r["id"] for r in (await client.get("/runs")).json()["items"]] == [run["id"]]


async def test_the_rubric_is_shown_and_can_be_replaced(
    judged: tuple[httpx.AsyncClient, dict[str, Any]], fake_openai: FakeOpenAI
) -> None:
    client, run = judged
    shown_rubric = (await client.get("/judge/rubric")).json()
    assert shown_rubric["rubric"] == RUBRIC
    assert shown_rubric["prompt"].startswith("{rubric}\n\n[User Question]\n{question}")
    assert shown_rubric["prompt"].endswith('and "[[C]]" for a tie.')
    await judge_and_wait(
        client, run["id"], rubric="Prefer the shorter answer.", contenders=["ckpt-1", "ckpt-2"]
    )
    sent = [request.body["messages"][-1]["content"] for request in fake_openai.requests]
    assert all(p.startswith("Prefer the shorter answer.\n\n[User Question]") for p in sent)
    assert all(RUBRIC not in p for p in sent)


async def test_deleting_a_judging_run_takes_its_votes_and_the_judged_run_everything(
    judged: tuple[httpx.AsyncClient, dict[str, Any]], db_url: str
) -> None:
    client, run = judged
    first = await judge_and_wait(client, run["id"], contenders=["ckpt-1", "ckpt-2"])
    second = await judge_and_wait(client, run["id"], contenders=["ckpt-2", "ckpt-3"])
    for judging in (first, second):
        await client.get(f"/runs/{judging['id']}/judgements")  # its answers become votes
    shown = await client.post(f"/runs/{run['id']}/battles", headers=JSON)
    await client.post(f"/battles/{shown.json()['id']}/vote", json={"winner": "a"})
    assert len(await fetch(db_url, "SELECT id FROM votes")) == 2 + 2 + 1

    assert (await client.delete(f"/runs/{first['id']}")).status_code == 204
    assert len(await fetch(db_url, "SELECT id FROM votes")) == 2 + 1
    assert (await client.delete(f"/runs/{run['id']}")).status_code == 204
    for table in ("votes", "judgements", "battles", "battle_slots", "battle_fills"):
        assert await fetch(db_url, f"SELECT * FROM {table}") == [], table
    left = (await client.get(f"/runs/{second['id']}")).json()
    assert left["judges"] is None  # a run of the judge's answers, judging nothing now
    assert (await client.get(f"/runs/{second['id']}/judgements")).status_code == 409


async def test_readers_racing_to_read_the_judges_answers_count_each_pair_once(
    judged: tuple[httpx.AsyncClient, dict[str, Any]], db_url: str
) -> None:
    client, run = judged
    judging = await judge_and_wait(client, run["id"])
    reads = [client.get(f"/runs/{judging['id']}/judgements") for _ in range(8)]
    reads += [
        client.get("/leaderboard", params={"run": run["id"], "bootstrap": 0}) for _ in range(8)
    ]
    answers = await asyncio.gather(*reads)
    assert {response.status_code for response in answers} == {200}
    votes = await fetch(db_url, "SELECT judgement_id FROM votes")
    assert len(votes) == 6  # prompt 0's three pairs and prompt 1's, once each
    assert len({v["judgement_id"] for v in votes}) == 6


def prefers(marker: str) -> Callable[[str], str]:
    """A judge that always prefers the answer holding `marker` (ckpt-2's "[INST]")."""
    return lambda prompt: "[[A]]" if marker in shown(prompt)[1] else "[[B]]"


def prefers_not(marker: str) -> Callable[[str], str]:
    """A judge that always prefers the answer without `marker`."""
    return lambda prompt: "[[B]]" if marker in shown(prompt)[1] else "[[A]]"


async def test_judging_again_asks_the_judge_anew_and_its_latest_verdicts_count(
    judged: tuple[httpx.AsyncClient, dict[str, Any]], fake_openai: FakeOpenAI, db_url: str
) -> None:
    client, run = judged
    pair = {"contenders": ["ckpt-1", "ckpt-2"]}
    fake_openai.reply = prefers("[INST]")
    await judge_and_wait(client, run["id"], **pair)
    assert len(fake_openai.requests) == 6  # 3 prompts, both orders
    # Not asked again without `again`: every pair was judged.
    refused = await client.post(f"/runs/{run['id']}/judge", json={"judge": JUDGE, **pair})
    assert refused.status_code == 409
    assert "`again`" in refused.json()["detail"]

    # The provider changed the model behind the name: asked anew, it now prefers ckpt-1.
    fake_openai.reply = prefers_not("[INST]")
    anew = await judge_and_wait(client, run["id"], again=True, **pair)
    assert (anew["counts"]["succeeded"], anew["counts"]["cached"]) == (6, 0)
    assert len(fake_openai.requests) == 12

    async def board() -> dict[str, Any]:
        params = {"run": run["id"], "voter": f"judge:{JUDGE}", "bootstrap": 0}
        return dict((await client.get("/leaderboard", params=params)).json())

    # Each pair counts once, with the judge's latest verdict: ckpt-1 won all three.
    found = await board()
    assert len(await fetch(db_url, "SELECT id FROM votes")) == 6  # both runs' votes are kept
    first = found["contenders"][0]
    assert (first["label"], first["votes"], first["wins"], first["losses"]) == ("ckpt-1", 3, 3, 0)
    assert found["judge_inconsistency"] == [
        {"judge": f"judge:{JUDGE}", "share": 0.0, "inconsistent": 0, "pairs": 3}
    ]

    # Again with the cache: the judge prompts are the ones just asked, so their answers are
    # reused, the provider is not called, and the verdicts stand.
    fake_openai.reply = prefers("[INST]")
    cached = await judge_and_wait(client, run["id"], again=True, cache=True, **pair)
    assert cached["counts"]["cached"] == 6
    assert len(fake_openai.requests) == 12
    assert (await board())["contenders"][0]["label"] == "ckpt-1"


async def test_without_the_cache_the_judge_is_asked_about_answers_it_saw_before(
    judged: tuple[httpx.AsyncClient, dict[str, Any]], fake_openai: FakeOpenAI
) -> None:
    client, run = judged
    fake_openai.reply = prefers("[INST]")
    await judge_and_wait(client, run["id"])
    assert len(fake_openai.requests) == 18
    # The same run again: the same answers, so the same judge prompts.
    twin = await finished_run(client, PROMPTS, CONTENDERS, name="nightly again")
    reused = await judge_and_wait(client, twin["id"], contenders=["ckpt-1", "ckpt-2"])
    assert reused["counts"]["cached"] == 6
    assert len(fake_openai.requests) == 18
    asked = await judge_and_wait(client, twin["id"], contenders=["ckpt-1", "ckpt-3"], cache=False)
    assert asked["counts"]["cached"] == 0
    assert len(fake_openai.requests) == 24
