"""Real-browser fixtures: Debian's Chromium driven by Playwright against a real server.

Every page a test opens is watched for console errors and failed requests (a test fails on
any), and `shot()` writes screenshots to `artifacts/screenshots/` (not committed). Without
Chromium the tests are skipped with the reason, except under CI, where they must run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"
TABLET = {"width": 800, "height": 1280}
TABLET_LANDSCAPE = {"width": 1024, "height": 768}
WALL = {"width": 1920, "height": 1080}
VIEWPORTS = {"tablet": TABLET, "tablet-landscape": TABLET_LANDSCAPE, "wall": WALL}


def _why_no_browser() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (Debian package chromium; `make test` installs it as root)"
    if not any(Path("/usr/share/fonts").rglob("NotoSansCJK*")):
        return "fonts-noto-cjk is missing: Chinese would render as boxes"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the page tests; closed after them, because Playwright's sync API
    keeps an event loop running in the thread, which later tests' asyncio.run() refuses."""
    reason = _why_no_browser()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@dataclass
class Watched:
    """A page and what went wrong on it: console errors, uncaught exceptions, 5xx answers."""

    page: Any
    context: Any
    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def allow(self, fragment: str) -> None:
        """An expected console message (e.g. a refused request the test provokes)."""
        self.allowed.append(fragment)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


@pytest.fixture
def open_page(browser: Any, server: str) -> Iterator[Callable[..., Watched]]:
    """`open_page(viewport="tablet")`: a fresh browser context (own storage) on the server."""
    opened: list[Watched] = []

    def make(viewport: str = "tablet", **options: Any) -> Watched:
        context = browser.new_context(
            viewport=VIEWPORTS[viewport], base_url=server, locale="zh-CN", **options
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        watched = Watched(page, context)

        def on_console(message: Any) -> None:
            if message.type == "error":
                watched.errors.append(f"console: {message.text}")

        def on_response(response: Any) -> None:
            if response.status >= 500:
                watched.errors.append(f"{response.status} {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: watched.errors.append(f"pageerror: {exc}"))
        page.on("response", on_response)
        opened.append(watched)
        return watched

    yield make
    problems = []
    for watched in opened:
        problems += watched.unexpected()
        watched.context.close()
    assert not problems, "errors on the page:\n" + "\n".join(problems)


def login(page: Any, username: str, password: str = PASSWORD, next_path: str = "") -> None:
    """Through the real login form, as a person would."""
    page.goto("/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url)


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot under artifacts/ (uploaded by CI, never committed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


UNLABELLED = """
() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 120))
"""

INTERACTIVE = """
() => [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
  .filter(el => el.offsetParent !== null && !el.disabled && el.type !== 'hidden')
  .filter(el => el.getAttribute('tabindex') !== '-1')
  .filter(el => !el.closest('.leaflet-container') || el.matches('.leaflet-control *'))
  .map((el, i) => { el.dataset.reach = String(i); return String(i); })
"""


def assert_accessible(page: Any, max_tabs: int = 400) -> None:
    """Every visible input has a label, and every visible control is reached with Tab."""
    unlabelled = page.evaluate(UNLABELLED)
    assert not unlabelled, f"inputs without a label: {unlabelled}"
    wanted = set(page.evaluate(INTERACTIVE))
    page.locator("body").focus()
    reached: set[str] = set()
    for _ in range(min(max_tabs, 3 * len(wanted) + 10)):
        page.keyboard.press("Tab")
        mark = page.evaluate("() => document.activeElement?.dataset?.reach ?? null")
        if mark is not None:
            reached.add(mark)
        if wanted <= reached:
            break
    missing = wanted - reached
    if missing:
        names = page.evaluate(
            "(ids) => ids.map(i => document.querySelector(`[data-reach='${i}']`).outerHTML"
            ".slice(0, 120))",
            sorted(missing),
        )
        raise AssertionError(f"controls not reachable with Tab: {names}")


def untranslated(page: Any) -> list[str]:
    """Message keys shown as such (`squad.title`) mean a missing translation."""
    found: list[str] = page.evaluate(
        r"""() => (document.body.innerText.match(/\b[a-z]+(?:\.[a-z_]+)+\b/g) || [])
            .filter(s => !/^(www|api|dispatch|[a-z]+\.(js|css|png|svg|yaml|csv|xlsx|json))/
                           .test(s))"""
    )
    return found
