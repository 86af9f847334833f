"""The sandbox's postman offers every report the carrier API knows, with every return reason."""

from __future__ import annotations

from channels.postal.outcomes import RETURN_REASONS
from channels.postal.standin import POSTMAN_REPORTS, RETURN_REASON_LABELS, return_reasons
from delivery.sandbox.pages import CARRIER_REASONS, CARRIER_STATUSES


def test_every_return_reason_has_a_label_and_a_button() -> None:
    assert set(RETURN_REASON_LABELS) == RETURN_REASONS == set(CARRIER_REASONS)
    returned = {r.reason for r in POSTMAN_REPORTS if r.status == "returned"}
    assert returned == RETURN_REASONS
    assert {r.status for r in POSTMAN_REPORTS} == set(CARRIER_STATUSES)


def test_only_a_wrong_moved_or_unknown_address_can_deem_service() -> None:
    deeming = {r.code for r in return_reasons() if r.deems_service}
    assert deeming == {"address_wrong", "moved", "unknown_recipient"}


def test_a_signature_carries_who_signed_and_their_id() -> None:
    [signed] = [r for r in POSTMAN_REPORTS if r.status == "delivered" and r.relation == "self"]
    body = signed.body("张三")
    assert body["signed_by"] == "张三" and body["relation"] == "self" and body["signer_id"]
    [lost] = [r for r in POSTMAN_REPORTS if r.status == "lost"]
    assert lost.body("张三") == {"status": "lost"}
