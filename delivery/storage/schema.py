"""The database schema (SQLAlchemy Core). Alembic migrations create exactly these tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite hands back naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


ID = sa.String(26)
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False, unique=True),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("courts", sa.JSON, nullable=False),
    # What the key may do beyond the court's dispatches (delivery.services.api_keys.SCOPES).
    sa.Column("scopes", sa.JSON, nullable=False, server_default="[]"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime),
)

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
    sa.Column("next_action_at", UtcDateTime, index=True),
    sa.Column("served_at", UtcDateTime),
    sa.Column("service_date", sa.Date),
    sa.Column("served_by_channel", sa.String(40)),
    sa.Column("legal_basis", sa.String(40)),
    sa.Column("periods", sa.JSON),
    sa.Column("event_seq", sa.Integer, nullable=False),
    sa.Column("chain_head", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # The clerk who owns every service of the case (issue 6): named, inherited or round-robin.
    sa.Column("owner_id", ID, sa.ForeignKey("staff_users.id")),
    sa.UniqueConstraint("api_key_id", "reference", name="uq_dispatches_api_key_reference"),
    # The workspace's queue: one court's newest first, and the filters it offers.
    sa.Index("ix_dispatches_court_id", "court", "id"),
    sa.Index("ix_dispatches_court_served_at", "court", "served_at"),
    # The recipient filter is a prefix (LIKE 'x%'): only a pattern_ops index serves it on a
    # database whose collation is not C.
    sa.Index(
        "ix_dispatches_recipient_name",
        "recipient_name",
        postgresql_ops={"recipient_name": "varchar_pattern_ops"},
    ),
    sa.Index("ix_dispatches_owner_id_created_at", "owner_id", "created_at"),
    # The counts per state: an index-only scan instead of reading every (wide) row.
    sa.Index("ix_dispatches_court_state", "court", "state"),
    # Newest first under the filters that are not selective on their own (state, owner, date
    # ranges): read backwards, the other columns are checked in the index and only matching
    # rows are fetched. Without it a range a year back read ~90% of the table by primary key
    # (the planner cannot know that ids grow with created_at). bench/workspace.py.
    sa.Index("ix_dispatches_id_filters", "id", "state", "owner_id", "created_at", "served_at"),
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
)

OPEN_ATTEMPTS = "state IN ('pending', 'sending', 'sent', 'delivered')"

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("step_index", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(30), nullable=False),
    sa.Column("contact_id", ID, sa.ForeignKey("contacts.id")),
    sa.Column("address", sa.String(500), nullable=False),
    sa.Column("source", sa.String(30), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("reason", sa.String(500)),
    sa.Column("provider_ref", sa.String(300), index=True),
    sa.Column("tries", sa.Integer, nullable=False),
    sa.Column("next_action_at", UtcDateTime, index=True),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("link_issued_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # The worker process (``workers.id``) that claimed a ``sending`` attempt: the sweep releases
    # the claim only when that worker has stopped heartbeating (docs/decisions/0024).
    sa.Column("claimed_by", ID),
    # The queue's channel filter: dispatches with an open attempt (domain.OPEN_ATTEMPT_STATES)
    # on a channel, without reading the closed attempts that are most of the table.
    sa.Index(
        "ix_attempts_open_channel",
        "channel",
        "dispatch_id",
        postgresql_where=sa.text(OPEN_ATTEMPTS),
        sqlite_where=sa.text(OPEN_ATTEMPTS),
    ),
)

# The event types the reports read for ownership (OWNER_EVENTS in delivery/storage/reports.py).
OWNER_EVENTS = "type IN ('owner_assigned', 'owner_reassigned')"

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("attempt_id", ID, index=True),
    sa.Column("type", sa.String(60), nullable=False),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200)),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("dispatch_id", "seq", name="uq_events_dispatch_seq"),
    # Grouping a report by clerk reads the ownership events since the period's dispatches were
    # created: this partial index holds what it reads (data included), so the read is
    # index-only (bench/workspace.py).
    sa.Index(
        "ix_events_owners",
        "occurred_at",
        postgresql_include=["dispatch_id", "seq", "data"],
        postgresql_where=sa.text(OWNER_EVENTS),
        sqlite_where=sa.text(OWNER_EVENTS),
    ),
)

# The projection of the outcome events the reports read (delivery/storage/outcomes.py): one
# row per event, written with it, never updated or deleted. A year's report reads most of it
# (a sequential scan of narrow rows); a shorter period, its range of the index.
service_outcomes = sa.Table(
    "service_outcomes",
    metadata,
    sa.Column("event_id", ID, sa.ForeignKey("events.id"), primary_key=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("type", sa.String(60), nullable=False),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("court", sa.String(200), nullable=False),
    sa.Column("dispatch_created_at", UtcDateTime, nullable=False),
    sa.Column("channel", sa.String(30)),
    sa.Column("served_at", UtcDateTime),
    sa.Column("served_step", sa.Integer),
    sa.Column("first_step", sa.Integer),
    sa.Index(
        "ix_service_outcomes_occurred_at",
        "occurred_at",
    ),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("api_key_id", ID, sa.ForeignKey("api_keys.id"), nullable=False, index=True),
    sa.Column("url", sa.String(2000), nullable=False),
    # The signing secret, sealed under SONGDA_SECRETS_KEY (delivery/infra/secret_box.py); ``secret``
    # holds a plaintext one only until it is sealed after the migration (0010).
    sa.Column("secret", sa.String(200)),
    sa.Column("sealed_secret", sa.String(400)),
    sa.Column("event_types", sa.JSON),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("disabled_reason", sa.String(200)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("deleted_at", UtcDateTime),
)

outbox_messages = sa.Table(
    "outbox_messages",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("type", sa.String(60), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("message_id", ID, sa.ForeignKey("outbox_messages.id"), nullable=False, index=True),
    sa.Column("endpoint_id", ID, sa.ForeignKey("webhook_endpoints.id"), nullable=False, index=True),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("tries", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, index=True),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.String(500)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("delivered_at", UtcDateTime),
)

# --- Staff accounts (clerk, supervisor, field_server, admin), scoped to courts like API keys ---

staff_users = sa.Table(
    "staff_users",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("username", sa.String(100), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("roles", sa.JSON, nullable=False),
    sa.Column("courts", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("disabled_at", UtcDateTime),
)

staff_sessions = sa.Table(
    "staff_sessions",
    metadata,
    # The SHA-256 of the cookie's token: a stolen database does not yield live sessions.
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("staff_users.id"), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime),
)

# --- Evidence files that are not served documents: photos, videos, signatures, scanned cards ---

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

# --- Postal: one piece of court express mail per postal attempt ---

postal_pieces = sa.Table(
    "postal_pieces",
    metadata,
    sa.Column("attempt_id", ID, sa.ForeignKey("attempts.id"), primary_key=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("court", sa.String(200), nullable=False, index=True),
    sa.Column("carrier", sa.String(40), nullable=False),
    sa.Column("tracking_number", sa.String(100), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    sa.Column("handed_over_at", UtcDateTime),
    sa.Column("next_poll_at", UtcDateTime, index=True),
    sa.UniqueConstraint("carrier", "tracking_number", name="uq_postal_pieces_carrier_tracking"),
)

carrier_events = sa.Table(
    "carrier_events",
    metadata,
    # The carrier's own event id: a webhook replayed, or the same event seen again by polling,
    # is recognised here and changes nothing.
    sa.Column("carrier", sa.String(40), primary_key=True),
    sa.Column("event_id", sa.String(100), primary_key=True),
    sa.Column("attempt_id", ID, sa.ForeignKey("attempts.id"), nullable=False, index=True),
    sa.Column("received_at", UtcDateTime, nullable=False),
)

# --- In person: one field task per visit (one visit = one attempt) ---

field_tasks = sa.Table(
    "field_tasks",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("attempt_id", ID, sa.ForeignKey("attempts.id"), nullable=False, unique=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("court", sa.String(200), nullable=False, index=True),
    sa.Column("assignee_id", ID, sa.ForeignKey("staff_users.id"), index=True),
    sa.Column("visit_no", sa.Integer, nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("due_at", UtcDateTime),
    sa.Column("assigned_at", UtcDateTime),
    sa.Column("completed_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# --- Public notice: the notice text, its approval and its publications ---

notices = sa.Table(
    "notices",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("attempt_id", ID, sa.ForeignKey("attempts.id"), nullable=False, unique=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("court", sa.String(200), nullable=False, index=True),
    sa.Column("case_number", sa.String(100), nullable=False, index=True),
    sa.Column("recipient_name", sa.String(200), nullable=False),
    sa.Column("locale", sa.String(10), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("reason", sa.JSON),
    sa.Column("approved_by", sa.String(200)),
    sa.Column("approved_at", UtcDateTime),
    sa.Column("first_published_at", UtcDateTime),
    sa.Column("last_published_at", UtcDateTime),
    sa.Column("deemed_served_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

notice_publications = sa.Table(
    "notice_publications",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("notice_id", ID, sa.ForeignKey("notices.id"), nullable=False, index=True),
    sa.Column("place", sa.String(40), nullable=False),
    sa.Column("detail", sa.String(500)),
    sa.Column("published_at", UtcDateTime, nullable=False),
    sa.Column("media_id", ID, sa.ForeignKey("media_files.id")),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# --- Proof of service: certificates (content-addressed PDFs) and the notice codes on messages ---

certificates = sa.Table(
    "certificates",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("locale", sa.String(10), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    # The chain head the certificate pins: the hash of the dispatch_served event, and its seq.
    sa.Column("chain_head", sa.String(64), nullable=False),
    sa.Column("chain_seq", sa.Integer, nullable=False),
    sa.Column("served_at", UtcDateTime, nullable=False),
    sa.Column("service_date", sa.Date, nullable=False),
    sa.Column("legal_basis", sa.String(40), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # A service reversed later keeps its certificate, marked superseded by the next one.
    sa.Column("superseded_at", UtcDateTime),
    sa.Column("supersedes_id", ID, sa.ForeignKey("certificates.id")),
    sa.UniqueConstraint("dispatch_id", "chain_seq", name="uq_certificates_dispatch_seq"),
)

notice_codes = sa.Table(
    "notice_codes",
    metadata,
    # The short code printed on every e-mail, SMS and letter: /check tells whether it is genuine.
    sa.Column("code", sa.String(16), primary_key=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("attempt_id", ID, sa.ForeignKey("attempts.id"), unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# --- The clerk workspace: CSV batches (one upload = one batch; rows point at their dispatches) ---

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("court", sa.String(200), nullable=False, index=True),
    sa.Column("created_by", ID, sa.ForeignKey("staff_users.id"), nullable=False, index=True),
    sa.Column("filename", sa.String(300), nullable=False),
    sa.Column("encoding", sa.String(20), nullable=False),
    sa.Column("rows_total", sa.Integer, nullable=False),
    sa.Column("rows_invalid", sa.Integer, nullable=False),
    # [{"row": n, "reference": r, "field": f, "message": m}], in row order
    sa.Column("errors", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

batch_rows = sa.Table(
    "batch_rows",
    metadata,
    # A valid row of a batch and the dispatch it queued (or found again: a re-uploaded row whose
    # reference was already queued points at the first dispatch and creates nothing).
    sa.Column("batch_id", ID, sa.ForeignKey("batches.id"), primary_key=True),
    sa.Column("row_no", sa.Integer, primary_key=True),
    sa.Column("reference", sa.String(200), nullable=False),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
)

# --- Third-party time: each chain checkpoint waiting for, or holding, its RFC 3161 token ---

checkpoint_timestamps = sa.Table(
    "checkpoint_timestamps",
    metadata,
    # One row per chain_checkpoint event, written in the transaction that records it when a TSA
    # is configured; the token itself is evidence, in the checkpoint_timestamped event.
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), primary_key=True),
    sa.Column("checkpoint_seq", sa.Integer, primary_key=True),
    sa.Column("checkpoint_hash", sa.String(64), nullable=False),
    sa.Column("checkpointed_at", UtcDateTime, nullable=False),
    sa.Column("tries", sa.Integer, nullable=False, default=0),
    # When to ask the TSA (again); None once the token is recorded.
    sa.Column("next_attempt_at", UtcDateTime, index=True),
    sa.Column("timestamped_at", UtcDateTime),
    # When the missing token was first reported to the operator (logged once).
    sa.Column("flagged_at", UtcDateTime),
)

# --- Worker liveness: one row per running worker process (docs/decisions/0024) ---

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    # Operational wall-clock time (never the legal clock, which the sandbox and tests move).
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False, index=True),
)
