"""Case groups (CPL-INT-137): the case system links a first instance and its appeal; a
confirmation the recipient signed in the first reaches a new dispatch of the appeal to the same
person (by identity number, never by name), which is then served on sending (OLR-31,
CPL-INT-135). Another person, a case outside the group and an older form do not count.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from api_client import Api, Body
from conftest import COURT, OTHER_COURT
from helpers import ID_NUMBER, signed_form

from delivery.sandbox.pages import SmtpSink
from delivery.staff import Role
from delivery.storage.address_confirmations import AddressConfirmation, ConfirmedAddress
from delivery.storage.schema import dispatches
from delivery.vocabulary import ContactKind
from integration.staff.support import clerk_session, csv_file, row, uploaded
from integration.tracking.support import issued, proof, text_of
from tracking.chain import verify_chain

FIRST = "(2026)浙0106民初1234号"
APPEAL = "(2026)浙0106民终77号"
ELSEWHERE = "(2026)浙0106民初9999号"
OTHER_ID_NUMBER = "330106199002021234"
CONFIRMED_EMAIL = "zhang.san@confirmed.example"


async def put_group(api: Api, group_id: str, *cases: str, court: str = COURT) -> Any:
    return await api.client.put(
        f"/api/v1/case-groups/{group_id}",
        json={"court": court, "cases": [{"case_number": c} for c in cases]},
        headers=api.auth,
    )


async def sign(
    api: Api,
    dispatch_id: str,
    case_number: str,
    *,
    id_number: str = ID_NUMBER,
    email: str = CONFIRMED_EMAIL,
    consent: bool = True,
    days_ago: int = 1,
) -> AddressConfirmation:
    """A form with an e-mail and a postal address, signed ``days_ago``."""
    addresses = (
        ConfirmedAddress(ContactKind.EMAIL, email),
        ConfirmedAddress(ContactKind.POSTAL, "杭州市西湖区文三路1号", "310012"),
    )
    return await signed_form(
        api,
        dispatch_id,
        case_number,
        addresses,
        id_number=id_number,
        consent=consent,
        confirmed_at=api.ctx.clock.now() - timedelta(days=days_ago),
        form_sha256=f"{days_ago:x}" * 64,
    )


async def first_instance(api: Api) -> str:
    """The first-instance dispatch whose request the recipient answered (to a court-found
    address, with no consent: nothing is sent before the form)."""
    body = await api.new_dispatch_body(reference="first", source="court_found", consent=False)
    return str((await api.create(body))["id"])


async def appeal_body(
    api: Api, *, case_number: str = APPEAL, id_number: str = ID_NUMBER, reference: str = "appeal"
) -> Body:
    """The appeal's dispatch as the case system sends it: the old court-found address and the
    confirmed one in another case, no consent of its own."""
    body = await api.new_dispatch_body(reference=reference, source="court_found", consent=False)
    body["case_number"] = case_number
    body["recipient"]["id_number"] = id_number
    body["recipient"]["emails"].append(
        {"address": "Zhang.San@Confirmed.example", "source": "court_found"}
    )
    return body


@pytest.mark.usefixtures("worker")
async def test_the_appeal_takes_the_confirmation_and_is_served_on_sending(
    api: Api, smtp_sink: SmtpSink
) -> None:
    linked = await put_group(api, "grp-1", FIRST, APPEAL)
    assert linked.status == 201, await linked.text()
    first = await first_instance(api)
    form = await sign(api, first, FIRST)

    created = await api.create(await appeal_body(api))
    served = await api.until_state(created["id"], "served")

    contacts = served["recipient"]["contacts"]
    # The confirmed addresses first, in the signer's order; the case system's court-found
    # address after them; its second e-mail, the confirmed one in other case, once.
    assert [(c["kind"], c["source"]) for c in contacts] == [
        ("email", "recipient_confirmed"),
        ("postal", "recipient_confirmed"),
        ("email", "court_found"),
    ]
    shown = {
        "id": form.id,
        "confirmed_at": "2026-11-22T02:00:00.000000Z",
        "form_sha256": form.form_sha256,
    }
    assert [c["confirmation"] for c in contacts] == [shown, shown, None]
    assert served["recipient"]["e_service_consent"] == {"given": True, "basis": "express"}
    # OLR-31 / CPL-INT-135: a confirmed address is served when the mail server accepts it.
    assert (served["legal_basis"], served["served_by_channel"]) == ("OLR-31", "email")
    assert served["served_at"] == "2026-11-23T02:00:00.000000Z"
    sent_to = {tuple(m.to) for m in smtp_sink.messages}
    assert (CONFIRMED_EMAIL,) in sent_to

    events = await api.events(created["id"])
    assert verify_chain(events).valid
    [applied] = [e for e in events if e.type == "confirmed_addresses_applied"]
    assert applied.data["confirmation_id"] == form.id
    assert applied.data["form_sha256"] == form.form_sha256
    assert applied.data["confirmed_in_case"] == FIRST
    assert applied.data["group_cases"] == sorted([FIRST, APPEAL])
    assert applied.data["requested_consent"] == {"given": False, "basis": None}
    assert applied.data["contact_ids"] == [c["id"] for c in contacts[:2]]
    created_event = next(e for e in events if e.type == "dispatch_created")
    assert created_event.data["consent"] == {"given": True, "basis": "express"}
    assert created_event.data["contacts"][0]["confirmation_id"] == form.id

    # The certificate names the form that gave the served address (the dispatch's language).
    await issued(api, created["id"])
    certificate = text_of(await (await proof(api, created["id"])).read())
    assert (
        f"受送达人于2026-11-22在已签署的送达地址确认书中确认，确认书SHA-256{form.form_sha256}"
        in (certificate)
    )


async def test_a_confirmed_address_the_form_replaced_is_court_found(api: Api) -> None:
    """The case system resends the e-mail the recipient confirmed long ago beside the form's
    new one: CPL-INT-137's "until changed in writing" — the form changed it, so the old one is
    kept as court-found (no deemed service there) and the evidence names it. The postal address
    the form did not replace keeps what the case system said."""
    await put_group(api, "grp-1", FIRST, APPEAL)
    await signed_form(
        api,
        await first_instance(api),
        FIRST,
        [ConfirmedAddress(ContactKind.EMAIL, CONFIRMED_EMAIL)],
        consent=False,
    )
    body = await appeal_body(api)
    body["recipient"]["emails"] = [{"address": "old@example.com", "source": "recipient_confirmed"}]
    body["recipient"]["postal_addresses"] = [
        {"lines": "杭州市西湖区文三路1号", "postcode": "310012", "source": "recipient_confirmed"}
    ]
    created = await api.create(body)
    dispatch = await api.dispatch(created["id"])
    contacts = dispatch["recipient"]["contacts"]
    assert [(c["kind"], c["source"]) for c in contacts] == [
        ("email", "recipient_confirmed"),
        ("email", "court_found"),
        ("postal", "recipient_confirmed"),
    ]
    [applied] = [
        e for e in await api.events(created["id"]) if e.type == "confirmed_addresses_applied"
    ]
    assert applied.data["superseded_contact_ids"] == [contacts[1]["id"]]


async def test_another_person_of_the_same_name_is_not_reached(api: Api) -> None:
    await put_group(api, "grp-1", FIRST, APPEAL)
    await sign(api, await first_instance(api), FIRST)
    created = await api.create(await appeal_body(api, id_number=OTHER_ID_NUMBER))
    dispatch = await api.dispatch(created["id"])
    assert {c["source"] for c in dispatch["recipient"]["contacts"]} == {"court_found"}
    assert dispatch["recipient"]["e_service_consent"] == {"given": False, "basis": None}
    assert "confirmed_addresses_applied" not in await api.event_types(created["id"])


async def test_a_case_outside_the_group_is_not_reached(api: Api) -> None:
    await put_group(api, "grp-1", FIRST, APPEAL)
    await sign(api, await first_instance(api), FIRST)
    created = await api.create(await appeal_body(api, case_number=ELSEWHERE))
    dispatch = await api.dispatch(created["id"])
    assert all(c["confirmation"] is None for c in dispatch["recipient"]["contacts"])
    assert "confirmed_addresses_applied" not in await api.event_types(created["id"])


async def test_an_ungrouped_case_reaches_its_own_later_dispatches_and_the_page_says_so(
    api: Api,
) -> None:
    form = await sign(api, await first_instance(api), FIRST)
    created = await api.create(await appeal_body(api, case_number=FIRST))
    contacts = (await api.dispatch(created["id"]))["recipient"]["contacts"]
    assert contacts[0]["confirmation"]["id"] == form.id
    await clerk_session(api)
    for lang, words in (
        ("en", "confirmed by the recipient on 2026-11-22 (form 111111111111)"),
        ("zh-CN", "受送达人于 2026-11-22 确认（确认书 111111111111）"),
    ):
        page = await api.client.get(f"/staff/dispatches/{created['id']}", params={"lang": lang})
        html = await page.text()
        assert html.count(f'data-confirmation="{form.id}"') == 2, lang  # e-mail and post
        assert words in html, lang


async def test_a_newer_confirmation_replaces_the_older_and_a_refusal_stands(api: Api) -> None:
    """CPL-INT-137: until the recipient changes them in writing — the newer form wins, and its
    refusal of e-service stands against the consent the request claims (OLR-29/30)."""
    await put_group(api, "grp-1", FIRST, APPEAL)
    first = await first_instance(api)
    await sign(api, first, FIRST, email="old@confirmed.example", days_ago=5)
    newer = await sign(api, first, APPEAL, email="new@confirmed.example", consent=False)
    body = await appeal_body(api)
    body["recipient"]["e_service_consent"] = {"given": True, "basis": "contract"}
    created = await api.create(body)
    dispatch = await api.dispatch(created["id"])
    contacts = dispatch["recipient"]["contacts"]
    assert contacts[0]["confirmation"]["id"] == newer.id
    assert "old@" not in str(contacts)
    assert dispatch["recipient"]["e_service_consent"] == {"given": False, "basis": None}
    [applied] = [
        e for e in await api.events(created["id"]) if e.type == "confirmed_addresses_applied"
    ]
    assert applied.data["requested_consent"] == {"given": True, "basis": "contract"}
    assert applied.data["consent_given"] is False


async def test_the_group_is_set_read_and_unlinked(api: Api) -> None:
    assert (await put_group(api, "grp-1", FIRST, APPEAL)).status == 201
    again = await put_group(api, "grp-1", APPEAL)  # the first instance taken out
    assert again.status == 200
    body = await again.json()
    assert [c["case_number"] for c in body["cases"]] == [APPEAL]
    assert body["cases"][0]["linked_at"] == "2026-11-23T02:00:00.000000Z"
    read = await api.client.get(
        "/api/v1/case-groups/grp-1", params={"court": COURT}, headers=api.auth
    )
    assert (read.status, await read.json()) == (200, body)
    gone = await api.client.delete(
        "/api/v1/case-groups/grp-1", params={"court": COURT}, headers=api.auth
    )
    assert gone.status == 204
    missing = await api.client.get(
        "/api/v1/case-groups/grp-1", params={"court": COURT}, headers=api.auth
    )
    assert missing.status == 404


async def test_a_case_in_another_group_is_refused_not_moved(api: Api) -> None:
    await put_group(api, "grp-1", FIRST, APPEAL)
    refused = await put_group(api, "grp-2", ELSEWHERE, APPEAL)
    assert refused.status == 409
    problem = await refused.json()
    assert problem["type"] == "urn:songda:problem:case-in-another-group"
    assert problem["errors"] == [
        {"field": "cases[1].case_number", "message": "linked to group grp-1", "group_id": "grp-1"}
    ]
    unchanged = await api.client.get(
        "/api/v1/case-groups/grp-2", params={"court": COURT}, headers=api.auth
    )
    assert unchanged.status == 404  # nothing half-saved


async def test_bad_requests_name_their_fields(api: Api) -> None:
    response = await api.client.put(
        "/api/v1/case-groups/grp-1",
        json={"court": COURT, "cases": [{"case_number": FIRST}, {"case_number": FIRST}, 7], "x": 1},
        headers=api.auth,
    )
    assert response.status == 422
    fields = [e["field"] for e in (await response.json())["errors"]]
    assert fields == ["x", "cases[1].case_number", "cases[2]"]
    bad_id = await api.client.get(
        "/api/v1/case-groups/a%20b", params={"court": COURT}, headers=api.auth
    )
    assert bad_id.status == 422
    assert (await put_group(api, "grp-1", FIRST, court=OTHER_COURT)).status == 403
    no_court = await api.client.get("/api/v1/case-groups/grp-1", headers=api.auth)
    assert [e["field"] for e in (await no_court.json())["errors"]] == ["court"]


async def test_a_csv_batch_row_takes_the_confirmation_too(api: Api, browser: Any) -> None:
    """Every way in goes through intake: a clerk's CSV batch row of the appeal as well."""
    await put_group(api, "grp-1", FIRST, APPEAL)
    form = await sign(api, await first_instance(api), FIRST)
    clerk = await browser(Role.CLERK)
    await uploaded(clerk, csv_file([row("g-1", case_number=APPEAL, email_source="court_found")]))
    async with api.ctx.engine.connect() as conn:
        query = sa.select(dispatches.c.id).where(dispatches.c.reference == "g-1")
        dispatch_id = str(await conn.scalar(query))
    dispatch = await api.dispatch(dispatch_id)
    contacts = dispatch["recipient"]["contacts"]
    assert [c["confirmation"]["id"] if c["confirmation"] else None for c in contacts] == [
        form.id,
        form.id,
        None,
    ]
    assert "confirmed_addresses_applied" in await api.event_types(dispatch_id)
