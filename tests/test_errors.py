"""Errors the framework raises are problem details too, and say what the caller can do."""

import httpx

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


async def test_a_405_allows_every_method_of_its_path(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    checked = 0
    for template, operations in spec["paths"].items():
        path = template.replace("{run_id}", "00000000-0000-4000-8000-000000000000")
        served = [m for m in METHODS if m.lower() in operations]
        for method in set(METHODS) - set(served):
            response = await client.request(
                method, path, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 405, (method, path)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["allow"].split(", ") == served, (method, path)
            checked += 1
    assert checked > 30
    # The path with two routes, where Starlette named only the first route's method.
    assert spec["paths"]["/runs/{run_id}"].keys() == {"get", "delete"}
