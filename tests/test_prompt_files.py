"""Prompt files (app/prompt_files.py): the one set of rules of `llm-compare submit` and of the
new-comparison page's upload."""

import io

import pytest

from app.prompt_files import InputError, Prompt, detect_format, read_prompts


@pytest.mark.parametrize(
    ("name", "start", "expected"),
    [
        ("a.jsonl", b"anything", "jsonl"),
        ("a.NDJSON", b"", "jsonl"),
        ("a.csv", b"{", "csv"),
        ("a.txt", b'  {"text": "x"}', "jsonl"),
        ("<stdin>", b"plain words", "text"),
    ],
)
def test_the_format_comes_from_the_suffix_else_the_first_character(
    name: str, start: bytes, expected: str
) -> None:
    assert detect_format(name, start) == expected


def test_a_csv_cell_may_hold_line_breaks() -> None:
    content = b'prompt,key\n"first line\nsecond line",k1\nplain,\n'
    prompts = list(read_prompts("p.csv", "csv", io.BytesIO(content)))
    assert prompts == [Prompt("first line\nsecond line", "k1"), Prompt("plain")]


@pytest.mark.parametrize(
    ("fmt", "content", "message"),
    [
        ("jsonl", b'["a list"]\n', 'p:1: expected an object like {"text": "...", "key": "..."}'),
        ("jsonl", b'{"prompt": "x"}\n', 'p:1: no "text" string (fields: prompt)'),
        ("jsonl", b'{"text": "x", "key": [1]}\n', 'p:1: "key" must be a string'),
        ("jsonl", b'{"text": "  "}\n', "p:1: the `text` is empty"),
        ("csv", b"", "p: empty file; expected a header with a `prompt` column"),
        ("text", b"ok\nnul\x00byte\n", "p:2: a NUL byte: this is not a text file"),
    ],
)
def test_a_bad_line_is_named(fmt: str, content: bytes, message: str) -> None:
    with pytest.raises(InputError) as error:
        list(read_prompts("p", fmt, io.BytesIO(content)))  # type: ignore[arg-type]
    assert str(error.value).startswith(message)
