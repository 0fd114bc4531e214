"""Screenshots of the pages, for the README: `python -m scripts.screenshots` from the root.

Starts `llm-compare serve` (on DATABASE_URL if set, else its embedded PostgreSQL in a
temporary directory) with the default catalogue, whose keyless echo models answer; fills it
with a small demo (a finished run with truncated answers and an answer holding markup, shown
as text, and votes on its answers; its replay cut short, with votes across the two; a run
still going); and writes (the sign-in form from the
same service started again with LLM_COMPARE_AUTH=on)
docs/screenshots/PAGE-WIDTH.png at 1280 and 390 px with Debian's Chromium
(`apt-get install -y chromium`).
"""

import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page

from tests.support.browser import NARROW, WIDE, launched
from tests.support.service_process import ServiceProcess

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"

DEMO = {
    "name": "dog training, three templates",
    "tags": {"demo": "screenshots"},
    "prompts": [
        "Tell me how to train my dog to sit",
        "What do you think of Mars?",
        "Who is the boss of Twitter?",
        'Explain <script>alert("x")</script> and <img src=x onerror=alert(1)> to me',
    ],
    "models": [
        "echo",
        {"model": "echo", "template": "llama2-chat", "label": "echo [INST]"},
        {
            "model": "echo",
            "template": "chatml",
            "label": "echo chatml, 6 tokens",
            "params": {"max_new_tokens": 6},
        },
    ],
}
GOING = {
    "name": "nightly, still going",
    "tags": {"ckpt": "42"},
    "prompts": [f"Prompt number {i}" for i in range(400)],
    "models": ["echo-slow", "echo"],
}


VOTES = 24


def _liking(output: str) -> int:
    """How much the demo's voters like an answer: [INST] best, chatml's six tokens worst."""
    if output.startswith("[INST]"):
        return 3
    return 1 if output.startswith("<|im_start|>") else 2


def vote(api: httpx.Client, run_id: str) -> None:
    """VOTES blind votes on the run's answers, by voters who mostly agree with `_liking`."""
    chance = random.Random(42)
    for _ in range(VOTES):
        battle = api.post(f"/runs/{run_id}/battles", json={}).json()
        a, b = _liking(battle["a"]["output"]), _liking(battle["b"]["output"])
        better, worse = ("a", "b") if a >= b else ("b", "a")
        winner = chance.choices([better, worse, "tie"], weights=[75, 15, 10])[0]
        api.post(f"/battles/{battle['id']}/vote", json={"winner": winner}).raise_for_status()


def vote_across(api: httpx.Client, a_id: str, b_id: str) -> None:
    """People's votes on each answer of run a against its paired answer in run b (the same
    prompt and contender): b's answers are cut short, so mostly a wins."""
    chance = random.Random(1)
    a, b = (api.get(f"/runs/{run_id}").json()["prompts"] for run_id in (a_id, b_id))
    for prompt_a, prompt_b in zip(a, b, strict=True):
        for label, answer in prompt_a["responses"].items():
            winner = chance.choices(["a", "b", "tie"], weights=[70, 10, 20])[0]
            body = {"a": answer["id"], "b": prompt_b["responses"][label]["id"], "winner": winner,
                    "voter": "reviewer"}  # fmt: skip
            api.post("/votes", json=body).raise_for_status()


def shoot(
    page: Page, url: str, name: str, opened: str = "", then: Callable[[Page], None] | None = None
) -> None:
    """The page at both widths, with the <details> `opened` (a selector) open, after `then`."""
    for size, width in ((WIDE, 1280), (NARROW, 390)):
        page.set_viewport_size(size)
        page.goto(url)
        page.wait_for_load_state("networkidle")
        if opened:
            page.locator(opened).evaluate("element => { element.open = true; }")
        if then is not None:
            then(page)
        path = OUT / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        print(path.relative_to(OUT.parents[1]))


def _voted(page: Page) -> None:
    """The arena after a vote: the reveal."""
    page.get_by_role("button", name="A is better").click()
    page.locator("[data-voted]").wait_for()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"LLM_COMPARE_DATA_DIR": str(Path(tmp) / "data")}
        if os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = os.environ["DATABASE_URL"]
        with ServiceProcess(env, Path(tmp) / "service.log") as service:
            with httpx.Client(base_url=service.url, timeout=60) as api:
                demo = api.post("/compare", params={"wait": 30}, json=DEMO).json()
                api.post("/compare", json=GOING).raise_for_status()
                vote(api, demo["id"])
                # The checkpoint after: the same prompts cut at 4 tokens, to diff with the demo.
                shorter = {"params": {"max_new_tokens": 4}, "name": "dog training, 4 tokens"}
                replay = api.post(f"/runs/{demo['id']}/replay", json=shorter).json()
                api.get(f"/runs/{replay['id']}", params={"wait": 30}).raise_for_status()
                vote_across(api, demo["id"], replay["id"])
            with launched() as browser:
                page = browser.new_page(viewport=WIDE)
                shoot(page, f"{service.url}/ui", "runs")
                shoot(page, f"{service.url}/ui/runs/{demo['id']}", "run", opened="#sent-0-2")
                shoot(page, f"{service.url}/ui/compare?example=echo", "compare")
                shoot(page, f"{service.url}/ui/runs/{demo['id']}/arena", "arena", then=_voted)
                shoot(page, f"{service.url}/ui/leaderboard?run={demo['id']}", "leaderboard")
                diff = f"{service.url}/ui/runs/{demo['id']}/diff/{replay['id']}"
                shoot(page, diff, "diff")
                page.set_viewport_size(WIDE)
                page.goto(f"{service.url}/docs")
                page.wait_for_selector(".opblock")
                page.screenshot(path=str(OUT / "docs-1280.png"))
                print("docs/screenshots/docs-1280.png")
        # The sign-in form, from the same service started again with keys required.
        guarded = {**env, "LLM_COMPARE_AUTH": "on", "LLM_COMPARE_ADMIN_KEY": "lc_" + "x" * 40}
        with ServiceProcess(guarded, Path(tmp) / "guarded.log") as service:
            with launched() as browser:
                page = browser.new_page(viewport=WIDE)
                shoot(page, f"{service.url}/ui/compare", "login")


if __name__ == "__main__":
    main()
