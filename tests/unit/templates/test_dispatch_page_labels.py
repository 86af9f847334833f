"""The codes the dispatch page shows beyond the foundation's enums have labels too: recipient
roles, consent bases, notice places (issue 14: ``defendant`` on a Chinese page)."""

from __future__ import annotations

from delivery.api.case_system.dispatch_request import CONSENT_BASES
from delivery.vocabulary import RecipientRole
from templates.labels import LABELS, label


def test_every_recipient_role_and_consent_basis_has_a_label() -> None:
    assert sorted(set(RecipientRole) - set(LABELS["recipient_role"])) == []
    assert sorted(set(CONSENT_BASES) - set(LABELS["consent_basis"])) == []
    assert label("zh-CN", "recipient_role", RecipientRole.DEFENDANT) == "被告"
    assert label("en", "consent_basis", "tacit") == "tacit (acted on an earlier e-service)"


def test_every_place_of_publication_has_a_label() -> None:
    from channels.public_notice.publications import PLACES

    assert sorted(set(PLACES) - set(LABELS["notice_place"])) == []
