"""Headless Chromium for the pages' tests and screenshots: Debian's `chromium` (Playwright's
own browser download cannot be reached here), driven by Playwright for Python."""

import shutil

from playwright.sync_api import Browser, Playwright, ViewportSize

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


def launch(playwright: Playwright) -> Browser:
    path = chromium_path()
    if path is None:
        raise RuntimeError("no chromium on PATH: apt-get install -y chromium")
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
