"""`llm-compare replay` and `llm-compare diff` against a live service: the diff's gate is
what a CI job reads, through the exit code."""

import json
from pathlib import Path

import pytest

from tests.client.conftest import Live

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

LONG = [f"please write about topic number {i} in some detail" for i in range(8)]


def _submit(live: Live, tmp_path: Path, *models: str) -> str:
    path = tmp_path / "prompts.txt"
    path.write_text("\n".join(LONG))
    args = [a for m in models for a in ("-m", m)]
    result = live.cli("submit", str(path), *args, "--max-new-tokens", "50", "--wait", "-q")
    assert result.code == 0, result.stderr
    return result.stdout.strip()


def test_replay_makes_a_child_run_and_an_unchanged_diff_passes(live: Live, tmp_path: Path) -> None:
    source = _submit(live, tmp_path, "echo")
    result = live.cli("replay", source, "--name", "ckpt-42", "--wait", "-q")
    assert result.code == 0, result.stderr
    replay = result.stdout.strip()
    assert replay != source
    run = live.api.get(f"/runs/{replay}").json()
    assert (run["parent_id"], run["name"], run["status"]) == (source, "ckpt-42", "succeeded")

    diff = live.cli("diff", source, replay, "--fail-if-changed", "0", "--fail-on-flag", "truncated")
    assert diff.code == 0, diff.stderr
    assert "8 prompts paired" in diff.stdout
    assert "0 (0%)" in diff.stdout  # changed
    assert "gate" not in diff.stderr


def test_a_gate_breached_exits_1_and_says_why(live: Live, tmp_path: Path) -> None:
    source = _submit(live, tmp_path, "echo")
    result = live.cli("replay", source, "--max-new-tokens", "3", "--wait", "-q")
    assert result.code == 0, result.stderr
    replay = result.stdout.strip()

    plain = live.cli("diff", source, replay)
    assert plain.code == 0, plain.stderr
    assert "8 (100%)" in plain.stdout
    assert "truncated 0%→100% (p=0.0078)" in plain.stdout
    assert "please write about" in plain.stdout  # the changed answers are shown

    flagged = live.cli("diff", source, replay, "--fail-on-flag", "truncated")
    assert flagged.code == 1
    assert "gate: echo: truncated: 0.0% → 100.0% (p = 0.00781)" in flagged.stderr
    changed = live.cli("diff", source, replay, "--fail-if-changed", "0.2")
    assert changed.code == 1
    assert "100.0% of answers changed, more than 20.0%" in changed.stderr
    # Truncation got better from the replay back to the source: no gate fails that way.
    back = live.cli("diff", replay, source, "--fail-on-flag", "truncated", "--json")
    assert back.code == 0, back.stderr
    assert json.loads(back.stdout)["gate"] == {"passed": True, "failures": []}


def test_diff_pairs_renamed_contenders_with_map_and_names_an_unknown_label(
    live: Live, tmp_path: Path
) -> None:
    source = _submit(live, tmp_path, "echo")
    body = {"models": [{"model": "echo", "label": "ckpt-42"}]}
    replay = live.api.post(f"/runs/{source}/replay", json=body).json()["id"]
    live.api.get(f"/runs/{replay}", params={"wait": 20})
    unmapped = live.cli("diff", source, replay)
    assert unmapped.code == 0, unmapped.stderr
    assert "contenders of b with no partner: ckpt-42" in unmapped.stdout
    mapped = live.cli("diff", source, replay, "--map", "echo:ckpt-42", "--json")
    assert mapped.code == 0, mapped.stderr
    (pair,) = json.loads(mapped.stdout)["contenders"]
    assert (pair["label_a"], pair["label_b"], pair["changed"]) == ("echo", "ckpt-42", 0)
    unknown = live.cli("diff", source, replay, "--map", "echo:nope")
    assert unknown.code == 2
    assert "(map)" in unknown.stderr
    assert "'nope'" in unknown.stderr
    missing = live.cli("replay", "00000000-0000-0000-0000-000000000000")
    assert missing.code == 2
    assert "no run with id" in missing.stderr


def test_diff_prints_b_s_win_rate_and_may_start_a_judge(live: Live, tmp_path: Path) -> None:
    source = _submit(live, tmp_path, "echo")
    result = live.cli("replay", source, "--max-new-tokens", "3", "--wait", "-q")
    replay = result.stdout.strip()
    unvoted = live.cli("diff", source, replay)
    assert unvoted.code == 0, unvoted.stderr
    assert "b wins (95%)" in unvoted.stdout
    assert "b wins: no vote or judgement compares these paired answers yet" in unvoted.stdout

    # People prefer a's whole answers on 4 prompts: b wins none, Wilson's interval 0–49%.
    diff = live.api.get(f"/runs/{source}/diff/{replay}").json()
    for prompt in diff["prompts"][:4]:
        answer = prompt["answers"][0]
        body = {"a": answer["response_id_a"], "b": answer["response_id_b"], "winner": "a"}
        assert live.api.post("/votes", json={**body, "voter": "ann"}).status_code == 201
    voted = live.cli("diff", source, replay)
    assert voted.code == 0, voted.stderr
    assert "0% (0–49%) of 4" in voted.stdout, voted.stdout[:1500]
    assert "b wins: no vote" not in voted.stdout

    # --judge first has a model judge the paired answers (both orders of 8), then shows them.
    judged = live.cli("diff", source, replay, "--judge", "echo", "--json")
    assert judged.code == 0, judged.stderr
    assert "judging b against a: run" in judged.stderr
    assert "16 succeeded" in judged.stderr
    (echo,) = json.loads(judged.stdout)["contenders"]
    assert echo["win_rate_by_voter"]["people"]["votes"] == 4
    # --again --no-cache: the judge asked anew about the 8 pairs; its latest verdicts count.
    anew = live.cli("diff", source, replay, "--judge", "echo", "--again", "--no-cache", "--json")
    assert anew.code == 0, anew.stderr
    assert "16 succeeded" in anew.stderr
    judging = anew.stderr.split("judging b against a: run ")[1].split()[0]
    assert live.api.get(f"/runs/{judging}").json()["counts"]["cached"] == 0
    (again,) = json.loads(anew.stdout)["contenders"]
    assert again["win_rate_by_voter"]["judge:echo"]["votes"] == 8
