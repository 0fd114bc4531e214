"""The real `llm-compare` command against a live service and the real PostgreSQL."""

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.client.conftest import Live

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

PROMPTS = ["Tell me how to train my dog to sit", "What do you think of Mars?"]


def _run_id(stdout: str) -> str:
    lines = stdout.split()
    assert len(lines) == 1, stdout  # stdout holds the run id and nothing else
    return lines[0]


def _prompts_of(live: Live, run_id: str) -> list[tuple[str | None, str]]:
    run = live.api.get(f"/runs/{run_id}").json()
    return [(p["key"], p["text"]) for p in run["prompts"]]


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        (
            "prompts.jsonl",
            '{"text": "Tell me how to train my dog to sit", "key": "dog"}\n\n'
            '{"text": "What do you think of Mars?", "key": "mars", "extra": 1}\n',
            [("dog", PROMPTS[0]), ("mars", PROMPTS[1])],
        ),
        (
            "prompts.csv",
            "key,prompt\n"
            "dog,Tell me how to train my dog to sit\n"
            'mars,"What do you think of Mars?"\n',
            [("dog", PROMPTS[0]), ("mars", PROMPTS[1])],
        ),
        (
            "prompts.txt",
            "Tell me how to train my dog to sit\n\nWhat do you think of Mars?",
            [(None, PROMPTS[0]), (None, PROMPTS[1])],
        ),
    ],
)
def test_submit_reads_each_file_format(
    live: Live, tmp_path: Path, filename: str, content: str, expected: list[Any]
) -> None:
    path = tmp_path / filename
    path.write_text(content)
    result = live.cli("submit", str(path), "-m", "echo", "--name", filename, "--wait", "-q")
    assert result.code == 0, result.stderr
    run_id = _run_id(result.stdout)
    assert _prompts_of(live, run_id) == expected
    run = live.api.get(f"/runs/{run_id}").json()
    assert run["status"] == "succeeded"
    assert run["name"] == filename


def test_submit_reads_stdin(live: Live) -> None:
    lines = "\n".join(PROMPTS).encode()
    result = live.cli("submit", "-", "-m", "echo", "--wait", "-q", stdin=lines)
    assert result.code == 0, result.stderr
    assert _prompts_of(live, _run_id(result.stdout)) == [(None, p) for p in PROMPTS]


def test_submit_dry_run_prints_what_would_be_sent_and_stores_nothing(live: Live) -> None:
    before = live.run_count()
    lines = "\n".join(PROMPTS).encode()
    args = ["submit", "-", "-m", "echo", "-m", "slow", "--max-new-tokens", "5", "--dry-run"]
    result = live.cli(*args, stdin=lines)
    assert result.code == 0, result.stderr
    assert "4 pairs: 2 prompts x 2 contenders; at most unknown" in result.stdout
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:]}
    # The default echo runs here for free; this catalogue's `slow` has no price.
    assert rows["echo"][0] == "estimate"
    assert rows["echo"][2:] == ["5", "$0"]
    assert rows["slow"][2:] == ["5", "unknown"]
    refused = live.cli(*args, "--budget-usd", "1", stdin=lines)
    assert refused.code == 2
    assert "budget_usd" in refused.stderr
    assert "has no price" in refused.stderr
    assert live.run_count() == before


def test_stdin_jsonl_is_recognised(live: Live) -> None:
    lines = b'{"text": "first", "key": "a"}\n{"text": "second", "key": "b"}\n'
    result = live.cli("submit", "-", "-m", "echo", stdin=lines)
    assert result.code == 0, result.stderr
    assert _prompts_of(live, _run_id(result.stdout)) == [("a", "first"), ("b", "second")]


def test_a_re_run_of_the_same_command_returns_the_same_run(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "prompts.txt"
    path.write_text("\n".join(PROMPTS))
    command = ["submit", str(path), "-m", "echo", "--name", "nightly", "--tag", "ckpt=42"]
    before = live.run_count()
    first, again = live.cli(*command), live.cli(*command)
    assert first.code == again.code == 0
    assert _run_id(first.stdout) == _run_id(again.stdout)
    assert "submitted before" in again.stderr
    assert live.run_count() == before + 1

    other_tag = live.cli(*command[:-1], "ckpt=43")
    assert _run_id(other_tag.stdout) != _run_id(first.stdout)
    forced = live.cli(*command, "--idempotency-key", "second-try")
    assert _run_id(forced.stdout) not in (_run_id(first.stdout), _run_id(other_tag.stdout))
    run = live.api.get(f"/runs/{_run_id(first.stdout)}").json()
    assert run["tags"] == {"ckpt": "42"}


def test_wait_shows_progress_until_the_run_ends(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "prompts.txt"
    path.write_text("\n".join(f"prompt {i}" for i in range(6)))
    started = time.monotonic()
    result = live.cli("submit", str(path), "-m", "slow", "--wait")
    assert result.code == 0, result.stderr
    assert time.monotonic() - started >= 0.9  # six 150 ms answers, one at a time
    assert "6/6 pairs, 0 failed" in result.stderr
    assert f"run {_run_id(result.stdout)} succeeded: 6 succeeded" in result.stderr
    assert live.api.get(f"/runs/{_run_id(result.stdout)}").json()["status"] == "succeeded"


def test_failed_pairs_exit_1_unless_allowed_and_retry_mends_them(
    live: Live, tmp_path: Path
) -> None:
    path = tmp_path / "prompts.txt"
    path.write_text("\n".join(PROMPTS))
    failed = live.cli("submit", str(path), "-m", "echo", "-m", "flaky", "--wait", "-q")
    assert failed.code == 1
    run_id = _run_id(failed.stdout)
    assert f"run {run_id} partial: 2 succeeded, 2 failed" in failed.stderr

    allowed = live.cli("submit", str(path), "-m", "echo", "-m", "flaky", "--wait", "-q",
                       "--allow-failures", "--idempotency-key", "allowed")  # fmt: skip
    assert allowed.code == 0, allowed.stderr

    retried = live.cli("retry", run_id, "--wait", "-q")
    assert retried.code == 0, retried.stderr
    run = live.api.get(f"/runs/{run_id}").json()
    assert run["status"] == "succeeded"
    assert all(p["responses"]["flaky"]["output"] == p["text"] for p in run["prompts"])


def test_cancel_mid_run(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "prompts.txt"
    # 200 x 150 ms one at a time: 30 s of work, so the cancel comes mid-run even when a loaded
    # machine takes seconds to start the command line.
    path.write_text("\n".join(f"cancel me {i}" for i in range(200)))
    run_id = _run_id(live.cli("submit", str(path), "-m", "slow").stdout)
    time.sleep(0.3)
    cancelled = live.cli("cancel", run_id, "--wait", "-q")
    assert cancelled.code == 1  # a cancelled run is not a finished job
    assert f"run {run_id} cancelled" in cancelled.stderr
    run = live.api.get(f"/runs/{run_id}").json()
    assert run["status"] == "cancelled"
    assert run["counts"]["cancelled"] >= 100
    assert run["counts"]["queued"] == run["counts"]["running"] == 0

    deleted = live.cli("delete", run_id)
    assert deleted.code == 0
    assert live.api.get(f"/runs/{run_id}").status_code == 404


def test_export_round_trip_holds_the_pairs_the_api_shows(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"text": p, "key": f"k{i}"}) + "\n" for i, p in
                            enumerate([*PROMPTS, 'commas, "quotes"\nand a newline'])))  # fmt: skip
    run_id = _run_id(live.cli("submit", str(path), "-m", "echo", "-m", "slow", "--wait").stdout)
    api_pairs = {
        (p["index"], label): (p["key"], p["text"], a["output"], a["status"], a["rendered_prompt"])
        for p in live.api.get(f"/runs/{run_id}").json()["prompts"]
        for label, a in p["responses"].items()
    }
    assert len(api_pairs) == 6

    assert live.cli("export", run_id, "-o", str(tmp_path / "out.jsonl")).code == 0
    assert live.cli("export", run_id, "--format", "csv", "-o", str(tmp_path / "out.csv")).code == 0
    jsonl = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text(), newline="")))
    for records in (jsonl, rows):
        exported = {
            (int(r["prompt_index"]), r["label"]): (
                r["prompt_key"], r["prompt"], r["output"], r["status"], r["rendered_prompt"]
            )
            for r in records
        }  # fmt: skip
        assert exported == api_pairs

    to_stdout = live.cli("export", run_id)
    assert [json.loads(line) for line in to_stdout.stdout.splitlines()] == jsonl


def test_runs_lists_with_filters_and_show_puts_answers_side_by_side(
    live: Live, tmp_path: Path
) -> None:
    path = tmp_path / "prompts.txt"
    path.write_text("Which planet is red?\n")
    command = ["submit", str(path), "-m", "echo", "--template", "llama2-chat", "-m", "slow"]
    run_id = _run_id(live.cli(*command, "--tag", "team=cli", "--wait", "-q").stdout)

    listed = live.cli("runs", "--tag", "team=cli", "--json")
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [run_id]
    assert run_id in live.cli("runs", "--q", "planet").stdout
    assert run_id not in live.cli("runs", "--q", "planet", "--status", "failed").stdout

    shown = live.cli("show", run_id)
    assert shown.code == 0, shown.stderr
    assert "echo [llama2-chat]" in shown.stdout
    assert "[INST] Which planet is red? [/INST]" in shown.stdout
    assert "slow [llama2-chat]" in shown.stdout


def test_show_numbers_a_contenders_repeated_samples(live: Live) -> None:
    body = {
        "prompts": ["Which planet is red?", "And which is blue?"],
        "models": [{"model": "echo", "label": "thrice", "samples": 3}, "echo-slow"],
    }
    run = live.api.post("/compare", params={"wait": 20}, json=body).json()
    assert run["status"] == "succeeded", run
    shown = live.cli("show", run["id"])
    assert shown.code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    # Each prompt's three samples of `thrice`, numbered; echo-slow's one answer is not.
    for k in (1, 2, 3):
        assert sum(f"sample {k}/3 Which planet is red?" in line for line in lines) == 1
        assert sum(f"sample {k}/3 And which is blue?" in line for line in lines) == 1
    assert "sample 4/3" not in shown.stdout
    assert "sample 1/1" not in shown.stdout
    (contender,) = [line for line in lines if line.strip().startswith("thrice")]
    assert contender.rstrip().endswith("3, 100% same")  # echo's samples are all alike


def test_a_10000_prompt_file_is_sent_and_answered(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("w") as file:
        for i in range(10_000):
            file.write(json.dumps({"text": f"prompt number {i}", "key": str(i)}) + "\n")
    result = live.cli("submit", str(path), "-m", "echo", "--wait", "-q")
    assert result.code == 0, result.stderr
    run = live.api.get(f"/runs/{_run_id(result.stdout)}", params={"prompt_offset": 9998}).json()
    assert run["counts"]["succeeded"] == 10_000
    assert [(p["key"], p["text"]) for p in run["prompts"]] == [
        ("9998", "prompt number 9998"),
        ("9999", "prompt number 9999"),
    ]


BAD_FILES = [
    ("bad.jsonl", b'{"text": "a"}\n{"text": "b"}\n{"text": c}\n', "bad.jsonl:3: invalid JSON"),
    ("nokey.jsonl", b'{"text": "ok"}\n{"prompt": "wrong"}\n', 'nokey.jsonl:2: no "text" string'),
    ("cols.csv", b"question,answer\nwhy,because\n", "cols.csv:1: no `prompt` column"),
    ("ragged.csv", b"prompt,key\nfine,1\ntoo,many,cells\n", "ragged.csv:3: 3 columns; the"),
    ("empty.txt", b"", "empty.txt: no prompts found"),
    ("blank.txt", b"\n  \n\n", "blank.txt: no prompts found"),
    ("garbage.txt", bytes(range(256)) * 4, "garbage.txt:1: a NUL byte"),
    ("latin1.txt", "fine\ncaf\u00e9\n".encode("latin-1"), "latin1.txt:2: not UTF-8 text"),
]  # fmt: skip


@pytest.mark.parametrize(("filename", "content", "message"), BAD_FILES)
def test_bad_input_files_exit_2_with_one_line_and_send_nothing(
    live: Live, tmp_path: Path, filename: str, content: bytes, message: str
) -> None:
    path = tmp_path / filename
    path.write_bytes(content)
    before = live.run_count()
    result = live.cli("submit", str(path), "-m", "echo")
    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert live.run_count() == before


def test_a_refused_request_names_the_field_and_exits_2(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "prompts.txt"
    path.write_text("hello\n")
    result = live.cli("submit", str(path), "-m", "echo", "-m", "no-such-model")
    assert result.code == 2
    assert "HTTP 422 (models[1]): unknown model 'no-such-model'" in result.stderr


def test_an_unreachable_service_exits_3(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "prompts.txt"
    path.write_text("hello\n")
    result = live.cli("runs", "--url", "http://127.0.0.1:9", env={"LLM_COMPARE_RETRIES": "1"})
    assert result.code == 3
    assert "cannot reach the service at http://127.0.0.1:9" in result.stderr
