"""What the public ``/verify`` and ``/check`` pages read (delivery/services/verification.py):
a dispatch's services and certificates, the timestamps on its chain, a notice code's owner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from delivery.domain import ContactKind
from delivery.storage.dispatches import load_documents
from delivery.storage.engine import READ_ONLY
from delivery.storage.schema import certificates, contacts, dispatches, events, notice_codes


@dataclass(frozen=True)
class ServiceRows:
    dispatch: Any  # court, case number, state
    served: list[Any]  # (seq, hash, data) of each service event, in chain order
    certificates: list[Any]  # (chain head, chain seq, superseded at)
    document_titles: tuple[str, ...]


async def service_rows(
    engine: AsyncEngine, dispatch_id: str, served_type: str
) -> ServiceRows | None:
    """The dispatch's events of ``served_type`` and its certificates, or ``None``."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        dispatch = (
            await conn.execute(
                sa.select(dispatches.c.court, dispatches.c.case_number, dispatches.c.state).where(
                    dispatches.c.id == dispatch_id
                )
            )
        ).first()
        if dispatch is None:
            return None
        served = await conn.execute(
            sa.select(events.c.seq, events.c.hash, events.c.data)
            .where(events.c.dispatch_id == dispatch_id, events.c.type == served_type)
            .order_by(events.c.seq)
        )
        certs = list(
            await conn.execute(
                sa.select(
                    certificates.c.chain_head,
                    certificates.c.chain_seq,
                    certificates.c.superseded_at,
                ).where(certificates.c.dispatch_id == dispatch_id)
            )
        )
        titles = tuple(d.title for d in await load_documents(conn, dispatch_id))
    return ServiceRows(dispatch, list(served), certs, titles)


async def events_of_types(
    engine: AsyncEngine, dispatch_id: str, types: tuple[str, ...]
) -> list[Any]:
    """(seq, type, data) of the dispatch's events of ``types``, in chain order."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        rows = await conn.execute(
            sa.select(events.c.seq, events.c.type, events.c.data)
            .where(events.c.dispatch_id == dispatch_id, events.c.type.in_(types))
            .order_by(events.c.seq)
        )
        return list(rows)


async def code_owner(engine: AsyncEngine, code: str) -> tuple[Any, list[str]]:
    """The dispatch id, court, case number and identity last 4 of the notice code's dispatch
    (``None`` for an unknown code), with its phone numbers."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        row = (
            await conn.execute(
                sa.select(
                    notice_codes.c.dispatch_id,
                    dispatches.c.court,
                    dispatches.c.case_number,
                    dispatches.c.id_last4,
                )
                .join(dispatches, dispatches.c.id == notice_codes.c.dispatch_id)
                .where(notice_codes.c.code == code)
            )
        ).first()
        phones: list[str] = []
        if row is not None:
            phones = list(
                await conn.scalars(
                    sa.select(contacts.c.value).where(
                        contacts.c.dispatch_id == row.dispatch_id,
                        contacts.c.kind == ContactKind.PHONE.value,
                    )
                )
            )
    return row, phones
