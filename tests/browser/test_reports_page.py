"""Browser scenario of the report page (issue 6, point 8): a supervisor asks for the first
quarter's figures by channel and sees both charts drawn — the weekly rate lines and the bars per
channel — as SVG with the population's data in them.

The population is the reports tests' (tests/integration/delivery/support.py): known dispatches
served by each channel, failed and cancelled, across months, on the manual clock.
"""

from __future__ import annotations

from api_client import Api
from conftest import COURT, OTHER_COURT
from helpers import staff_account
from integration.delivery.support import build_population

from delivery.clock import ManualClock
from delivery.services.api_keys import create_api_key
from delivery.staff import Role

from .conftest import ScreenFactory


async def test_the_report_page_draws_its_charts(
    api: Api, clock: ManualClock, screens: ScreenFactory
) -> None:
    _key, token = await create_api_key(api.ctx.engine, api.ctx.clock, "both", [COURT, OTHER_COURT])
    both = Api(api.client, {"Authorization": f"Bearer {token}"}, api.ctx)
    await build_population(both, api.ctx, clock)
    judge, password = await staff_account(
        api.ctx, Role.SUPERVISOR, courts=(COURT, OTHER_COURT), display_name="孙法官"
    )

    desk = await screens()
    page = desk.page
    await desk.goto("/staff/reports", "login")
    await desk.log_in(judge.username, password)
    assert desk.path.startswith("/staff/reports")
    form = page.locator("form.report")
    await form.locator("input[name=from]").fill("2026-01-01")
    await form.locator("input[name=to]").fill("2026-03-31")
    await form.locator("select[name=group_by]").select_option("channel")
    await desk.submit(form.locator("button[type=submit]"), "report")
    assert "from=2026-01-01" in desk.path and "group_by=channel" in desk.path

    weekly = page.locator("#weekly-rates svg")
    bars = page.locator("#channel-bars svg")
    for chart in (weekly, bars):
        box = await chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100  # drawn, visible
    assert await weekly.locator("polyline").count() > 0
    assert await weekly.locator("circle").count() == 6 + 7  # usage in 6 weeks, success in 7
    assert await bars.locator("rect").count() == 3 * 5  # served, failed, cancelled × 5 channels
    heights = [
        float(h or 0)
        for h in await bars.locator("rect").evaluate_all(
            "rects => rects.map(r => r.getAttribute('height'))"
        )
    ]
    assert max(heights) > 0 and heights.count(max(heights)) == 1  # e-mail's 3 served: tallest
    tallest = bars.locator("rect").nth(heights.index(max(heights)))
    assert await tallest.locator("title").text_content() == "3"
