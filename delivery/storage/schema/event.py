"""The evidence chain (events), the projection of its outcome events the reports read with its
tallies per local day, and the outbox of webhook messages with their targets and deliveries."""

from __future__ import annotations

import sqlalchemy as sa

from delivery.storage.schema.base import ID, UtcDateTime, metadata

# The event types that flag a dispatch for the clerk's queue (services.clerk_queue.FLAG_EVENTS).
FLAG_EVENTS = "type IN ('dispatch_at_risk', 'certificate_blocked', 'certificate_issued')"
FAILED_DELIVERIES = "state = 'failed'"  # storage.outbox.DELIVERY_FAILED
STANDING = "standing"  # a dispatch's latest outcome (service_outcomes)

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
    # The queue's flags (at risk, a certificate blocked and not issued since): the few events
    # that raise or clear one, for the "needs action" candidates and each page's facts.
    sa.Index(
        "ix_events_flags",
        "dispatch_id",
        "type",
        "seq",
        postgresql_where=sa.text(FLAG_EVENTS),
        sqlite_where=sa.text(FLAG_EVENTS),
    ),
)

# The projection of the outcome events the reports read (delivery/storage/outcomes.py): one
# row per event, written with it, never deleted. Two columns are kept on write (migration 0018,
# docs/decisions/0053): ``standing`` marks each dispatch's latest outcome, the one a report
# counts, and ``owner_id`` the dispatch's owner on that row (NULL on the others), kept current
# when the dispatch is reassigned. A year's report reads the standing rows (a sequential scan
# of narrow rows); a shorter period, its range of the index.
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
    # A service at an address from a signed confirmation form; one completed by the recipient's
    # reply (migration 0014; delivery/storage/outcomes.py service_reach).
    sa.Column("confirmed_address", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("by_reply", sa.Boolean, nullable=False, server_default=sa.false()),
    # The instant the outcome is dated by (the legal instant of service, else when recorded)
    # and the time to service in microseconds (served_at - dispatch_created_at): what a report
    # filters and ranks by, stored rather than computed per row and per report (0018).
    sa.Column("dated_at", UtcDateTime, nullable=False),
    sa.Column("time_to_service_us", sa.BigInteger),
    sa.Column("standing", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("owner_id", ID),
    sa.Index(
        "ix_service_outcomes_occurred_at",
        "occurred_at",
    ),
    # One standing outcome per dispatch; the row a new outcome or a reassignment updates.
    sa.Index(
        "ix_service_outcomes_standing",
        "dispatch_id",
        unique=True,
        postgresql_where=sa.text(STANDING),
        sqlite_where=sa.text(STANDING),
    ),
)

# The counts of the standing outcomes per local day and fact (docs/decisions/0060): one row per
# cell, ``n`` the standing ``service_outcomes`` rows in it. On PostgreSQL the triggers of
# migration 0022 log what each statement changes per cell in ``outcome_tally_changes`` (only
# inserts: writers never wait on a cell) and the sweep folds the log into the cells; a report
# reads both, in the zone ``outcome_tally_zone`` holds (no row: nothing is kept;
# ``delivery/storage/outcome_tallies.py`` tallies them anew). A year's report then counts a few
# thousand cells instead of every outcome. On SQLite, whose reports count the rows in Python,
# the tables stay empty. "None" is '' in ``channel`` and ``owner_id``: the key is never NULL.
_CELL = (
    ("court", sa.String(200)),
    ("dated_on", sa.Date),  # the local date of dated_at
    ("recorded_on", sa.Date),  # the local date of occurred_at
    ("type", sa.String(60)),
    ("channel", sa.String(30)),
    ("owner_id", sa.String(26)),
    ("first_try", sa.Boolean),  # served_step = first_step
    ("confirmed_address", sa.Boolean),
    ("by_reply", sa.Boolean),
)
outcome_tallies = sa.Table(
    "outcome_tallies",
    metadata,
    *(sa.Column(name, type_, primary_key=True) for name, type_ in _CELL),
    sa.Column("n", sa.Integer, nullable=False),
)
outcome_tally_changes = sa.Table(
    "outcome_tally_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *(sa.Column(name, type_, nullable=False) for name, type_ in _CELL),
    sa.Column("n", sa.Integer, nullable=False),  # added (or taken away: negative)
)

# The time zone the tallies' dates are in: one row, or none while they are not kept.
outcome_tally_zone = sa.Table(
    "outcome_tally_zone",
    metadata,
    sa.Column("zone", sa.String(64), primary_key=True),
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
    # The message's dispatch (migration 0017): the queue finds the dispatches whose deliveries
    # failed from ix_webhook_deliveries_failed alone, without joining each message.
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False),
    sa.Column("endpoint_id", ID, sa.ForeignKey("webhook_endpoints.id"), nullable=False, index=True),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("tries", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.String(500)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("delivered_at", UtcDateTime),
    # The sweep's pages of due deliveries, in order, each after the last.
    sa.Index("ix_webhook_deliveries_next_attempt_at_id", "next_attempt_at", "id"),
    # The queue's "needs action" candidates: the deliveries that failed for good.
    sa.Index(
        "ix_webhook_deliveries_failed",
        "dispatch_id",
        postgresql_where=sa.text(FAILED_DELIVERIES),
        sqlite_where=sa.text(FAILED_DELIVERIES),
    ),
)
