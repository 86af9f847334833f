"""Revealing a contact in full on the dispatch page (issue 14, part 4): only the owning clerk or a
supervisor, by a POST with the session's CSRF token, shown for that response only, and every
reveal recorded — listed on the page and exported as CSV, never with the contact's value."""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from api_client import Api
from conftest import OTHER_COURT

from delivery.staff import Role
from integration.staff.support import case_dispatch, other_court_system

pytestmark = pytest.mark.both_databases

EMAIL = "zhang.san@example.com"
MASKED = "zh***@example.com"
PHONE = "+8613800138000"


async def _dispatch(
    api: Api, reader: Any, reference: str, clerk: str | None
) -> tuple[str, dict[str, str]]:
    """A dispatch owned by ``clerk`` with an e-mail and a phone; its id and its contacts' ids by
    kind, as ``reader`` (a logged-in client) sees them on the page."""
    body = await api.new_dispatch_body(reference=reference, source="court_found")
    body["recipient"]["phones"] = [{"number": PHONE, "source": "court_found"}]
    if clerk is not None:
        body["clerk"] = clerk
    dispatch_id = str((await api.create(body))["id"])
    page = await _page(reader, dispatch_id)
    contacts = dict(re.findall(r'<tr data-contact="([0-9A-Z]{26})"><td>([^<]+)</td>', page))
    return dispatch_id, {"email" if "邮箱" in v else "phone": k for k, v in contacts.items()}


async def _page(client: Any, dispatch_id: str) -> str:
    response = await client.get(f"/staff/dispatches/{dispatch_id}", allow_redirects=False)
    html = await response.text()
    assert response.status == 200, html
    return str(html)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


async def _reveal(client: Any, dispatch_id: str, contact_id: str, csrf: str | None) -> Any:
    data = {} if csrf is None else {"csrf_token": csrf}
    return await client.post(
        f"/staff/dispatches/{dispatch_id}/contacts/{contact_id}/reveal", data=data
    )


async def _export(client: Any, dispatch_id: str) -> list[dict[str, str]]:
    response = await client.get(f"/staff/dispatches/{dispatch_id}/reveals.csv")
    assert response.status == 200
    return _rows(await response.read())


def _rows(body: bytes) -> list[dict[str, str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


async def test_the_owning_clerk_reveals_once_and_the_reveal_is_recorded(
    api: Api, browser: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="delivery.services.contact_reveals")
    owner = await browser(Role.CLERK, name="王书记员")
    dispatch_id, contacts = await _dispatch(api, owner.client, "rv-1", clerk=owner.user.username)
    page = await _page(owner.client, dispatch_id)
    assert EMAIL not in page and MASKED in page
    assert f'data-reveal="{contacts["email"]}"' in page  # the button, on the contact's row
    assert "尚无人查看" in page  # the audit, empty

    # A GET cannot reveal (a prefetch must not read personal data); a POST needs the token.
    url = f"/staff/dispatches/{dispatch_id}/contacts/{contacts['email']}/reveal"
    assert (await owner.client.get(url)).status == 405
    assert (await _reveal(owner.client, dispatch_id, contacts["email"], None)).status == 403

    api.ctx.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    revealed_at = api.ctx.clock.now()
    shown = await _reveal(owner.client, dispatch_id, contacts["email"], _csrf(page))
    html = await shown.text()
    assert shown.status == 200, html
    assert shown.headers["Cache-Control"] == "no-store"
    assert f'<strong class="revealed">{EMAIL}</strong>' in html
    assert "13800138000" not in html  # only the contact asked for
    assert f'data-reveal-of="{contacts["email"]}"' in html  # already in the audit
    assert "王书记员" in html.split('id="reveals"')[1]

    # The next view masks it again and lists the reveal.
    again = await _page(owner.client, dispatch_id)
    assert EMAIL not in again
    assert f'data-reveal-of="{contacts["email"]}"' in again
    # Logs say which contact, never its value.
    [logged] = [r for r in caplog.records if r.getMessage() == "contact revealed"]
    assert logged.__dict__["contact_id"] == contacts["email"]
    assert EMAIL not in str(logged.__dict__)

    export = await owner.client.get(f"/staff/dispatches/{dispatch_id}/reveals.csv")
    assert export.status == 200
    assert export.headers["Content-Type"].startswith("text/csv")
    body = await export.read()
    assert EMAIL.encode() not in body
    [row] = _rows(body)
    zone = api.ctx.settings.zone
    assert row == {
        "revealed_at": revealed_at.astimezone(zone).isoformat(),
        "dispatch_id": dispatch_id,
        "case_number": "(2026)浙0106民初1234号",
        "court": row["court"],
        "contact_id": contacts["email"],
        "contact_kind": "email",
        "staff_username": owner.user.username,
        "staff_name": "王书记员",
    }
    # Not a step of service: nothing joins the evidence chain (docs/decisions/0035).
    assert not [t for t in await api.event_types(dispatch_id) if "reveal" in t]


async def test_only_the_owner_and_supervisors_may_reveal(api: Api, browser: Any) -> None:
    owner = await browser(Role.CLERK, name="王书记员")
    other = await browser(Role.CLERK, name="李书记员")
    supervisor = await browser(Role.SUPERVISOR, name="赵法官")
    dispatch_id, contacts = await _dispatch(api, owner.client, "rv-2", clerk=owner.user.username)
    unowned_id, unowned = await _dispatch(api, owner.client, "rv-3", clerk=None)

    page = await _page(other.client, dispatch_id)
    assert "data-reveal=" not in page  # no button for a clerk who does not own it
    refused = await _reveal(other.client, dispatch_id, contacts["phone"], _csrf(page))
    assert refused.status == 403
    assert PHONE not in await refused.text()

    # A contact of another dispatch, through this dispatch's URL: nothing to reveal.
    page = await _page(owner.client, dispatch_id)
    crossed = await _reveal(owner.client, dispatch_id, unowned["phone"], _csrf(page))
    assert crossed.status == 404

    page = await _page(supervisor.client, unowned_id)
    shown = await _reveal(supervisor.client, unowned_id, unowned["phone"], _csrf(page))
    assert shown.status == 200
    assert PHONE in await shown.text()

    # The refused and the crossed reveals recorded nothing; any clerk of the court reads the audit.
    assert await _export(other.client, dispatch_id) == []
    assert await _export(owner.client, dispatch_id) == []
    [row] = await _export(owner.client, unowned_id)
    assert row["staff_name"] == "赵法官" and row["contact_kind"] == "phone"


async def test_the_court_wide_export_is_for_supervisors_and_keeps_to_their_courts(
    api: Api, browser: Any
) -> None:
    owner = await browser(Role.CLERK)
    supervisor = await browser(Role.SUPERVISOR, name="赵法官")
    dispatch_id, contacts = await _dispatch(api, owner.client, "rv-4", clerk=owner.user.username)
    page = await _page(owner.client, dispatch_id)
    assert (await _reveal(owner.client, dispatch_id, contacts["email"], _csrf(page))).status == 200
    other_court = await other_court_system(api)
    theirs = await case_dispatch(other_court, "rv-5", court=OTHER_COURT, source="court_found")
    elsewhere = await browser(Role.SUPERVISOR, courts=(OTHER_COURT,))
    their_page = await _page(elsewhere.client, theirs)
    their_contact = re.findall(r'data-contact="([0-9A-Z]{26})"', their_page)[0]
    shown = await _reveal(elsewhere.client, theirs, their_contact, _csrf(their_page))
    assert shown.status == 200
    # Another court's dispatch does not exist for this court's staff.
    assert (await owner.client.get(f"/staff/dispatches/{theirs}/reveals.csv")).status == 404
    mine = _csrf(await _page(supervisor.client, dispatch_id))
    assert (await _reveal(supervisor.client, theirs, their_contact, mine)).status == 404

    assert (await owner.client.get("/staff/reveals.csv")).status == 403
    export = await supervisor.client.get("/staff/reveals.csv")
    assert export.status == 200
    [row] = _rows(await export.read())
    assert row["dispatch_id"] == dispatch_id and row["contact_id"] == contacts["email"]
    today = api.ctx.clock.now().astimezone(api.ctx.settings.zone).date()
    before = (today - timedelta(days=1)).isoformat()
    empty = await supervisor.client.get("/staff/reveals.csv", params={"from": before, "to": before})
    assert _rows(await empty.read()) == []
    bad = await supervisor.client.get("/staff/reveals.csv", params={"from": "yesterday"})
    assert bad.status == 422
    assert (await bad.json())["errors"][0]["field"] == "from"
