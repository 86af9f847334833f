"""Fixtures for the browser tests: Debian's Chromium driven by Playwright (the Python package)
against the test's own server.

The server is the ``client`` fixture's: aiohttp's TestServer runs the real application
(``create_app(ctx)``) on a loopback port, so the browser and the test's API calls (the ``api``
fixture) reach the same application, database and worker. Chromium is ``/usr/bin/chromium``
(``apt-get install chromium``; ``.ci/run`` installs it): never a browser Playwright downloads.
A missing Chromium fails the tests rather than skipping them. See
docs/decisions/0016-browser-tests.md for why the browser is launched per test.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, BrowserContext, async_playwright

from templates.fonts import FONT_DIR

from .screens import Album, Screen

CHROMIUM = Path(os.environ.get("SONGDA_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESK = {"viewport": {"width": 1280, "height": 900}}
# The court's own place (Hangzhou), for pages that ask for the field server's location.
COURT_PLACE = {"latitude": 30.2741, "longitude": 120.1551, "accuracy": 15}

ScreenFactory = Callable[..., Awaitable[Screen]]


@pytest.fixture
def base_url(client: TestClient[Any, Any]) -> str:
    """The test server's address (``http://127.0.0.1:<port>``), shared with ``api``."""
    return str(client.make_url("/")).rstrip("/")


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium; its absence fails the browser tests (they are never skipped)."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the browser tests need Debian's Chromium "
            "(apt-get install -y chromium; .ci/run installs it). Do not run `playwright install`."
        )
    return CHROMIUM


def _browser_fonts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    conf = tmp_path_factory.getbasetemp() / "browser-fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        f'<fontconfig><include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        f"<dir>{FONT_DIR}</dir></fontconfig>\n",
        encoding="utf-8",
    )
    return conf


@pytest.fixture
async def chromium(
    chromium_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # The browser is the user's, whose phone or desktop has fonts for Chinese; the suite's
        # font-less fontconfig (tests/bare_machine.py, for Songda's PDFs) would leave Chromium
        # nothing to draw with, and a bare CI machine has no CJK font: give it the machine's fonts
        # plus the CJK font Songda ships, so screenshots show Chinese rather than boxes.
        browser_env = {**os.environ, "FONTCONFIG_FILE": str(_browser_fonts(tmp_path_factory))}
        browser = await playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True, env=browser_env
        )
        yield browser
        await browser.close()


def _artifacts_for(request: pytest.FixtureRequest) -> Path:
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
async def screens(
    chromium: Browser, base_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[ScreenFactory]:
    """``await screens(phone=False)``: a new browser context (its own cookies: one person) with
    one page, in the court's locale and time zone. A phone is 390×844 with touch, and lets the
    page read its location (the court's place). ``audited=True`` lets the test inject axe-core
    (an inline script the pages' Content-Security-Policy would block; docs/decisions/0034).
    Fails the test on any console or script error."""
    album = Album(_artifacts_for(request))
    contexts: list[BrowserContext] = []
    screens_made: list[Screen] = []

    async def make(*, phone: bool = False, audited: bool = False) -> Screen:
        context = await chromium.new_context(
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            bypass_csp=audited,
            **(
                {**PHONE, "geolocation": COURT_PLACE, "permissions": ["geolocation"]}
                if phone
                else DESK
            ),
        )
        contexts.append(context)
        screen = Screen(await context.new_page(), base_url, album)
        screens_made.append(screen)
        return screen

    yield make
    for context in contexts:
        await context.close()
    problems = [p for s in screens_made for p in s.problems]
    assert not problems, "the pages logged errors:\n" + "\n".join(problems)
