"""GET /models, /healthz, /readyz, /metrics, /docs."""

import httpx


async def test_models_list_the_catalogue_with_availability(client: httpx.AsyncClient) -> None:
    models = {m["name"]: m for m in (await client.get("/models")).json()}
    assert {"meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-7b-chat-hf", "chat-gpt", "echo"} <= set(
        models
    )
    assert models["echo"]["available"] is True
    assert models["meta-llama/Llama-2-7b-hf"]["available"] is False
    assert "LAMINI_API_KEY" in models["meta-llama/Llama-2-7b-hf"]["unavailable_reason"]
    assert models["chat-gpt"]["template"] == "chat"
    assert models["echo"]["concurrency"] == 64


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


async def test_metrics_count_finished_pairs(client: httpx.AsyncClient) -> None:
    await client.post("/compare", params={"wait": 10}, json={"prompts": ["a"], "models": ["echo"]})
    text = (await client.get("/metrics")).text
    assert 'llm_compare_pairs_finished_total{status="succeeded"}' in text


async def test_openapi_documents_the_classic_example(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/compare" in spec["paths"]
    example = spec["components"]["schemas"]["CompareRequest"]["examples"][0]
    assert "meta-llama/Llama-2-7b-chat-hf" in example["models"]


async def test_the_docs_examples_name_catalogue_models_and_the_keyless_ones_run(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    body = spec["paths"]["/compare"]["post"]["requestBody"]["content"]["application/json"]
    examples = {name: example["value"] for name, example in body["examples"].items()}
    assert set(examples) == {"classic", "offline", "echo"}
    catalogue = {m["name"] for m in (await client.get("/models")).json()}
    for example in examples.values():
        named = {m if isinstance(m, str) else m["model"] for m in example["models"]}
        assert named <= catalogue
    done = await client.post("/compare", params={"wait": 10}, json=examples["echo"])
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "succeeded"


async def test_openapi_documents_problem_details(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    compare = spec["paths"]["/compare"]["post"]["responses"]
    assert "application/problem+json" in compare["422"]["content"]
    assert "Problem" in spec["components"]["schemas"]
