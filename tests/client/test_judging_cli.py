"""`llm-compare vote | judge | leaderboard` against a live service: voting driven through
stdin, as a person at the terminal would type."""

import json
from typing import Any

import pytest

from tests.client.conftest import Live

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

PROMPTS = b"Tell me how to train my dog to sit\nWhat do you think of Mars?\n"


def _run(live: Live, *models: str, key: str = "") -> str:
    """A finished run of the two prompts; `key` tells apart runs of the same models."""
    args = [arg for model in models for arg in ("-m", model)]
    result = live.cli(
        "submit", "-", *args, "--wait", "-q", "--idempotency-key", f"{models}{key}", stdin=PROMPTS
    )
    assert result.code == 0, result.stderr
    return result.stdout.strip()


def _board(live: Live, run_id: str, **params: Any) -> dict[str, Any]:
    found: dict[str, Any] = live.api.get(
        "/leaderboard", params={"run": run_id, "bootstrap": 0, **params}
    ).json()
    return found


def test_voting_in_the_terminal(live: Live) -> None:
    run_id = _run(live, "echo", "slow", key="vote")
    # A vote, a key that means nothing (asked again), a vote, then q.
    first = live.cli("vote", run_id, "--voter", "ann", stdin=b"a\nz\nb\nq\n")
    assert first.code == 0, first.stderr
    assert first.stdout.count("battle ") == 3  # the third was shown, then q
    reveals = [line for line in first.stdout.splitlines() if line.startswith("A was ")]
    assert len(reveals) == 2
    assert all("echo" in line and "slow" in line for line in reveals)
    assert "your vote: a" in reveals[0]
    assert "your vote: b" in reveals[1]
    assert first.stderr.count("a: A is better, b: B is better") == 4
    assert "2 votes" in first.stderr

    # Both pairs have a vote; the next two get a second. The end of input stops like q.
    second = live.cli("vote", run_id, stdin=b"t\nn\n")
    assert second.code == 0, second.stderr
    assert "your vote: tie" in second.stdout
    assert "your vote: both_bad" in second.stdout
    board = _board(live, run_id)
    assert sum(c["votes"] for c in board["contenders"]) == 2 * 4


def test_voting_on_a_run_with_nothing_to_pair_is_refused(live: Live) -> None:
    run_id = _run(live, "echo")
    result = live.cli("vote", run_id, stdin=b"a\n")
    assert result.code == 2
    assert "HTTP 409" in result.stderr
    assert "fewer than two succeeded answers" in result.stderr


def test_a_judge_from_the_terminal_then_the_leaderboard(live: Live) -> None:
    run_id = _run(live, "echo", "slow", key="judge")
    # echo as judge answers with its prompt, whose last marker is the [[C]] of the format.
    result = live.cli("judge", run_id, "--judge", "echo", "--wait", "-q")
    assert result.code == 0, result.stderr
    judging_id = result.stdout.strip()
    judging = live.api.get(f"/runs/{judging_id}").json()
    assert judging["judges"] == run_id
    assert judging["status"] == "succeeded"
    assert "2 votes (0 of them ties because the two orders disagreed)" in result.stderr

    again = live.cli("judge", run_id, "--judge", "echo")
    assert again.code == 2
    assert "judged by it already" in again.stderr
    # --again asks the judge anew; --cache lets it reuse its answers. Each pair counts once.
    anew = live.cli("judge", run_id, "--judge", "echo", "--again", "--wait", "-q")
    assert anew.code == 0, anew.stderr
    assert live.api.get(f"/runs/{anew.stdout.strip()}").json()["counts"]["cached"] == 0
    reused = live.cli("judge", run_id, "--judge", "echo", "--again", "--cache", "--wait", "-q")
    assert reused.code == 0, reused.stderr
    assert live.api.get(f"/runs/{reused.stdout.strip()}").json()["counts"]["cached"] == 4
    unknown = live.cli("judge", run_id, "--judge", "nobody")
    assert unknown.code == 2
    assert "(judge)" in unknown.stderr

    table = live.cli("leaderboard", "--run", run_id, "--voter", "judge:echo", "--bootstrap", "50")
    assert table.code == 0, table.stderr
    assert "ranking" in table.stdout
    assert "95% CI" in table.stdout
    assert "echo" in table.stdout
    assert "slow" in table.stdout
    as_json = live.cli("leaderboard", "--run", run_id, "--json", "--bootstrap", "50")
    board = json.loads(as_json.stdout)
    assert board["runs"] == [run_id]
    assert {c["label"]: c["ties"] for c in board["contenders"]} == {"echo": 2, "slow": 2}
    assert board == live.api.get("/leaderboard", params={"run": run_id, "bootstrap": 50}).json()
    bad = live.cli("leaderboard", "--voter", "judges")
    assert bad.code == 2
    assert "(voter)" in bad.stderr
