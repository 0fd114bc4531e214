"""A live service for the browser tests: the real `llm-compare serve` on the real PostgreSQL,
with echo models that are slow or fail, and a headless Chromium to drive its pages."""

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page

from tests.support.browser import WIDE, launched
from tests.support.database import scratch_database
from tests.support.service_process import service_with_models

CATALOGUE = [
    # One call at a time, each a while: runs stay going long enough to watch and to cancel.
    {"name": "slow", "adapter": "echo", "upstream": "echo", "concurrency": 1,
     "options": {"delay_ms": 300}},
    # Fails its first two calls: with two attempts a pair fails, and succeeds when retried.
    {"name": "flaky", "adapter": "echo", "upstream": "echo",
     "options": {"fail_first_attempts": 2, "fail_status": 503}},
]  # fmt: skip


@dataclass
class Live:
    url: str
    api: httpx.Client

    def submit(self, **body: Any) -> dict[str, Any]:
        """A run made through the API; waits for it to finish unless `wait` is 0."""
        wait = body.pop("wait", 30)
        response = self.api.post("/compare", params={"wait": wait}, json=body)
        assert response.status_code in (200, 202), response.text
        run: dict[str, Any] = response.json()
        return run

    def linked_run(self, link: Locator) -> dict[str, Any]:
        """The run a page's link points to, read through the API once it has finished."""
        href = link.get_attribute("href")
        assert href is not None
        run: dict[str, Any] = self.api.get(
            f"/runs/{href.rsplit('/', 1)[1]}", params={"wait": 30}
        ).json()
        return run


@pytest.fixture(scope="module")
async def live_db(template_database: str) -> AsyncIterator[str]:
    async with scratch_database(template_database, "llmc_web") as url:
        yield url


@pytest.fixture(scope="module")
def live(live_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("web")
    with service_with_models(live_db, folder, CATALOGUE, timeout=60) as (service, api):
        yield Live(service.url, api)


@pytest.fixture(scope="module")
def browser(live: Live) -> Iterator[Browser]:
    # After the service (whose database fixture is async): while Playwright's sync API runs,
    # its event loop is the running one, and pytest-asyncio cannot run fixtures.
    with launched() as browser:
        yield browser


@dataclass
class Tab:
    page: Page
    errors: list[str] = field(default_factory=list)  # console errors: CSP refusals among them

    def goto(self, url: str) -> Page:
        self.page.goto(url)
        return self.page


@pytest.fixture
def tab(browser: Browser, live: Live) -> Iterator[Tab]:
    context = browser.new_context(base_url=live.url, viewport=WIDE)
    tab = Tab(context.new_page())

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            tab.errors.append(message.text)

    tab.page.on("console", console)
    tab.page.on("pageerror", lambda error: tab.errors.append(str(error)))
    yield tab
    context.close()
