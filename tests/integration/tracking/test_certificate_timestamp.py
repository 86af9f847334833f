"""The certificate's PAdES signature carries the configured TSA's time (PAdES-B-T, issue 11 §3),
and the TSA being down delays the certificate, never the service: ``proof.pdf`` answers 503
with ``Retry-After`` (never a "not served" preview of a served dispatch) until it answers, then
the sweep issues it. Real TSA stand-in on loopback; pyHanko's validator checks the result."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_client import Api
from conftest import settled
from pdf_checks import court_root, validate_signature
from standins import TSA_NAME, Tsa

from delivery.clock import ManualClock
from delivery.services.sweep import sweep
from integration.tracking.support import certificate_rows, issued
from tracking.court_certificates import load_pem_chain

pytestmark = pytest.mark.usefixtures("tsa", "worker")


async def _signature(api: Api, tsa: Tsa, dispatch_id: str) -> object:
    [row] = await issued(api, dispatch_id)
    pdf = api.ctx.documents.path_for(row["sha256"]).read_bytes()
    [tsa_cert] = load_pem_chain(tsa.cert.read_bytes())
    return await validate_signature(pdf, court_root(api.ctx.settings.keys_dir), tsa_cert)


@pytest.mark.both_databases
async def test_the_stored_certificate_is_signed_with_the_tsas_time(api: Api, tsa: Tsa) -> None:
    dispatch_id = (await api.new_dispatch())["id"]
    await api.until_state(dispatch_id, "served")
    status = await _signature(api, tsa, dispatch_id)
    assert status.bottom_line, status.pretty_print_details()  # type: ignore[attr-defined]
    stamp = status.timestamp_validity  # type: ignore[attr-defined]
    assert stamp is not None and stamp.intact and stamp.valid and stamp.trusted
    assert TSA_NAME in stamp.signing_cert.subject.human_friendly
    assert tsa.standin.issued >= 2  # the checkpoint's token and the signature's


async def test_a_tsa_that_is_down_holds_the_certificate_not_the_service(
    api: Api, tsa: Tsa, clock: ManualClock
) -> None:
    tsa.standin.failing = True
    dispatch_id = (await api.new_dispatch())["id"]
    served = await api.until_state(dispatch_id, "served")
    await settled(api.ctx)
    assert served["legal_basis"] == "OLR-31"
    assert await certificate_rows(api, dispatch_id) == []

    response = await api.client.get(f"/api/v1/dispatches/{dispatch_id}/proof.pdf", headers=api.auth)
    problem = await response.json()
    assert response.status == 503, problem
    assert response.headers["Retry-After"] == "60"
    assert problem["type"].endswith("certificate-pending")

    tsa.standin.failing = False
    clock.advance(timedelta(minutes=1))
    await sweep(api.ctx)
    status = await _signature(api, tsa, dispatch_id)
    assert status.bottom_line and status.timestamp_validity is not None  # type: ignore[attr-defined]
