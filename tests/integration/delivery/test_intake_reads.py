"""What a new dispatch reads before it is built (its documents, whether its recipient signed a
confirmation form, the court's staff) is read once for the new dispatches of a group commit's
batch (delivery/storage/intake_reads.py, docs/decisions/0059), and each dispatch still gets
exactly its own: its documents, its recipient's form, its owner; a document of another key is
still refused."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from api_client import Api, dispatch_body
from conftest import COURT, OTHER_COURT
from helpers import staff_account
from sqlalchemy import event

from delivery.context import Context
from delivery.identity import identity_digest
from delivery.ids import new_id
from delivery.services.api_keys import create_api_key
from delivery.storage.address_confirmations import (
    AddressConfirmation,
    ConfirmedAddress,
    insert_confirmation,
)
from delivery.vocabulary import ContactKind, EventType

pytestmark = pytest.mark.both_databases

SIGNER = "330106199202021234"  # the one recipient of the batch who signed a form
READ_TABLES = ("documents", "address_confirmations", "staff_users")


@pytest.fixture
def reads(ctx: Context) -> Iterator[Counter[str]]:
    """How many SELECTs the context's engine ran from each of :data:`READ_TABLES`."""
    seen: Counter[str] = Counter()

    def counted(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        found = re.match(r"\s*SELECT\b.*?\bFROM\s+(\w+)", statement, re.S | re.I)
        if found and found.group(1) in READ_TABLES:
            seen[found.group(1)] += 1

    engine = ctx.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counted)
    yield seen
    event.remove(engine, "before_cursor_execute", counted)


async def _signed_form(api: Api, case_number: str) -> None:
    """A confirmation form the recipient ``SIGNER`` signed in ``case_number`` (an earlier
    dispatch's, as the confirmation page stores it)."""
    earlier = await api.new_dispatch(reference="earlier")
    async with api.ctx.engine.begin() as conn:
        await insert_confirmation(
            conn,
            AddressConfirmation(
                id=new_id(),
                court=COURT,
                case_number=case_number,
                dispatch_id=earlier["id"],
                id_hmac=identity_digest(api.ctx.settings.secret_key, SIGNER),
                confirmed_at=api.ctx.clock.now(),
                consent_given=True,
                addresses=(ConfirmedAddress(ContactKind.PHONE, "+8613800000009"),),
                signer_name="张三",
                form_sha256="0" * 64,
                designated_receiver=None,
            ),
        )


async def _other_key(api: Api) -> tuple[dict[str, str], str]:
    """Another case system's key (of both courts) and a document it uploaded."""
    courts = [COURT, OTHER_COURT]
    _key, token = await create_api_key(api.ctx.engine, api.ctx.clock, "other system", courts)
    mine, theirs = api.auth, {"Authorization": f"Bearer {token}"}
    api.auth = theirs
    try:
        return theirs, await api.document()
    finally:
        api.auth = mine


async def test_a_batch_of_new_dispatches_reads_once_and_each_gets_its_own(
    api: Api, reads: Counter[str]
) -> None:
    clerk, _ = await staff_account(api.ctx, username="wang")
    await _signed_form(api, "(2026)浙0106民初1234号")
    documents = [await api.document() for _ in range(12)]
    other_auth, foreign = await _other_key(api)
    bodies = [dispatch_body([d], reference=f"batch-{n}") for n, d in enumerate(documents)]
    bodies[4]["recipient"]["id_number"] = SIGNER
    bodies[7]["documents"] = [documents[7], foreign]
    # The other key's own dispatch in the same batch: its document is its own, and the same
    # person in another court has signed no form there.
    documents.append(foreign)
    bodies.append(dispatch_body([foreign], reference="other-key", court=OTHER_COURT))
    bodies[12]["recipient"]["id_number"] = SIGNER
    keys = [api.auth] * 12 + [other_auth]
    reads.clear()

    async def post(body: dict[str, Any], auth: dict[str, str]) -> tuple[int, dict[str, Any]]:
        response = await api.client.post("/api/v1/dispatches", json=body, headers=auth)
        return response.status, await response.json()

    answers = await asyncio.gather(*(post(b, k) for b, k in zip(bodies, keys, strict=True)))
    read = Counter(reads)

    assert [status for status, _ in answers] == [201] * 7 + [422] + [201] * 5
    assert answers[7][1]["errors"] == [
        {"field": "documents", "message": f"unknown document id {foreign}"}
    ]
    created = [(n, body["id"]) for n, (status, body) in enumerate(answers) if status == 201]
    for n, dispatch_id in created:
        chain = await api.events(dispatch_id)
        first = chain[0]
        assert first.type == EventType.DISPATCH_CREATED
        assert [d["id"] for d in first.data["documents"]] == [documents[n]]
        assert set(first.data["documents"][0]) == {"id", "sha256", "title", "kind"}
        applied = [e for e in chain if e.type == EventType.CONFIRMED_ADDRESSES_APPLIED]
        api.auth = keys[n]
        detail = await api.dispatch(dispatch_id)
        contacts = detail["recipient"]["contacts"]
        # The court's one clerk; the other court has none.
        assert detail["owner_id"] == (clerk.id if n < 12 else None)
        if n == 4:
            assert len(applied) == 1
            assert [c["kind"] for c in contacts if c["confirmation"]] == ["phone"]
        else:
            assert applied == []
            assert [c["confirmation"] for c in contacts] == [None]
    api.auth = keys[0]
    # The first request is written alone; the others in batches, each read once per batch
    # (the signer's form is then looked up for its own dispatch alone).
    assert 0 < read["documents"] < len(bodies)
    assert 0 < read["staff_users"] < len(bodies)
    assert 0 < read["address_confirmations"] - 1 < len(bodies)
