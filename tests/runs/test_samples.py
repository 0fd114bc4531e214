"""Repeated samples: k answers per prompt and contender, each asked with its own seed, all
shown, exported and summed up by how often they agree; out of range is a 422."""

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.support.app import serve
from tests.support.catalogues import openai_catalogue
from tests.support.fakes.openai_server import FakeOpenAI


@pytest.fixture
def sampled_settings(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> Settings:
    url = f"{fake_openai.url}/v1"
    catalogue = openai_catalogue(tmp_path, gpt={"base_url": url}, other={"base_url": url})
    return make_settings(catalogue_file=catalogue)


async def _run(client: httpx.AsyncClient, body: dict[str, Any]) -> Any:
    response = await client.post("/compare", params={"wait": 60}, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _varied() -> Callable[[str], str]:
    """The same answer to `same` every time; a new one to anything else."""
    counter = itertools.count()
    return lambda prompt: "always this" if prompt == "same" else f"answer number {next(counter)}"


async def test_every_sample_is_asked_with_its_seed_and_shown(
    sampled_settings: Settings, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reply = _varied()
    body = {
        "prompts": ["same", "different"],
        "models": [{"model": "gpt", "samples": 3}, "other"],
        "params": {"seed": 10, "temperature": 1},
    }
    async with serve(sampled_settings) as client:
        run = await _run(client, body)
        export = await client.get(f"/runs/{run['id']}/responses")
    assert run["counts"]["total"] == run["counts"]["succeeded"] == 2 * 3 + 2
    seeds = sorted((r.body["model"], r.body["seed"]) for r in fake_openai.requests)
    assert seeds == sorted([("gpt", 10), ("gpt", 11), ("gpt", 12)] * 2 + [("other", 10)] * 2)
    for prompt in run["prompts"]:
        samples = prompt["samples"]["gpt"]
        assert [s["sample"] for s in samples] == [0, 1, 2]
        assert prompt["responses"]["gpt"] == samples[0]
        assert len({s["id"] for s in samples}) == 3
        assert "other" not in prompt["samples"]
        assert prompt["responses"]["other"]["sample"] == 0
    gpt, other = run["contenders"]
    assert (gpt["samples"], other["samples"]) == (3, 1)
    # `same`: 3 identical pairs; `different`: 3 pairs that differ.
    agreement = gpt["sample_agreement"]
    assert agreement["pairs"] == 6
    assert agreement["share_identical"] == pytest.approx(0.5)
    assert 0.5 < agreement["mean_similarity"] < 1
    assert other["sample_agreement"] is None
    records = [json.loads(line) for line in export.text.splitlines()]
    assert [(r["prompt_index"], r["label"], r["sample"]) for r in records] == [
        (p, label, k)
        for p in (0, 1)
        for label, samples in (("gpt", 3), ("other", 1))
        for k in range(samples)
    ]


async def test_deterministic_samples_never_answer_one_another_but_a_rerun_reuses_each(
    sampled_settings: Settings, fake_openai: FakeOpenAI
) -> None:
    body = {"prompts": ["one", "two"], "models": ["gpt"], "params": {"temperature": 0}}
    async with serve(sampled_settings) as client:
        first = await _run(client, {**body, "samples": 2})
        assert len(fake_openai.requests) == 4
        assert first["counts"]["cached"] == 0
        again = await _run(client, {**body, "samples": 3})
    # Samples 0 and 1 come from the first run, sample by sample; sample 2 is new.
    assert len(fake_openai.requests) == 6
    assert again["counts"]["cached"] == 4
    for before, after in zip(first["prompts"], again["prompts"], strict=True):
        old, new = before["samples"]["gpt"], after["samples"]["gpt"]
        assert [s["cached_from"] for s in new] == [old[0]["id"], old[1]["id"], None]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"samples": 0}, "samples"),
        ({"samples": 21}, "samples"),
        ({"models": [{"model": "echo", "samples": 50}]}, "models[0].samples"),
        ({"models": [{"model": "echo", "samples": "many"}]}, "models[0].samples"),
    ],
)
async def test_samples_out_of_range_are_refused_naming_the_field(
    client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    body = {"prompts": ["p"], "models": ["echo"], **change}
    response = await client.post("/compare", json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_a_run_with_samples_is_retried_and_cancelled_pair_by_pair(
    sampled_settings: Settings, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next(400, times=2, message="refused")
    body = {"prompts": ["p"], "models": ["gpt"], "samples": 4}
    async with serve(sampled_settings) as client:
        run = await _run(client, body)
        assert run["counts"]["failed"] == 2
        assert (await client.post(f"/runs/{run['id']}/retry", json={})).status_code in (200, 202)
        again = (await client.get(f"/runs/{run['id']}", params={"wait": 60})).json()
    assert again["counts"]["succeeded"] == 4
    assert [s["status"] for s in again["prompts"][0]["samples"]["gpt"]] == ["succeeded"] * 4
