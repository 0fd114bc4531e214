"""Input PostgreSQL cannot take is refused at the edge with a 422 naming the field, never a 5xx:
blank names, text with NUL or a lone surrogate, integers and dates outside PostgreSQL's range.
The first cases of each class are the ones the adversarial test of the service found."""

import base64
import uuid

import httpx
import pytest

NUL = "NUL characters"
SURROGATE = "lone surrogate"
BLANK = "empty or blank"


def _problem(response: httpx.Response, field: str, words: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == [field], problem
    assert words in problem["errors"][0]["message"], problem


async def _run_id(client: httpx.AsyncClient) -> str:
    response = await client.post(
        "/compare", params={"wait": 10}, json={"prompts": ["hi"], "models": ["echo"]}
    )
    assert response.status_code == 200, response.text
    run_id: str = response.json()["id"]
    return run_id


# Bodies as JSON text, so a lone surrogate (`\ud800`) can be written the way a client sends it.
BAD_BODIES = [
    # empty or blank strings where a name is expected
    ('{"prompts": ["a"], "models": [""]}', "models[0]", BLANK),
    ('{"prompts": ["a"], "models": ["  "]}', "models[0]", BLANK),
    ('{"prompts": ["a"], "models": [{"model": ""}]}', "models[0].model", BLANK),
    ('{"prompts": ["a"], "models": [{"model": "echo", "label": " "}]}', "models[0].label", BLANK),
    ('{"prompts": ["a"], "models": ["echo"], "name": ""}', "name", BLANK),
    ('{"prompts": ["a"], "models": ["echo"], "tags": {"": "x"}}', "tags", BLANK),
    ('{"prompts": [""], "models": ["echo"]}', "prompts[0]", BLANK),
    # NUL, in every text field of the body
    (
        '{"prompts": ["a"], "models": [{"model": "echo", "label": "a\\u0000"}]}',
        "models[0].label",
        NUL,
    ),
    ('{"prompts": ["a\\u0000"], "models": ["echo"]}', "prompts[0]", NUL),
    ('{"prompts": [{"text": "a", "key": "\\u0000"}], "models": ["echo"]}', "prompts[0].key", NUL),
    ('{"prompts": ["a"], "models": ["echo\\u0000"]}', "models[0]", NUL),
    (
        '{"prompts": ["a"], "models": [{"model": "echo", "template": "{prompt}\\u0000"}]}',
        "models[0].template",
        NUL,
    ),
    ('{"prompts": ["a"], "models": ["echo"], "tags": {"k": "\\u0000"}}', "tags.k", NUL),
    ('{"prompts": ["a"], "models": ["echo"], "tags": {"k\\u0000": "v"}}', "tags.k\x00", NUL),
    (
        '{"prompts": ["a"], "models": ["echo"], "params": {"stop": ["\\u0000"]}}',
        "params.stop[0]",
        NUL,
    ),
    # lone surrogates, which JSON can spell but UTF-8 (and so PostgreSQL) cannot hold
    ('{"prompts": ["a\\ud800"], "models": ["echo"]}', "prompts[0]", SURROGATE),
    ('{"prompts": [{"text": "\\udfff"}], "models": ["echo"]}', "prompts[0].text", SURROGATE),
    (
        '{"prompts": [{"text": "a", "key": "\\ud800"}], "models": ["echo"]}',
        "prompts[0].key",
        SURROGATE,
    ),
    ('{"prompts": ["a"], "models": ["echo\\ud800"]}', "models[0]", SURROGATE),
    (
        '{"prompts": ["a"], "models": [{"model": "echo", "label": "\\udc00x"}]}',
        "models[0].label",
        SURROGATE,
    ),
    (
        '{"prompts": ["a"], "models": [{"model": "echo", "template": "{prompt}\\ud800"}]}',
        "models[0].template",
        SURROGATE,
    ),
    ('{"prompts": ["a"], "models": ["echo"], "name": "\\ud800"}', "name", SURROGATE),
    ('{"prompts": ["a"], "models": ["echo"], "tags": {"k": "\\ud800"}}', "tags.k", SURROGATE),
    (
        '{"prompts": ["a"], "models": ["echo"], "params": {"stop": ["\\ud800"]}}',
        "params.stop[0]",
        SURROGATE,
    ),
    # integers outside what is stored and serialised exactly
    (
        '{"prompts": ["a"], "models": ["echo"], "params": {"seed": 1180591620717411303424}}',
        "params.seed",
        "less than or equal to 18446744073709551615",
    ),
    (
        '{"prompts": ["a"], "models": ["echo"], "params": {"seed": -9223372036854775809}}',
        "params.seed",
        "greater than or equal to -9223372036854775808",
    ),
    (
        '{"prompts": ["a"], "models": [{"model": "echo", '
        '"params": {"seed": 18446744073709551616}}]}',
        "models[0].params.seed",
        "less than or equal",
    ),
]


@pytest.mark.parametrize(("body", "field", "words"), BAD_BODIES)
async def test_bad_bodies_are_a_422_naming_the_field(
    client: httpx.AsyncClient, body: str, field: str, words: str
) -> None:
    response = await client.post(
        "/compare", content=body.encode(), headers={"content-type": "application/json"}
    )
    _problem(response, field, words)
    assert (await client.get("/runs")).json()["items"] == []


async def test_a_surrogate_encoded_as_utf8_bytes_is_refused_too(client: httpx.AsyncClient) -> None:
    # Python's JSON parser lets the bytes of an encoded surrogate through ("surrogatepass").
    body = b'{"prompts": ["a\xed\xa0\x80"], "models": ["echo"]}'
    response = await client.post(
        "/compare", content=body, headers={"content-type": "application/json"}
    )
    _problem(response, "prompts[0]", SURROGATE)


def _cursor(created_at: str) -> str:
    raw = f"{created_at}|{uuid.uuid4()}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_QUERIES = [
    # NUL in any text parameter (a lone surrogate in a URL decodes to U+FFFD, which is storable)
    ("/runs?q=%00", "q", NUL),
    ("/runs?q=a%00b", "q", NUL),
    ("/runs?model=%00", "model", NUL),
    ("/runs?model=", "model", BLANK),
    ("/runs?tag=k%00:v", "tag", NUL),
    ("/runs?cursor=%00", "cursor", "pattern"),
    # dates outside what Python and PostgreSQL both represent, or made so by their offset
    ("/runs?created_after=0001-01-01T00:00:00%2B14:00", "created_after", "0001-01-01"),
    ("/runs?created_before=0001-01-01T00:00:00%2B00:01", "created_before", "0001-01-01"),
    ("/runs?created_after=9999-12-31T23:59:59-14:00", "created_after", "9999-12-31"),
    ("/runs?created_after=10000-01-01T00:00:00Z", "created_after", "valid datetime"),
    (f"/runs?cursor={_cursor('0001-01-01T00:00:00+14:00')}", "cursor", "not a cursor"),
    (f"/runs?cursor={_cursor('9999-12-31T23:59:59-23:59')}", "cursor", "not a cursor"),
]


@pytest.mark.parametrize(("url", "field", "words"), BAD_QUERIES)
async def test_bad_queries_are_a_422_naming_the_parameter(
    client: httpx.AsyncClient, url: str, field: str, words: str
) -> None:
    _problem(await client.get(url), field, words)


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("prompt_offset=2147483648", "prompt_offset", "less than or equal to 2147483647"),
        ("prompt_offset=99999999999999999999999", "prompt_offset", "less than or equal"),
        ("prompt_limit=2147483648", "prompt_limit", "less than or equal"),
    ],
)
async def test_integers_past_postgresql_are_a_422(
    client: httpx.AsyncClient, query: str, field: str, words: str
) -> None:
    run_id = await _run_id(client)
    _problem(await client.get(f"/runs/{run_id}?{query}"), field, words)


async def test_a_nul_in_the_idempotency_key_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/compare",
        json={"prompts": ["a"], "models": ["echo"]},
        headers={"Idempotency-Key": "key\x00"},
    )
    _problem(response, "Idempotency-Key", NUL)


async def test_values_at_the_edges_of_the_ranges_are_accepted(client: httpx.AsyncClient) -> None:
    body = {"prompts": ["a"], "models": ["echo"], "params": {"seed": -(2**63)}}
    assert (await client.post("/compare", json=body)).status_code == 202
    body["params"] = {"seed": 2**64 - 1}
    run = await client.post("/compare", params={"wait": 10}, json=body)
    assert run.status_code == 200, run.text
    detail = await client.get(f"/runs/{run.json()['id']}", params={"prompt_offset": 2**31 - 1})
    assert detail.status_code == 200, detail.text
    assert detail.json()["prompts"] == []
    assert detail.json()["params"]["seed"] == 2**64 - 1
    for params in (
        {"created_after": "0001-01-01T00:00:00Z", "created_before": "9999-12-31T23:59:59.999999Z"},
        {
            "created_after": "0001-01-01T00:00:00-14:00",
            "created_before": "9999-12-31T23:59:59+14:00",
        },
    ):
        page = await client.get("/runs", params=params)
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) == 2


async def test_a_date_without_offset_is_utc_in_filters_and_cursors(
    client: httpx.AsyncClient,
) -> None:
    run_id = await _run_id(client)
    created = (await client.get(f"/runs/{run_id}")).json()["created_at"]  # ends in Z
    naive = created.removesuffix("Z")
    assert [
        r["id"] for r in (await client.get("/runs?created_after=" + naive)).json()["items"]
    ] == [run_id]
    assert (await client.get("/runs", params={"created_before": naive})).json()["items"] == []
    # A cursor whose date has no offset, just past this run: the page starts with the run.
    later = f"{naive}|{uuid.UUID(int=2**128 - 1)}".encode()
    cursor = base64.urlsafe_b64encode(later).decode().rstrip("=")
    page = await client.get("/runs", params={"cursor": cursor})
    assert page.status_code == 200, page.text
    assert [r["id"] for r in page.json()["items"]] == [run_id]
