"""A recipient confirms their addresses on a phone (390×844): the link a clerk's request sent
by e-mail, the identity check, the form (the court's addresses masked beside empty fields) — a
missing signature named next to its field, what was typed kept — and the signed form, stored
with express consent (CPL-INT-136, OLR-29/30)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from api_client import Api
from conftest import settled
from helpers import confirmation_link

from delivery.sandbox.pages import SmtpSink
from delivery.storage.schema import address_confirmations

from .conftest import ScreenFactory

pytestmark = pytest.mark.usefixtures("worker")


async def test_a_recipient_confirms_addresses_on_a_phone(
    api: Api, smtp_sink: SmtpSink, screens: ScreenFactory
) -> None:
    created = await api.new_dispatch(source="court_found")
    await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    path = await confirmation_link(api, smtp_sink, created["id"])

    phone = await screens(phone=True)
    assert await phone.goto(path, "check") == 200
    page = phone.page
    await page.fill("#last4", "123X")
    await phone.submit(page.locator("form[action$='/verify'] button[type=submit]"), "form")
    assert await page.locator("#signer_name").is_visible()
    # The court's e-mail, masked beside an empty field (empty keeps it; typed replaces it).
    assert "zh***@example.com" in await page.locator("#email-known").inner_text()
    assert await page.input_value("#email") == ""
    await page.fill("#phone", "13800138001")
    await page.fill("#email", "zhangsan.new@example.com")
    await page.locator("label[for=consent-yes]").tap()
    await phone.submit(page.locator("main form button[type=submit]"), "unsigned")
    # Answered 422 with the field errors: what the browser logs of it is expected.
    phone.problems[:] = [p for p in phone.problems if "422" not in p]
    error = page.locator("#signer_name-error")
    assert await error.is_visible() and "姓名" in await error.inner_text()
    assert await page.input_value("#email") == "zhangsan.new@example.com"
    assert await page.locator("#consent-yes").is_checked()

    await page.fill("#signer_name", "张三")
    await page.locator("label[for=confirm]").tap()
    await phone.submit(page.locator("main form button[type=submit]"), "signed")
    assert "您的送达地址已确认" in await page.content()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390

    async with api.ctx.engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    sa.select(address_confirmations).where(
                        address_confirmations.c.dispatch_id == created["id"]
                    )
                )
            )
            .mappings()
            .all()
        )
    [row] = rows
    assert row["consent_given"] and row["signer_name"] == "张三"
    assert [c["kind"] for c in row["contacts"]] == ["phone", "email"]
