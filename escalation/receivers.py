"""Who may receive a document or sign its receipt (CPL-88, CPL-91 with PM-7/PM-9), and when it
may be left after a refusal (CPL-89 with CPL-INT-133).

One place for the rule: the completion rules (``escalation.rules``), the carrier's receipts
(``channels.postal.outcomes``) and the field server's visit form (``channels.in_person``) all
ask :func:`may_receive` and :func:`may_leave`.
"""

from __future__ import annotations

from collections.abc import Collection

MEDIATION_STATEMENT = "mediation_statement"

# Who may receive in person (CPL-88) or sign a postal return receipt (CPL-91, PM-7, PM-9).
ELIGIBLE_RECEIVERS = frozenset(
    {
        "self",
        "guardian",
        "family",  # an adult family member living with the recipient, not the opposing party
        "entity_representative",
        "entity_mailroom",
        "agent",
        "designated_receiver",
    }
)
# CPL-INT-133: a mediation statement reaches the party, their legal representative or their
# designated receiver — not a family member or a mail room.
MEDIATION_RECEIVERS = frozenset({"self", "entity_representative", "designated_receiver"})


def may_receive(relation: object, document_kinds: Collection[str] = ()) -> bool:
    """Whether a person of ``relation`` to the recipient may receive documents of
    ``document_kinds`` or sign for them (CPL-88, CPL-91, PM-7/PM-9; CPL-INT-133). The carrier
    does not know what a piece holds: the post asks without document kinds."""
    if MEDIATION_STATEMENT in document_kinds:
        return relation in MEDIATION_RECEIVERS
    return relation in ELIGIBLE_RECEIVERS


def may_leave(document_kinds: Collection[str]) -> bool:
    """Whether documents may be left at the residence after a refusal (CPL-89): never a
    mediation statement (CPL-INT-133)."""
    return MEDIATION_STATEMENT not in document_kinds
