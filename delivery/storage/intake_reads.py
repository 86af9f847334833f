"""What a new dispatch reads before it is built, read once for the new dispatches of a group
commit's batch (delivery/storage/dispatch_batches.py, ``Prefetch``; docs/decisions/0059).

Each new dispatch read its documents, whether its recipient signed a confirmation form and the
court's staff with a statement each: three of a dispatch's eight round trips, and on SQLite
each one a hop to the database thread. A batch now reads them with one statement per table.
The legal reading stays where it was: the confirmation that applies (CPL-INT-137) is still
looked up for its dispatch alone, by ``latest_confirmation``, when the batch's read shows the
person signed a form in the court at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.staff import StaffUser
from delivery.storage.address_confirmations import confirming_people
from delivery.storage.documents import served_documents
from delivery.storage.staff import active_users


@dataclass
class IntakeNeed:
    """One new dispatch's reads: what it names, and what :func:`read_intake_needs` found."""

    api_key_id: str
    document_ids: tuple[str, ...]
    court: str
    id_hmac: str
    # Found: the named documents the key uploaded, by id; whether the recipient signed a
    # confirmation form in the court; every active staff account, by username.
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    signed_a_form: bool = False
    users: list[StaffUser] = field(default_factory=list)


async def read_intake_needs(conn: AsyncConnection, needs: Sequence[IntakeNeed]) -> None:
    """Fill every one of ``needs`` with one statement per table."""
    documents = await served_documents(conn, [(n.api_key_id, n.document_ids) for n in needs])
    signed = await confirming_people(conn, [(n.court, n.id_hmac) for n in needs])
    users = await active_users(conn)
    for need, found in zip(needs, documents, strict=True):
        need.documents = found
        need.signed_a_form = (need.court, need.id_hmac) in signed
        need.users = users
