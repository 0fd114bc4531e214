"""/docs and /redoc load their assets from the service itself, so they work offline, under a
policy that allows their one inline script by its hash and nothing from elsewhere."""

import base64
import hashlib
import re

import httpx
import pytest


def _policy(response: httpx.Response) -> dict[str, str]:
    header = response.headers["content-security-policy"]
    return dict(d.strip().split(" ", 1) for d in header.split(";"))


@pytest.mark.parametrize("url", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_the_docs_pages_need_nothing_from_elsewhere(
    client: httpx.AsyncClient, url: str
) -> None:
    response = await client.get(url)
    assert response.status_code == 200
    page = response.text
    assert not re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", page)
    assert "cdn.jsdelivr" not in page
    assert "fonts.googleapis" not in page
    for asset in re.findall(r"""(?:src|href)="(/docs/assets/[^"]+)""", page):
        served = await client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 1000, asset
    policy = _policy(response)
    assert policy["default-src"] == "'none'"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["connect-src"] == "'self'"  # "Try it out" calls this service only
    for script in re.findall(r"<script>(.*?)</script>", page, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["script-src"]


async def test_swagger_ui_reads_this_services_document_with_the_same_settings(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/docs")).text
    assert '<script src="/docs/assets/swagger-ui-bundle.js"></script>' in page
    assert '<link type="text/css" rel="stylesheet" href="/docs/assets/swagger-ui.css">' in page
    assert "url: '/openapi.json'" in page
    assert "<title>llm-compare - Swagger UI</title>" in page
    assert '"deepLinking": true' in page
    assert '"validatorUrl": null' in page  # no badge fetched from validator.swagger.io
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in page


async def test_no_page_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith(("/ui", "/docs", "/redoc"))]
