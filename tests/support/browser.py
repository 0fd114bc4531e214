"""Headless Chromium for the pages' tests and screenshots: Debian's `chromium` (Playwright's
own browser download cannot be reached here), driven by Playwright for Python."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, ViewportSize, sync_playwright

# As root in a container: no sandbox, no GPU; and no traffic of the browser's own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

WIDE: ViewportSize = {"width": 1280, "height": 900}
NARROW: ViewportSize = {"width": 390, "height": 844}  # a phone


def chromium_path() -> str | None:
    return shutil.which("chromium")


@contextmanager
def launched() -> Iterator[Browser]:
    """Chromium, driven by Playwright until the block ends."""
    path = chromium_path()
    if path is None:
        raise RuntimeError("no chromium on PATH: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
