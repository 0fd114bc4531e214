"""The pages fetched in-process, as a browser asks for them."""

from typing import Any

import httpx

HTML = {"Accept": "text/html"}


async def html_page(client: httpx.AsyncClient, url: str, expect: int = 200, **params: Any) -> str:
    """The page at `url`, answered with `expect` as HTML under the pages' script policy."""
    response = await client.get(url, params=params or None, headers=HTML)
    assert response.status_code == expect, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    return response.text
