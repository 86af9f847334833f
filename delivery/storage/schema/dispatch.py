"""The dispatches, the documents they serve, the recipient's contacts, and the evidence files
that are not served documents (photos, videos, signatures, scanned cards)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from delivery.domain import OPEN_ATTEMPT_STATES
from delivery.storage.schema.base import ID, UtcDateTime, metadata
from delivery.vocabulary import Channel

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("api_key_id", ID, sa.ForeignKey("api_keys.id"), index=True),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("media_type", sa.String(100), nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# The columns of ix_dispatches_court_state_filters (as in migration 0019).
COUNTED_FILTERS = ("court", "state", "owner_id", "created_at", "served_at")
# The key of ix_dispatches_id_filters (migration 0019's).
ID_FILTERS = ("id", "state", "owner_id", "created_at", "served_at")
# The dispatch's own columns the queue's needs-action candidates are found by besides its id:
# the court every filter names and those the flags' conditions read (delivery/storage/
# queue_facts.py; the conditions on other tables are keyed by the id). Included in the indexes
# a broad filter and a surname scan (as in migration 0021; docs/decisions/0058).
FLAG_COLUMNS = (
    "court",
    "state",
    "state_reason",
    "service_deadline_at",
    "step_started_at",
    "next_action_at",
)

# ``dispatches.open_channels``: the channels on which the dispatch has an open attempt
# (domain.OPEN_ATTEMPT_STATES), one bit each (as in migration 0020; docs/decisions/0057).
OPEN_CHANNEL_BITS = {
    Channel.EMAIL: 1,
    Channel.SMS: 2,
    Channel.POSTAL: 4,
    Channel.IN_PERSON: 8,
    Channel.PUBLIC_NOTICE: 16,
}


def open_channels(attempts: Iterable[tuple[str, str]]) -> int:
    """``open_channels`` of a dispatch whose attempts have these (channel, state): what the
    unit of work's REFRESH_OPEN_CHANNELS computes from the stored attempts."""
    channels = {channel for channel, state in attempts if state in OPEN_ATTEMPT_STATES}
    return sum(OPEN_CHANNEL_BITS[Channel(channel)] for channel in channels)


def open_on(channel: Channel) -> str:
    """The condition that the dispatch has an open attempt on ``channel``, as the partial index
    of that channel states it (a query must state it so for the index to serve it)."""
    return f"(open_channels & {OPEN_CHANNEL_BITS[channel]}) <> 0"


def _open_channel_indexes() -> list[sa.Index]:
    """Per channel, its dispatches with an open attempt by court and state: the queue's channel
    filter counts each state from the index alone (docs/decisions/0057)."""
    return [
        sa.Index(
            f"ix_dispatches_open_{channel}",
            "court",
            "state",
            "id",
            postgresql_where=sa.text(open_on(channel)),
            sqlite_where=sa.text(open_on(channel)),
        )
        for channel in OPEN_CHANNEL_BITS
    ]


dispatches = sa.Table(
    "dispatches",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("api_key_id", ID, sa.ForeignKey("api_keys.id")),
    sa.Column("reference", sa.String(200), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("court", sa.String(200), nullable=False, index=True),
    sa.Column("case_number", sa.String(100), nullable=False, index=True),
    sa.Column("policy", sa.String(60), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("state_reason", sa.String(200)),
    sa.Column("recipient_name", sa.String(200), nullable=False),
    sa.Column("recipient_role", sa.String(60), nullable=False),
    sa.Column("id_hmac", sa.String(64), nullable=False),
    sa.Column("id_last4", sa.String(4), nullable=False),
    sa.Column("consent_given", sa.Boolean, nullable=False),
    sa.Column("consent_basis", sa.String(40)),
    sa.Column("domicile_in_china", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("document_kinds", sa.JSON),
    sa.Column("service_deadline_at", UtcDateTime),
    sa.Column("locale", sa.String(10), nullable=False),
    sa.Column("hearing_at", UtcDateTime),
    sa.Column("step_index", sa.Integer),
    sa.Column("step_started_at", UtcDateTime),
    sa.Column("next_action_at", UtcDateTime),
    sa.Column("served_at", UtcDateTime),
    sa.Column("service_date", sa.Date),
    sa.Column("served_by_channel", sa.String(40)),
    sa.Column("legal_basis", sa.String(40)),
    sa.Column("periods", sa.JSON),
    sa.Column("event_seq", sa.Integer, nullable=False),
    sa.Column("chain_head", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # The clerk who owns every service of the case (issue 6): named, inherited or round-robin.
    sa.Column("owner_id", ID, sa.ForeignKey("staff_users.id")),
    # OPEN_CHANNEL_BITS of the open attempts, kept by the unit of work whenever an attempt opens
    # or closes (delivery/storage/unit_of_work.py, docs/decisions/0057).
    sa.Column("open_channels", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("api_key_id", "reference", name="uq_dispatches_api_key_reference"),
    # The workspace's queue: one court's newest first, and the filters it offers.
    sa.Index("ix_dispatches_court_id", "court", "id"),
    # The sweep's pages of due timers: in order, each after the last (delivery/storage/timers.py).
    sa.Index("ix_dispatches_next_action_at_id", "next_action_at", "id"),
    # Date ranges; with the id (and court) included, the ids a range spans are read from the
    # index alone (queries.id_window, docs/decisions/0054).
    sa.Index("ix_dispatches_created_at", "created_at", postgresql_include=["id", "court"]),
    sa.Index("ix_dispatches_court_served_at", "court", "served_at", postgresql_include=["id"]),
    # The recipient filter is a prefix (LIKE 'x%'): only a pattern_ops index serves it on a
    # database whose collation is not C. The flags' columns are included: a surname's thousands
    # of dispatches are checked for the needs-action count from the index alone.
    sa.Index(
        "ix_dispatches_recipient_name",
        "recipient_name",
        postgresql_ops={"recipient_name": "varchar_pattern_ops"},
        postgresql_include=["id", *FLAG_COLUMNS],
    ),
    sa.Index("ix_dispatches_owner_id_created_at", "owner_id", "created_at"),
    # The counts per state, each capped (docs/decisions/0054): the rows of one state under the
    # owner and date filters are counted from the index alone, and the channel filter joins on
    # the included id, instead of reading each (wide) row.
    sa.Index(
        "ix_dispatches_court_state_filters",
        *COUNTED_FILTERS,
        postgresql_include=["id"],
    ),
    # Newest first under the filters that are not selective on their own (state, owner, date
    # ranges): read backwards, the other columns are checked in the index and only matching
    # rows are fetched. Without it a range a year back read ~90% of the table by primary key
    # (the planner cannot know that ids grow with created_at). bench/workspace.py. With the
    # flags' columns included, the needs-action candidates are found in the index alone.
    sa.Index(
        "ix_dispatches_id_filters",
        *ID_FILTERS,
        postgresql_include=[c for c in FLAG_COLUMNS if c not in ID_FILTERS],
    ),
    *_open_channel_indexes(),
)

dispatch_documents = sa.Table(
    "dispatch_documents",
    metadata,
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), primary_key=True),
    sa.Column("document_id", ID, sa.ForeignKey("documents.id"), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("value", sa.String(500), nullable=False),
    sa.Column("postcode", sa.String(20)),
    sa.Column("source", sa.String(30), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    # The signed address confirmation form the contact was taken from (CPL-INT-136/137).
    sa.Column("confirmation_id", ID, sa.ForeignKey("address_confirmations.id")),
)

media_files = sa.Table(
    "media_files",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("attempt_id", ID, sa.ForeignKey("attempts.id"), index=True),
    sa.Column("purpose", sa.String(40), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("media_type", sa.String(100), nullable=False),
    sa.Column("uploaded_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
