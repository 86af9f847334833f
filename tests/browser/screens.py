"""What a browser test holds: one page of Chromium on the test's server, and the steps every
scenario repeats (go to a path, submit a form, log in) — each page it shows is kept as a
screenshot under ``tests/artifacts/<test>/``, numbered in the order it was seen.

Console errors and uncaught script errors are collected as they happen (a Content-Security-Policy
violation is one): the ``screens`` fixture fails the test when any were seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import ConsoleMessage, Error, Locator, Page

# Chromium asks every site for an icon; Songda has none (a 404 that is not a page's fault).
IGNORED = ("/favicon.ico",)


@dataclass
class Album:
    """One test's screenshots, numbered across everyone's pages in the order they were seen."""

    folder: Path
    count: int = 0

    def next_path(self, name: str) -> Path:
        self.count += 1
        return self.folder / f"{self.count:02d}-{name}.png"


@dataclass
class Screen:
    page: Page
    base_url: str
    album: Album
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", self._page_error)

    def _console(self, message: ConsoleMessage) -> None:
        source = message.location.get("url", "")
        if message.type == "error" and not source.endswith(IGNORED):
            self.problems.append(f"console: {message.text} ({source or self.page.url})")

    def _page_error(self, error: Error) -> None:
        self.problems.append(f"script: {error.message} ({self.page.url})")

    @property
    def path(self) -> str:
        """The current URL without the server's address."""
        return self.page.url.removeprefix(self.base_url)

    async def shot(self, name: str) -> Path:
        """A full-page screenshot, ``NN-name.png``."""
        target = self.album.next_path(name)
        await self.page.screenshot(path=str(target), full_page=True)
        return target

    async def goto(self, path: str, name: str) -> int:
        """Open ``path`` (following redirects) and keep a screenshot; the final status."""
        response = await self.page.goto(self.base_url + path)
        assert response is not None
        await self.shot(name)
        return response.status

    async def submit(self, button: Locator, name: str) -> None:
        """Click a form's submit button, wait for the page the server answers with, keep it."""
        async with self.page.expect_navigation():
            await button.click()
        await self.shot(name)

    async def draw(self, canvas: Locator, points: list[tuple[float, float]]) -> None:
        """Draw a stroke with a finger on ``canvas`` through ``points`` (fractions of its width
        and height): real touch events, as a phone's screen sends them."""
        await canvas.scroll_into_view_if_needed()
        box = await canvas.bounding_box()
        assert box is not None
        touch = await self.page.context.new_cdp_session(self.page)
        for index, (x, y) in enumerate(points):
            kind = "touchStart" if index == 0 else "touchMove"
            where = {"x": box["x"] + x * box["width"], "y": box["y"] + y * box["height"]}
            await touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [where]})
        await touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        await touch.detach()

    async def log_in(self, username: str, password: str) -> None:
        """Fill in the login page shown now; back where the login was asked for."""
        assert self.path.startswith("/login"), self.page.url
        await self.page.fill("input[name=username]", username)
        await self.page.fill("input[name=password]", password)
        button = self.page.locator("form[action='/login'] button[type=submit]")
        await self.submit(button, "logged-in")
        assert not self.path.startswith("/login"), "the login was refused"
