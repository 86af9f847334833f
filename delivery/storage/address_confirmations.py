"""Reading and writing signed address confirmations (CPL-INT-136/137).

The contract between the recipient's confirmation (which records one) and intake (which
applies the latest one of the same person in the same case group to a new dispatch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.storage.case_groups import grouped_with
from delivery.storage.schema import address_confirmations, dispatches
from delivery.vocabulary import ContactKind


@dataclass(frozen=True)
class ConfirmedAddress:
    kind: ContactKind
    value: str
    postcode: str | None = None


@dataclass(frozen=True)
class AddressConfirmation:
    """One signed form: the addresses it names, in the signer's order, and the consent given."""

    id: str
    court: str
    case_number: str
    dispatch_id: str
    id_hmac: str
    confirmed_at: datetime
    consent_given: bool
    addresses: tuple[ConfirmedAddress, ...]
    signer_name: str
    form_sha256: str
    form_media_id: str | None = None
    designated_receiver: dict[str, str] | None = None


def _row(confirmation: AddressConfirmation) -> dict[str, Any]:
    return {
        "id": confirmation.id,
        "court": confirmation.court,
        "case_number": confirmation.case_number,
        "dispatch_id": confirmation.dispatch_id,
        "id_hmac": confirmation.id_hmac,
        "confirmed_at": confirmation.confirmed_at,
        "consent_given": confirmation.consent_given,
        "contacts": [
            {"kind": a.kind.value, "value": a.value, "postcode": a.postcode}
            for a in confirmation.addresses
        ],
        "designated_receiver": confirmation.designated_receiver,
        "signer_name": confirmation.signer_name,
        "form_sha256": confirmation.form_sha256,
        "form_media_id": confirmation.form_media_id,
    }


def _confirmation(row: sa.RowMapping) -> AddressConfirmation:
    return AddressConfirmation(
        id=row["id"],
        court=row["court"],
        case_number=row["case_number"],
        dispatch_id=row["dispatch_id"],
        id_hmac=row["id_hmac"],
        confirmed_at=row["confirmed_at"],
        consent_given=row["consent_given"],
        addresses=tuple(
            ConfirmedAddress(ContactKind(c["kind"]), c["value"], c.get("postcode"))
            for c in row["contacts"]
        ),
        signer_name=row["signer_name"],
        form_sha256=row["form_sha256"],
        form_media_id=row["form_media_id"],
        designated_receiver=row["designated_receiver"],
    )


async def insert_confirmation(conn: AsyncConnection, confirmation: AddressConfirmation) -> None:
    """Record a signed confirmation, in the transaction that records its evidence."""
    await conn.execute(address_confirmations.insert(), _row(confirmation))


async def latest_confirmation(
    conn: AsyncConnection, *, court: str, case_number: str, id_hmac: str
) -> AddressConfirmation | None:
    """The newest confirmation by the person with ``id_hmac`` in ``case_number`` of ``court`` or
    any case grouped with it (CPL-INT-137): a newer one replaces the older in writing. One
    statement, the group read inside it: most new dispatches have no confirmation at all."""
    case = address_confirmations.c.case_number
    row = (
        (
            await conn.execute(
                sa.select(address_confirmations)
                .where(
                    address_confirmations.c.court == court,
                    address_confirmations.c.id_hmac == id_hmac,
                    sa.or_(case == case_number, case.in_(grouped_with(court, case_number))),
                )
                .order_by(
                    address_confirmations.c.confirmed_at.desc(), address_confirmations.c.id.desc()
                )
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else _confirmation(row)


async def confirming_people(
    conn: AsyncConnection, people: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Those of ``people`` — (court, keyed digest of the identity number) — who signed any
    confirmation in the court: the only ones :func:`latest_confirmation` can find a form for.
    One statement for a batch of new dispatches, most of whose recipients signed none."""
    if not people:
        return set()
    c = address_confirmations.c
    rows = await conn.execute(
        sa.select(c.court, c.id_hmac)
        .distinct()
        .where(
            c.court.in_(sorted({court for court, _ in people})),
            c.id_hmac.in_(sorted({id_hmac for _, id_hmac in people})),
        )
    )
    return {(court, id_hmac) for court, id_hmac in rows}


async def dispatch_id_hmac(conn: AsyncConnection, dispatch_id: str) -> str:
    """The keyed digest of the identity number of the dispatch's recipient: a form it answers
    is indexed under it."""
    return str(
        (
            await conn.execute(
                sa.select(dispatches.c.id_hmac).where(dispatches.c.id == dispatch_id)
            )
        ).scalar_one()
    )


@dataclass(frozen=True)
class ConfirmationRef:
    """How a contact names the form it came from (the dispatch page, the API, the certificate)."""

    id: str
    confirmed_at: datetime
    form_sha256: str


async def confirmation_refs(
    conn: AsyncConnection, ids: Sequence[str]
) -> dict[str, ConfirmationRef]:
    """The forms ``ids`` name, by id (one statement on the primary key)."""
    if not ids:
        return {}
    c = address_confirmations.c
    rows = await conn.execute(
        sa.select(c.id, c.confirmed_at, c.form_sha256).where(c.id.in_(sorted(set(ids))))
    )
    return {row.id: ConfirmationRef(*row) for row in rows}
