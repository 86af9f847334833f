"""A certificate blocked by a character outside the fonts, end to end (issue 11 §1, decision
0019): served through the API and the worker, the certificate is not issued; an event records
the character and the field, the clerk's queue flags the dispatch and its page names them, a PDF
asked for on the spot is a 409 naming them — and issuing resumes once a supplementary font covers
the character. (The fonts themselves: tests/unit/templates/test_fonts.py.)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from api_client import Api
from bare_machine import supplementary_font
from conftest import COURT, eventually
from helpers import log_in, staff_account

from delivery.services.certificates import issue_certificates
from delivery.storage.schema import certificates
from integration.tracking.support import issued, text_of

# 𫝀 (U+2B740, CJK Extension D): in no bundled font, as a rare name character may be.
RARE = "\U0002b740"


async def _certificate_rows(api: Api, dispatch_id: str) -> list[Any]:
    async with api.ctx.engine.connect() as conn:
        query = sa.select(certificates).where(certificates.c.dispatch_id == dispatch_id)
        return list((await conn.execute(query)).mappings())


@pytest.mark.usefixtures("worker")
@pytest.mark.both_databases
async def test_a_rare_name_character_stops_issuance_until_a_font_covers_it(
    api: Api, tmp_path: Path
) -> None:
    body = await api.new_dispatch_body()
    body["recipient"]["name"] = f"王{RARE}"
    dispatch_id = (await api.create(body))["id"]
    await api.until_state(dispatch_id, "served")

    async def blocked_events() -> list[Any]:
        return [e for e in await api.events(dispatch_id) if e.type == "certificate_blocked"]

    [blocked] = await eventually(blocked_events)
    assert blocked.data["fields"] == [
        {"field": "recipient_name", "characters": [{"char": RARE, "code_point": "U+2B740"}]}
    ]
    assert blocked.data["fonts"] == ["Noto Sans CJK SC 2.004", "DejaVu Sans Mono 2.37"]
    assert await _certificate_rows(api, dispatch_id) == []
    # Trying again (the job run twice, the sweep) records nothing new.
    assert await issue_certificates(api.ctx, dispatch_id) == []
    assert len(await blocked_events()) == 1

    # The PDF asked for on the spot: a 409 naming the field and the character, not a box.
    response = await api.client.get(f"/api/v1/dispatches/{dispatch_id}/proof.pdf", headers=api.auth)
    problem = await response.json()
    assert response.status == 409, problem
    assert response.content_type == "application/problem+json"
    assert problem["errors"] == [{"field": "recipient_name", "characters": ["U+2B740"]}]

    # The clerk sees it: a flag in the queue, the character and field on the dispatch page.
    user, password = await staff_account(api.ctx)
    await log_in(api.client, user.username, password)
    queue = await (await api.client.get("/staff/queue")).text()
    assert 'data-flag="certificate_blocked"' in queue
    page = await (await api.client.get(f"/staff/dispatches/{dispatch_id}")).text()
    assert 'data-flag="certificate_blocked"' in page
    assert RARE in page and "U+2B740" in page and "recipient_name" in page
    assert "受送达人姓名" in page  # the field by its name, not only its code
    assert "proof.pdf" not in page  # no link to a certificate that cannot be made

    # Fixed: a supplementary font that covers it, and issuing resumes (job, sweep).
    supplementary_font(tmp_path, RARE)
    api.ctx.settings = dataclasses.replace(api.ctx.settings, fonts_dir=tmp_path)
    [issued_id] = await issue_certificates(api.ctx, dispatch_id)
    [row] = await issued(api, dispatch_id)
    assert row["id"] == issued_id
    pdf = api.ctx.documents.path_for(row["sha256"]).read_bytes()
    assert f"王{RARE}" in text_of(pdf) and COURT in text_of(pdf)
    queue = await (await api.client.get("/staff/queue")).text()
    assert 'data-flag="certificate_blocked"' not in queue
