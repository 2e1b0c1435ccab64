"""Browser tests: Debian's Chromium, driven by Playwright's sync API, against pytest-django's live server.

Never a browser that `playwright install` downloads: ``chromium_path`` names Debian's, and fails on
CI (skips elsewhere) when it is missing. pytest-playwright's own ``browser`` and ``page`` fixtures
are not used, so nothing of it starts a browser of its own choosing.

Chromium starts once for this package and stops after its last test. While Playwright runs, its
event loop is running in the test thread, and Django refuses database calls from such a thread
unless DJANGO_ALLOW_ASYNC_UNSAFE is set. The variable, like the loop, lasts only as long as the
package's tests, so the rest of the suite keeps Django's check.

Screenshots and PDFs go to ``test-artifacts/browser/<database>/`` at the top of the repository
(git-ignored): `make test` runs the suite on SQLite and on PostgreSQL, and each run keeps its own.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright

from tests.browser.pages import LAPTOP, OpenPage
from tests.browser.validators import FIGURES, node_tools  # noqa: F401

# What Debian's Chromium needs on these machines, and what keeps it from calling home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
# A step that takes longer than this on a live server on the same machine is a bug, not slowness.
STEP_TIMEOUT_MS = 10_000


@pytest.fixture(scope="package")
def allow_orm_beside_playwright() -> Iterator[None]:
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def chromium(chromium_path: str, allow_orm_beside_playwright: None) -> Iterator[Browser]:
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()


@dataclass
class BrowserProblems:
    """What went wrong inside the browser while the pages looked fine: script errors, broken files."""

    found: list[str] = field(default_factory=list)
    # Error pages a test opens on purpose (its 404 and 403 pages), as (status, path).
    expected: set[tuple[int, str]] = field(default_factory=set)

    def expect_status(self, status: int, path: str) -> None:
        self.expected.add((status, path))

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.found.append(f"script error on {page.url}: {error}"))
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        if message.type == "error" and not _is_favicon(url) and not self._expected(url, message.text):
            self.found.append(f"console error: {message.text}")

    def _expected(self, url: str, text: str) -> bool:
        """An error status the test asked for; Chromium also logs it as a console error."""
        path = urlsplit(url).path
        return any(path == expected and f"status of {status} " in text for status, expected in self.expected)

    def _response(self, response: Response) -> None:
        # A refused form answers 200; anything 400 or above is a missing file or a broken page.
        if (response.status, urlsplit(response.url).path) in self.expected:
            return
        if response.status >= 400 and not _is_favicon(response.url):
            self.found.append(f"{response.status} for {response.request.method} {response.url}")


def _is_favicon(url: str) -> bool:
    """Chromium asks for /favicon.ico by itself, whatever the page links to."""
    return url.endswith("/favicon.ico")


@pytest.fixture
def browser_problems() -> BrowserProblems:
    return BrowserProblems()


@pytest.fixture
def open_page(chromium: Browser, live_server, browser_problems: BrowserProblems) -> Iterator[OpenPage]:
    """Opens a page in a fresh browser context (its own cookies) on the live server.

    Takes ``new_context`` keywords, for instance ``java_script_enabled=False``. At the end the test
    fails if any page met a script error or an error response it did not expect.
    """
    contexts = []
    problems = browser_problems

    def open_(**context_args: object) -> Page:
        context_args.setdefault("viewport", LAPTOP)
        # A browser in a London clinic: dates in date fields read 30/10/2026, not 10/30/2026.
        context_args.setdefault("locale", "en-GB")
        context_args.setdefault("timezone_id", "Europe/London")
        context = chromium.new_context(base_url=live_server.url, **context_args)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        problems.watch(page)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not problems.found, "the browser met problems:\n" + "\n".join(problems.found)


@pytest.fixture
def artifacts_dir() -> Path:
    """Where screenshots go, one folder per database run so the second run does not overwrite the first."""
    path = Path(settings.BASE_DIR) / "test-artifacts" / "browser" / connection.vendor
    path.mkdir(parents=True, exist_ok=True)
    return path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """The validators' figures of every page (tests/browser/test_validators.py), whatever -s says."""
    for figures in config.stash.get(FIGURES, []):
        terminalreporter.write_sep("-", "validators: Nu Html Checker and axe-core, page by page")
        terminalreporter.write_line(figures)
