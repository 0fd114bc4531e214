"""GET /runs/{a}/diff/{b}: two runs of the echo model compared answer by answer.

The echo model answers with its prompt cut to `max_new_tokens` words, so a replay with a
smaller limit changes (and truncates) exactly the answers to longer prompts.
"""

from typing import Any

import httpx

from tests.support.runs import succeeded_replay, succeeded_run

LONG = [f"please write about topic number {i} in some detail" for i in range(8)]  # 9 words
SHORT = ["hi there", "hello", "yes no"]  # at most 3 words: the same under any limit >= 3


async def _diff(client: httpx.AsyncClient, a: str, b: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"/runs/{a}/diff/{b}", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _mixed_prompts() -> list[Any]:
    """Long and short prompts, interleaved, with keys."""
    texts = [t for pair in zip(LONG, SHORT + SHORT + SHORT, strict=False) for t in pair]
    return [{"text": t, "key": f"k{i}"} for i, t in enumerate(texts)]


async def test_a_run_and_its_identical_replay_differ_in_nothing(
    client: httpx.AsyncClient,
) -> None:
    a = await succeeded_run(client, {"prompts": LONG, "models": ["echo", "echo-slow"]})
    b = await succeeded_replay(client, a, {})
    diff = await _diff(client, a, b)
    assert diff["a"]["id"] == a
    assert diff["b"]["id"] == b
    assert diff["b"]["parent_id"] == a
    assert diff["paired_prompts"] == len(LONG)
    assert [(c["label_a"], c["label_b"]) for c in diff["contenders"]] == [
        ("echo", "echo"),
        ("echo-slow", "echo-slow"),
    ]
    for c in diff["contenders"]:
        assert c["pairs"] == len(LONG)
        assert c["changed"] == 0
        assert c["changed_share"] == 0
        assert c["mean_similarity"] == 1
        assert c["flags"]["truncated"]["p_value"] == 1
        assert c["flags"]["truncated"]["rate_a"] == c["flags"]["truncated"]["rate_b"] == 0
        assert c["failed"]["pairs"] == len(LONG)
        assert c["worse"] == []
        assert c["completion_tokens"]["mean_delta"] == 0
        assert c["completion_tokens"]["a"]["p50"] == 9
    assert diff["unpaired"] == {
        "prompts_a": [],
        "prompts_b": [],
        "prompt_count_a": 0,
        "prompt_count_b": 0,
        "labels_a": [],
        "labels_b": [],
    }
    assert diff["gate"] == {"passed": True, "failures": []}
    row = diff["prompts"][0]
    assert (row["index_a"], row["index_b"], row["text"]) == (0, 0, LONG[0])
    answer = row["answers"][0]
    assert answer["same"] is True
    assert answer["similarity"] == 1
    assert answer["output_a"] == answer["output_b"] == LONG[0]
    assert answer["flags_gained"] == answer["flags_lost"] == []
    assert answer["completion_tokens_delta"] == 0
    assert answer["response_id_a"] != answer["response_id_b"]


async def test_changed_answers_are_counted_and_a_flag_that_got_worse_is_significant(
    client: httpx.AsyncClient,
) -> None:
    a = await succeeded_run(
        client, {"prompts": LONG, "models": ["echo"], "params": {"max_new_tokens": 50}}
    )
    b = await succeeded_replay(client, a, {"params": {"max_new_tokens": 3}})
    diff = await _diff(client, a, b)
    (echo,) = diff["contenders"]
    assert echo["changed"] == echo["pairs"] == len(LONG)
    assert echo["changed_share"] == 1
    # The first three words kept of each answer: 2·LCS / total length.
    cut = len("please write about")
    assert abs(echo["mean_similarity"] - 2 * cut / (cut + len(LONG[0]))) < 1e-9
    truncated = echo["flags"]["truncated"]
    assert (truncated["rate_a"], truncated["rate_b"]) == (0, 1)
    assert (truncated["only_a"], truncated["only_b"]) == (0, len(LONG))
    assert abs(truncated["p_value"] - 2 * 0.5 ** len(LONG)) < 1e-12  # exact McNemar
    assert truncated["worse"] is True
    assert echo["worse"] == ["truncated"]
    assert echo["flags"]["repetitive"]["p_value"] == 1
    assert echo["completion_tokens"]["mean_delta"] == -6
    assert echo["completion_tokens"]["p50_delta"] == -6
    answer = diff["prompts"][0]["answers"][0]
    assert answer["same"] is False
    assert answer["output_b"] == "please write about"
    assert answer["flags_gained"] == ["truncated"]
    assert answer["finish_reason_b"] == "length"
    assert answer["completion_tokens_delta"] == -6
    # Nothing was asked of the gate, so it passes; asked, it fails and says why.
    assert diff["gate"]["passed"] is True
    gated = await _diff(client, a, b, fail_on_flag="truncated", fail_if_changed=0.2)
    assert gated["gate"]["passed"] is False
    assert len(gated["gate"]["failures"]) == 2
    assert gated["gate"]["failures"][0].startswith("echo: truncated: 0.0% → 100.0% (p = 0.00781)")
    assert "100.0% of answers changed, more than 20.0%" in gated["gate"]["failures"][1]
    # The other way round, truncation got better: no flag gate fails.
    back = await _diff(client, b, a, fail_on_flag=["truncated", "failed"])
    assert back["gate"] == {"passed": True, "failures": []}
    assert back["contenders"][0]["flags"]["truncated"]["only_a"] == len(LONG)


async def test_a_label_map_pairs_contenders_of_different_names(
    client: httpx.AsyncClient,
) -> None:
    body = {"prompts": LONG[:3], "models": [{"model": "echo", "label": "ckpt-41"}, "echo-slow"]}
    a = await succeeded_run(client, body)
    b = await succeeded_replay(
        client, a, {"models": [{"model": "echo", "label": "ckpt-42"}, "echo-slow"]}
    )
    unmapped = await _diff(client, a, b)
    assert [c["label_a"] for c in unmapped["contenders"]] == ["echo-slow"]
    assert unmapped["unpaired"]["labels_a"] == ["ckpt-41"]
    assert unmapped["unpaired"]["labels_b"] == ["ckpt-42"]
    mapped = await _diff(client, a, b, map="ckpt-41:ckpt-42")
    assert [(c["label_a"], c["label_b"]) for c in mapped["contenders"]] == [
        ("ckpt-41", "ckpt-42"),
        ("echo-slow", "echo-slow"),
    ]
    assert mapped["unpaired"]["labels_a"] == mapped["unpaired"]["labels_b"] == []
    assert mapped["contenders"][0]["changed"] == 0
    first = mapped["prompts"][0]["answers"][0]
    assert (first["label_a"], first["label_b"], first["same"]) == ("ckpt-41", "ckpt-42", True)
    # One contender of a against another of b, crosswise.
    crossed = await _diff(client, a, b, map=["ckpt-41:echo-slow", "echo-slow:ckpt-42"])
    assert [(c["label_a"], c["label_b"]) for c in crossed["contenders"]] == [
        ("ckpt-41", "echo-slow"),
        ("echo-slow", "ckpt-42"),
    ]


async def test_an_unknown_label_in_the_map_is_422_naming_it(client: httpx.AsyncClient) -> None:
    a = await succeeded_run(
        client, {"prompts": ["one"], "models": [{"model": "echo", "label": "x"}]}
    )
    for given, named in (("nope:x", "'nope'"), ("x:nope", "'nope'"), ("x:x:y", "'x:y'")):
        response = await client.get(f"/runs/{a}/diff/{a}", params={"map": given})
        assert response.status_code == 422, response.text
        problem = response.json()
        assert [e["field"] for e in problem["errors"]] == ["map"], problem
        assert named in problem["detail"], problem
    malformed = await client.get(f"/runs/{a}/diff/{a}", params={"map": "no-colon"})
    assert malformed.status_code == 422
    assert [e["field"] for e in malformed.json()["errors"]] == ["map"]


async def test_runs_with_no_prompt_in_common_are_all_unpaired(client: httpx.AsyncClient) -> None:
    a = await succeeded_run(
        client, {"prompts": ["one", {"text": "two", "key": "2"}], "models": ["echo"]}
    )
    b = await succeeded_run(client, {"prompts": ["three", "two"], "models": ["echo"]})
    diff = await _diff(client, a, b)
    assert diff["paired_prompts"] == 0
    assert diff["prompts"] == []
    assert diff["next_prompt_offset"] is None
    assert diff["contenders"][0]["pairs"] == 0
    assert diff["contenders"][0]["changed_share"] is None
    assert diff["contenders"][0]["flags"]["truncated"]["p_value"] == 1
    unpaired = diff["unpaired"]
    # "two" has a key in a and none in b: keys pair with keys, texts with texts.
    assert [(p["index"], p["key"], p["text"]) for p in unpaired["prompts_a"]] == [
        (0, None, "one"),
        (1, "2", "two"),
    ]
    assert [p["text"] for p in unpaired["prompts_b"]] == ["three", "two"]
    assert (unpaired["prompt_count_a"], unpaired["prompt_count_b"]) == (2, 2)


async def test_prompts_pair_by_key_then_by_text_in_any_order(client: httpx.AsyncClient) -> None:
    a = await succeeded_run(
        client,
        {"prompts": [{"text": "alpha", "key": "k1"}, "beta", "beta", "gamma"], "models": ["echo"]},
    )
    b = await succeeded_run(
        client,
        {
            "prompts": ["beta", {"text": "alpha, reworded", "key": "k1"}, "delta", "beta"],
            "models": ["echo"],
        },
    )
    diff = await _diff(client, a, b)
    assert [(p["index_a"], p["index_b"]) for p in diff["prompts"]] == [(0, 1), (1, 0), (2, 3)]
    assert diff["prompts"][0]["answers"][0]["same"] is False
    assert diff["prompts"][1]["answers"][0]["same"] is True
    assert [p["text"] for p in diff["unpaired"]["prompts_a"]] == ["gamma"]
    assert [p["text"] for p in diff["unpaired"]["prompts_b"]] == ["delta"]


async def test_only_changed_flag_and_paging_pick_the_rows(client: httpx.AsyncClient) -> None:
    prompts = _mixed_prompts()
    a = await succeeded_run(
        client, {"prompts": prompts, "models": ["echo"], "params": {"max_new_tokens": 50}}
    )
    b = await succeeded_replay(client, a, {"params": {"max_new_tokens": 3}})
    every = await _diff(client, a, b, prompt_limit=1000)
    assert [p["index_a"] for p in every["prompts"]] == list(range(len(prompts)))
    long_ones = [i for i, p in enumerate(prompts) if p["text"] in LONG]
    assert every["contenders"][0]["changed"] == len(long_ones)

    changed = await _diff(client, a, b, only="changed", prompt_limit=1000)
    assert [p["index_a"] for p in changed["prompts"]] == long_ones
    assert all(p["answers"][0]["same"] is False for p in changed["prompts"])
    # The statistics are the whole diff's, whatever the rows shown.
    assert changed["contenders"] == every["contenders"]
    flagged = await _diff(client, a, b, flag="truncated", prompt_limit=1000)
    assert [p["index_a"] for p in flagged["prompts"]] == long_ones

    seen: list[int] = []
    offset: int | None = 0
    while offset is not None:
        page = await _diff(client, a, b, only="changed", prompt_offset=offset, prompt_limit=3)
        assert len(page["prompts"]) <= 3
        assert page["prompt_offset"] == offset
        seen += [p["index_a"] for p in page["prompts"]]
        offset = page["next_prompt_offset"]
    assert seen == long_ones
    late = await _diff(client, a, b, prompt_offset=long_ones[-1], prompt_limit=1)
    assert [p["index_a"] for p in late["prompts"]] == [long_ones[-1]]
    assert late["next_prompt_offset"] == long_ones[-1] + 1


async def test_unknown_runs_are_404_and_bad_parameters_422(client: httpx.AsyncClient) -> None:
    a = await succeeded_run(client, {"prompts": ["one"], "models": ["echo"]})
    missing = "00000000-0000-0000-0000-000000000000"
    for path in (f"/runs/{a}/diff/{missing}", f"/runs/{missing}/diff/{a}"):
        response = await client.get(path)
        assert response.status_code == 404
        assert missing in response.json()["detail"]
    for params, field in (
        ({"only": "same"}, "only"),
        ({"flag": "nonsense"}, "flag"),
        ({"fail_if_changed": 1.5}, "fail_if_changed"),
        ({"fail_on_flag": "slow"}, "fail_on_flag"),
        ({"prompt_limit": 0}, "prompt_limit"),
    ):
        response = await client.get(f"/runs/{a}/diff/{a}", params=params)
        assert response.status_code == 422, (params, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field], response.text


async def test_answers_still_to_come_are_shown_but_left_out_of_the_statistics(
    client: httpx.AsyncClient,
) -> None:
    a = await succeeded_run(client, {"prompts": LONG, "models": ["echo"]})
    body = {"models": [{"model": "echo-slow", "label": "echo"}]}
    accepted = await client.post(f"/runs/{a}/replay", json=body)
    b = accepted.json()["id"]
    diff = await _diff(client, a, b, prompt_limit=1000)  # at once: b is still going
    (echo,) = diff["contenders"]
    answers = [p["answers"][0] for p in diff["prompts"]]
    pending = [x for x in answers if x["status_b"] not in ("succeeded", "failed")]
    assert [x["same"] is None for x in answers] == [x in pending for x in answers]
    assert (echo["pairs"], echo["incomplete"]) == (len(LONG) - len(pending), len(pending))
    assert echo["changed"] == 0
    await client.post(f"/runs/{b}/cancel", json={})


async def test_repeated_samples_are_paired_sample_by_sample(client: httpx.AsyncClient) -> None:
    # Three samples in a, two in b: samples 0 and 1 are compared, a's third has no partner.
    a = await succeeded_run(client, {"prompts": SHORT, "models": [{"model": "echo", "samples": 3}]})
    b = await succeeded_run(client, {"prompts": SHORT, "models": [{"model": "echo", "samples": 2}]})
    diff = await _diff(client, a, b)
    (contender,) = diff["contenders"]
    assert contender["pairs"] == 2 * len(SHORT)
    assert contender["changed"] == 0
    for row in diff["prompts"]:
        answers = row["answers"]
        assert [x["sample"] for x in answers] == [0, 1]
        assert len({x["response_id_a"] for x in answers}) == 2
