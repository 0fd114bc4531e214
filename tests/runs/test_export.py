"""GET /runs/{id}/responses: every pair as JSON Lines or CSV, the same pairs the API shows."""

import csv
import io
import json
from typing import Any

import asyncpg
import httpx

from app.runs.export import COLUMNS

TRICKY = 'a, "quoted"\nsecond line'
RUN = {
    "prompts": [{"text": "Tell me how to train my dog to sit", "key": "dog"}, TRICKY],
    "models": ["echo", {"model": "echo", "template": "llama2-chat", "label": "echo [INST]"}],
    "params": {"max_new_tokens": 50},
}


async def _finished_run(client: httpx.AsyncClient, body: dict[str, Any] = RUN) -> Any:
    accepted = await client.post("/compare", params={"wait": 10}, json=body)
    return (await client.get(f"/runs/{accepted.json()['id']}")).json()


def _pairs_shown_by_the_api(run: Any) -> list[dict[str, Any]]:
    contenders = {c["label"]: c for c in run["contenders"]}
    return [
        {
            "run_id": run["id"],
            "prompt_index": prompt["index"],
            "prompt_key": prompt["key"],
            "prompt": prompt["text"],
            "label": label,
            "template": contenders[label]["template"],
            **{k: answer[k] for k in COLUMNS if k in answer and k not in ("label", "template")},
        }
        for prompt in run["prompts"]
        for label, answer in prompt["responses"].items()
    ]


async def test_jsonl_export_holds_the_same_pairs_as_the_api(client: httpx.AsyncClient) -> None:
    run = await _finished_run(client)
    response = await client.get(f"/runs/{run['id']}/responses", params={"format": "jsonl"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert f'filename="run-{run["id"]}.jsonl"' in response.headers["content-disposition"]
    records = [json.loads(line) for line in response.text.splitlines()]
    assert len(records) == 4
    assert all(list(record) == list(COLUMNS) for record in records)
    assert records == _pairs_shown_by_the_api(run)
    assert records[1]["rendered_prompt"] == "[INST] Tell me how to train my dog to sit [/INST]"
    assert records[2]["output"] == TRICKY


async def test_csv_export_round_trips_commas_quotes_and_newlines(
    client: httpx.AsyncClient,
) -> None:
    run = await _finished_run(client)
    response = await client.get(f"/runs/{run['id']}/responses", params={"format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected = _pairs_shown_by_the_api(run)
    assert len(rows) == len(expected) == 4
    for row, pair in zip(rows, expected, strict=True):
        assert list(row) == list(COLUMNS)
        # CSV has no types or nulls: every value comes back as its text, None as empty.
        assert row == {k: _csv_text(pair[k]) for k in COLUMNS}
    assert rows[2]["output"] == TRICKY
    assert rows[1]["flags"] == "echoes_prompt;continues_dialogue;template_leak"


def _csv_text(value: Any) -> str:
    if isinstance(value, list):  # flags
        return ";".join(value)
    return "" if value is None else str(value)


async def test_export_filters_by_status(client: httpx.AsyncClient) -> None:
    run = await _finished_run(client)
    url = f"/runs/{run['id']}/responses"
    assert (await client.get(url, params={"status": "failed"})).text == ""
    lines = (await client.get(url, params={"status": ["succeeded", "failed"]})).text.splitlines()
    assert len(lines) == 4


async def test_export_has_each_pairs_id_and_diagnostics(client: httpx.AsyncClient) -> None:
    run = await _finished_run(client)
    response = await client.get(f"/runs/{run['id']}/responses")
    records = [json.loads(line) for line in response.text.splitlines()]
    assert list(COLUMNS)[-8:] == [
        "id",
        "flags",
        "repetition",
        "prompt_overlap",
        "words",
        "cost_usd",
        "sample",
        "cached_from",
    ]
    assert len({r["id"] for r in records}) == 4
    dog, dog_inst = records[0], records[1]
    assert dog["flags"] == ["echoes_prompt"]
    assert (dog["repetition"], dog["prompt_overlap"], dog["words"]) == (0.0, 1.0, 9)
    assert dog_inst["flags"] == ["echoes_prompt", "continues_dialogue", "template_leak"]
    assert dog_inst["words"] == 11
    assert dog["cost_usd"] == 0.0  # echo runs here, for nothing


FLAGGED_RUN = {
    # Every third prompt is too long for `short` (cut: truncated); the others fit.
    "prompts": [f"say {i} now" if i % 3 else f"say the number {i} please" for i in range(1200)],
    "models": ["echo", {"model": "echo", "label": "short", "params": {"max_new_tokens": 3}}],
}


async def test_export_keeps_the_prompts_with_a_flagged_answer(client: httpx.AsyncClient) -> None:
    run = await _finished_run(client, FLAGGED_RUN)  # 2,400 pairs: three export pages
    url = f"/runs/{run['id']}/responses"
    records = [
        json.loads(line)
        for line in (await client.get(url, params={"flag": "truncated"})).text.splitlines()
    ]
    assert [(r["prompt_index"], r["label"]) for r in records] == [
        (i, label) for i in range(0, 1200, 3) for label in ("echo", "short")
    ]
    assert [r["flags"] for r in records[:2]] == [["echoes_prompt"], ["truncated"]]
    # With a status filter too: the kept prompts' pairs in those statuses.
    kept = await client.get(url, params={"flag": "truncated", "status": "failed"})
    assert kept.status_code == 200
    assert kept.text == ""
    either = await client.get(url, params={"flag": ["truncated", "refusal"], "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(either.text)))
    assert len(rows) == 800
    assert {row["flags"] for row in rows} == {"echoes_prompt", "truncated"}
    none = await client.get(url, params={"flag": "refusal"})
    assert none.status_code == 200
    assert none.text == ""


async def test_an_unknown_flag_is_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    run = await _finished_run(client)
    response = await client.get(f"/runs/{run['id']}/responses", params={"flag": "rude"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["flag"]


async def test_export_pages_through_more_rows_than_one_batch(client: httpx.AsyncClient) -> None:
    body = {"prompts": [f"prompt {i}" for i in range(700)], "models": ["echo", "echo-flaky"]}
    run = await _finished_run(client, body)
    response = await client.get(f"/runs/{run['id']}/responses")
    records = [json.loads(line) for line in response.text.splitlines()]
    assert len(records) == 1400
    order = [(r["prompt_index"], r["label"]) for r in records]
    assert order == [(i, label) for i in range(700) for label in ("echo", "echo-flaky")]
    assert all(r["output"] == f"prompt {r['prompt_index']}" for r in records)


async def test_an_unknown_format_is_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    run = await _finished_run(client)
    response = await client.get(f"/runs/{run['id']}/responses", params={"format": "xml"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "format"


async def test_a_100k_pair_export_never_analyzed_holds_every_pair_once_in_order(
    client: httpx.AsyncClient, db_url: str
) -> None:
    prompts = 50_000
    connection = await asyncpg.connect(db_url)
    try:
        for table in ("runs", "prompts", "responses"):
            await connection.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        run_id = await connection.fetchval(
            """
            INSERT INTO runs (id, status, params, contenders, models, prompt_count, finished_at)
            VALUES (gen_random_uuid(), 'succeeded', '{}',
                    '[{"label": "a", "model": "echo", "template": "raw"},
                      {"label": "b", "model": "echo", "template": "raw"}]', '{echo}', $1, now())
            RETURNING id
            """,
            prompts,
        )
        await connection.execute(
            "INSERT INTO prompts (run_id, position, key, text) "
            "SELECT $1, p, 'k' || p, 'prompt ' || p FROM generate_series(0, $2 - 1) p",
            run_id,
            prompts,
        )
        await connection.execute(
            "INSERT INTO responses (run_id, prompt_position, contender_index, model, status, "
            "rendered_prompt, output, finish_reason, attempts, finished_at) "
            "SELECT $1, p, c, 'echo', 'succeeded', 'prompt ' || p, 'answer ' || p || '/' || c, "
            "'stop', 1, now() FROM generate_series(0, $2 - 1) p, generate_series(0, 1) c",
            run_id,
            prompts,
        )
    finally:
        await connection.close()
    response = await client.get(f"/runs/{run_id}/responses")
    assert response.status_code == 200
    records = [json.loads(line) for line in response.text.splitlines()]
    assert [(r["prompt_index"], r["label"]) for r in records] == [
        (p, label) for p in range(prompts) for label in ("a", "b")
    ]
    assert all(r["prompt_key"] == f"k{r['prompt_index']}" for r in records)
    assert all(
        r["output"] == f"answer {r['prompt_index']}/{'ab'.index(r['label'])}" for r in records
    )
