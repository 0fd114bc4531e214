"""The new-comparison page: what it offers (the catalogue, the examples), and the prompt file
reader behind its upload (POST /ui/prompts), which keeps the command line's rules and the
service's guard against forged requests."""

import html
import re
from collections.abc import Callable

import httpx
import pytest

from app.config import Settings
from app.runs.examples import CLASSIC_EXAMPLE
from tests.support.app import serve

HTML = {"Accept": "text/html"}
FETCH = {"X-Requested-With": "llm-compare", "Content-Type": "application/octet-stream"}


async def _form(client: httpx.AsyncClient, **params: str) -> str:
    response = await client.get("/ui/compare", params=params, headers=HTML)
    assert response.status_code == 200
    return response.text


async def test_the_form_offers_the_catalogue_with_the_unavailable_models_explained(
    client: httpx.AsyncClient,
) -> None:
    page = await _form(client)
    models = (await client.get("/models")).json()
    for model in models:
        value = re.escape(model["name"])
        option = re.search(rf'<option value="{value}"[^>]*>([^<]*)</option>', page)
        assert option, model["name"]
        if model["available"]:
            assert "disabled" not in option.group(0)
        else:
            assert "disabled" in option.group(0)
            assert html.unescape(option.group(1)).endswith(
                f"(unavailable: {model['unavailable_reason']})"
            )
    assert any(not m["available"] for m in models)  # no key here for Lamini or OpenAI
    # Two empty contenders to start with, plus the one the script copies.
    assert page.count('name="models[0].model"') == 1
    assert page.count('name="models[1].model"') == 1
    assert page.count('name="models[__i__].model"') == 1


async def test_the_three_examples_of_docs_are_one_click_away(client: httpx.AsyncClient) -> None:
    page = await _form(client)
    for name in ("classic", "offline", "echo"):
        assert f'href="/ui/compare?example={name}"' in page
    classic = await _form(client, example="classic")
    contenders = re.findall(r'<option value="([^"]+)" selected', classic)
    models = CLASSIC_EXAMPLE["models"]
    assert contenders == [m if isinstance(m, str) else m["model"] for m in models]
    assert 'name="models[2].label" value="chat [INST]"' in classic
    assert 'name="models[2].template" value="llama2-chat"' in classic
    # The run-wide params go to each contender, as the service would apply them.
    assert classic.count('value="256"') == 4
    prompts = re.search(r'<textarea id="prompts"[^>]*>(.*?)</textarea>', classic, re.DOTALL)
    assert prompts
    assert html.unescape(prompts.group(1)).splitlines() == CLASSIC_EXAMPLE["prompts"]
    assert 'value="demo=llama2"' in classic


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "prompts.jsonl",
            b'{"text": "train my dog", "key": "dog"}\n\n{"text": "Mars?", "key": 7}\n',
            [{"text": "train my dog", "key": "dog"}, {"text": "Mars?", "key": "7"}],
        ),
        (
            "prompts.csv",
            b'key,prompt\ndog,train my dog\nmars,"Mars, really?"\n',
            [{"text": "train my dog", "key": "dog"}, {"text": "Mars, really?", "key": "mars"}],
        ),
        (
            "notes.txt",
            b"train my dog\r\n\n  \nMars?",
            [{"text": "train my dog"}, {"text": "Mars?"}],
        ),
        ("no-suffix", b'{"text": "sniffed as JSON Lines"}', [{"text": "sniffed as JSON Lines"}]),
    ],
)
async def test_uploaded_files_are_read_by_the_command_lines_rules(
    client: httpx.AsyncClient, name: str, content: bytes, expected: list[dict[str, str]]
) -> None:
    response = await client.post(
        "/ui/prompts", params={"name": name}, content=content, headers=FETCH
    )
    assert response.status_code == 200, response.text
    assert response.json()["prompts"] == expected


async def test_pasted_prompts_are_one_per_line(client: httpx.AsyncClient) -> None:
    pasted = '{"text": "not JSON here"}\nsecond, with a comma\n'
    response = await client.post(
        "/ui/prompts", params={"format": "text"}, content=pasted.encode(), headers=FETCH
    )
    assert response.json()["prompts"] == [
        {"text": '{"text": "not JSON here"}'},
        {"text": "second, with a comma"},
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.jsonl", b'{"text": "ok"}\n{"text": \n', "p.jsonl:2: invalid JSON: Expecting value"),
        ("p.csv", b"text\nhello\n", "p.csv:1: no `prompt` column (columns: text)"),
        ("p.csv", b"prompt\nhello\nbad,row\n", "p.csv:3: 2 columns; the header has 1"),
        ("p.txt", b"ok\n\xff\xfe\n", "p.txt:2: not UTF-8 text (byte 0xff at column 1)"),
        ("p.txt", b"\n  \n", "p.txt: no prompts found"),
        ("p.txt", b"a\nb\nc\n", "p.txt: more than 2 prompts; at most 2 per run"),
    ],
)
async def test_a_bad_file_is_a_422_naming_its_line(
    make_settings: Callable[..., Settings], name: str, content: bytes, message: str
) -> None:
    async with serve(make_settings(max_prompts=2)) as client:
        response = await client.post(
            "/ui/prompts", params={"name": name}, content=content, headers=FETCH
        )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "prompts"
    assert problem["detail"].startswith(message)


@pytest.mark.parametrize("url", ["/ui/prompts", "/compare", "/ui/compare", "/ui"])
async def test_a_plain_form_post_is_still_refused(client: httpx.AsyncClient, url: str) -> None:
    """What a form on another site could send: no JSON, no X-Requested-With."""
    response = await client.post(
        url,
        content=b"prompts=hi&models=echo",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert (await client.get("/runs")).json()["items"] == []
