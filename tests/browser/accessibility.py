"""What the accessibility tests check on a page: axe-core's findings and the phone's width, and
the keyboard steps the keyboard-only paths repeat.

axe-core is vendored (tests/browser/vendor/axe-core/, its README says which version and how to
update it) and injected into the page under test; only ``serious`` and ``critical`` findings
fail a test (issue 14: "0 serious/critical findings"). Each finding is written out with its rule,
impact, the element's CSS target and its HTML, so a failure says what to fix and where.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

from .screens import Screen

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
PHONE_WIDTH = 390
# Enough Tab presses to cross the longest page a path goes through (the visit form, the
# dispatch page with its action forms) without looping forever on a focus trap.
MAX_TABS = 120


def _described(page_name: str, violation: dict[str, Any]) -> list[str]:
    return [
        f"{page_name}: {violation['id']} ({violation['impact']}) at {node['target']}: "
        f"{node['html'][:300]} — {violation['help']}"
        for node in violation["nodes"]
    ]


async def axe_findings(screen: Screen, page_name: str) -> list[str]:
    """The serious and critical axe-core violations on the page shown now, one line per
    element. The screen's context must be ``audited`` (axe is an inline script)."""
    page = screen.page
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run()")
    return [
        line
        for violation in result["violations"]
        if violation["impact"] in BLOCKING
        for line in _described(page_name, violation)
    ]


async def overflow(screen: Screen, page_name: str) -> list[str]:
    """On a phone: the page must not be wider than the screen (no sideways scrolling). Names
    the widest elements reaching past the right edge when it is."""
    page = screen.page
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    if width <= PHONE_WIDTH:
        return []
    culprits = await page.evaluate(
        """limit => Array.from(document.body.querySelectorAll('*'))
            .filter(e => e.getBoundingClientRect().right > limit)
            .map(e => `${e.outerHTML.slice(0, 120)} right=${e.getBoundingClientRect().right}`)
            .slice(-5)""",
        PHONE_WIDTH,
    )
    return [f"{page_name}: {width} px wide in a {PHONE_WIDTH} px screen; past the edge: {culprits}"]


async def focused(page: Page, selector: str) -> bool:
    return bool(await page.evaluate("s => document.activeElement?.matches(s) ?? false", selector))


async def tab_to(page: Page, selector: str) -> None:
    """Press Tab until the element matching ``selector`` has the focus (as a keyboard user
    moves through a page); fails when it is never reached."""
    for _ in range(MAX_TABS):
        if await focused(page, selector):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the focus in {MAX_TABS} Tab presses")
