"""The store of signed address confirmations: the newest one of the same person in the cases
asked about is the one that counts; another person's, another case's or another court's never
does."""

from __future__ import annotations

from datetime import timedelta

from api_client import Api

from delivery.ids import new_id
from delivery.storage.address_confirmations import (
    AddressConfirmation,
    ConfirmedAddress,
    insert_confirmation,
    latest_confirmation,
)
from delivery.storage.case_groups import link
from delivery.vocabulary import ContactKind

PERSON, OTHER = "a" * 64, "b" * 64


async def test_the_newest_confirmation_of_the_person_in_the_group_counts(api: Api) -> None:
    created = await api.new_dispatch()
    now = api.ctx.clock.now()

    def signed(case_number: str, id_hmac: str, days: int, phone: str) -> AddressConfirmation:
        return AddressConfirmation(
            id=new_id(),
            court=created["court"],
            case_number=case_number,
            dispatch_id=created["id"],
            id_hmac=id_hmac,
            confirmed_at=now + timedelta(days=days),
            consent_given=True,
            addresses=(ConfirmedAddress(ContactKind.PHONE, phone),),
            signer_name="张三",
            form_sha256="0" * 64,
            designated_receiver={"name": "李四", "relation": "lawyer"},
        )

    async with api.ctx.engine.begin() as conn:
        for confirmation in (
            signed("(2026)浙0106民初1号", PERSON, 0, "+8613800000001"),
            signed("(2026)浙01民终2号", PERSON, 1, "+8613800000002"),
            signed("(2026)浙01民终2号", OTHER, 2, "+8613800000003"),
            signed("(2026)浙0106执3号", PERSON, 3, "+8613800000004"),
        ):
            await insert_confirmation(conn, confirmation)
        group = ["(2026)浙0106民初1号", "(2026)浙01民终2号"]
        await link(conn, created["court"], "group-1", group, api.ctx.clock.now())
    async with api.ctx.engine.connect() as conn:
        latest = await latest_confirmation(
            conn, court=created["court"], case_number=group[0], id_hmac=PERSON
        )
        elsewhere = await latest_confirmation(
            conn, court="另一法院", case_number=group[0], id_hmac=PERSON
        )
    assert latest is not None
    assert latest.addresses == (ConfirmedAddress(ContactKind.PHONE, "+8613800000002"),)
    assert latest.designated_receiver == {"name": "李四", "relation": "lawyer"}
    assert elsewhere is None
