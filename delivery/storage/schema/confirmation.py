"""Address confirmations (送达地址确认书, CPL-INT-136/137) and the case groups they reach across.

A recipient who confirms their addresses online signs a form; the addresses it names, their
consent to electronic service and the form's digest are kept here so that a later dispatch of
any case in the same group, to the same person (matched by the keyed digest of their identity
number, never by name), is served at them until the recipient confirms again
(docs/decisions/0043). The form itself is a media file of the dispatch whose request it
answered, and its digest is in that dispatch's evidence chain.
"""

from __future__ import annotations

import sqlalchemy as sa

from delivery.storage.schema.base import ID, UtcDateTime, metadata

address_confirmations = sa.Table(
    "address_confirmations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("court", sa.String(200), nullable=False),
    sa.Column("case_number", sa.String(100), nullable=False),
    # The dispatch whose confirmation request the recipient answered.
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("id_hmac", sa.String(64), nullable=False),
    sa.Column("confirmed_at", UtcDateTime, nullable=False),
    sa.Column("consent_given", sa.Boolean, nullable=False),
    # [{"kind": "phone"|"email"|"postal", "value": ..., "postcode": ...}] in the signer's order.
    sa.Column("contacts", sa.JSON, nullable=False),
    # {"name": ..., "phone": ..., "relation": ...} when the recipient designated a receiver.
    sa.Column("designated_receiver", sa.JSON),
    sa.Column("signer_name", sa.String(200), nullable=False),
    sa.Column("form_sha256", sa.String(64), nullable=False),
    # The form's media file (no foreign key: media files reach contacts through attempts, and
    # contacts name their confirmation; the digest above is what proves the form).
    sa.Column("form_media_id", ID),
    # The latest confirmation of one person in one court's cases: intake reads it.
    sa.Index("ix_address_confirmations_court_id_hmac", "court", "id_hmac", "confirmed_at"),
)

# Cases the case system linked (first instance, appeal, retrial, enforcement: CPL-INT-137).
# A case in no group is a group of its own.
case_groups = sa.Table(
    "case_groups",
    metadata,
    sa.Column("court", sa.String(200), primary_key=True),
    sa.Column("case_number", sa.String(100), primary_key=True),
    sa.Column("group_id", sa.String(100), nullable=False),
    sa.Column("linked_at", UtcDateTime, nullable=False),
    sa.Index("ix_case_groups_court_group_id", "court", "group_id"),
)
