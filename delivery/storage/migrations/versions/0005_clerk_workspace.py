"""The clerk workspace: dispatch ownership, CSV batches, the indexes the queue and the reports
read with, and ``service_outcomes`` (the projection of the outcome events the reports read,
delivery/storage/outcomes.py), filled here from the events already recorded.

Revision ID: 0005
Revises: 0004
"""

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from delivery.domain import OUTCOME_EVENTS
from delivery.storage.outcomes import AttemptFacts, outcome_row
from delivery.storage.schema import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The attempts still open (delivery.domain.OPEN_ATTEMPT_STATES), as in schema.OPEN_ATTEMPTS.
OPEN_ATTEMPTS = "state IN ('pending', 'sending', 'sent', 'delivered')"
# The ownership events the reports read then (services.reports; the index went in 0018).
OWNER_EVENTS = "type IN ('owner_assigned', 'owner_reassigned')"


def upgrade() -> None:
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.String(length=26), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_dispatches_owner_id_staff_users"), "staff_users", ["owner_id"], ["id"]
        )
        batch_op.create_index("ix_dispatches_court_id", ["court", "id"], unique=False)
        batch_op.create_index("ix_dispatches_court_served_at", ["court", "served_at"], unique=False)
        batch_op.create_index(
            "ix_dispatches_recipient_name",
            ["recipient_name"],
            unique=False,
            postgresql_ops={"recipient_name": "varchar_pattern_ops"},
        )
        batch_op.create_index(
            "ix_dispatches_owner_id_created_at", ["owner_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_dispatches_court_state", ["court", "state"], unique=False)
        batch_op.create_index(
            "ix_dispatches_id_filters",
            ["id", "state", "owner_id", "created_at", "served_at"],
            unique=False,
        )
    op.create_index(
        "ix_attempts_open_channel",
        "attempts",
        ["channel", "dispatch_id"],
        unique=False,
        postgresql_where=sa.text(OPEN_ATTEMPTS),
        sqlite_where=sa.text(OPEN_ATTEMPTS),
    )
    op.create_index(
        "ix_events_owners",
        "events",
        ["occurred_at"],
        unique=False,
        postgresql_include=["dispatch_id", "seq", "data"],
        postgresql_where=sa.text(OWNER_EVENTS),
        sqlite_where=sa.text(OWNER_EVENTS),
    )
    outcomes = op.create_table(
        "service_outcomes",
        sa.Column("event_id", sa.String(length=26), nullable=False),
        sa.Column("dispatch_id", sa.String(length=26), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("court", sa.String(length=200), nullable=False),
        sa.Column("dispatch_created_at", UtcDateTime(), nullable=False),
        sa.Column("channel", sa.String(length=30), nullable=True),
        sa.Column("served_at", UtcDateTime(), nullable=True),
        sa.Column("served_step", sa.Integer(), nullable=True),
        sa.Column("first_step", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispatch_id"],
            ["dispatches.id"],
            name=op.f("fk_service_outcomes_dispatch_id_dispatches"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_service_outcomes_event_id_events")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_service_outcomes")),
    )
    op.create_index(
        "ix_service_outcomes_occurred_at",
        "service_outcomes",
        ["occurred_at"],
        unique=False,
    )
    conn = op.get_bind()
    for chunk in _chunks(backfill_rows(conn), 5000):
        conn.execute(outcomes.insert(), chunk)
    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("court", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_invalid", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_batches_created_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_index(op.f("ix_batches_court"), "batches", ["court"], unique=False)
    op.create_index(op.f("ix_batches_created_by"), "batches", ["created_by"], unique=False)
    op.create_table(
        "batch_rows",
        sa.Column("batch_id", sa.String(length=26), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("dispatch_id", sa.String(length=26), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_batch_rows_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["dispatch_id"], ["dispatches.id"], name=op.f("fk_batch_rows_dispatch_id_dispatches")
        ),
        sa.PrimaryKeyConstraint("batch_id", "row_no", name=op.f("pk_batch_rows")),
    )
    op.create_index(op.f("ix_batch_rows_dispatch_id"), "batch_rows", ["dispatch_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_batch_rows_dispatch_id"), table_name="batch_rows")
    op.drop_table("batch_rows")
    op.drop_index(op.f("ix_batches_created_by"), table_name="batches")
    op.drop_index(op.f("ix_batches_court"), table_name="batches")
    op.drop_table("batches")
    op.drop_index("ix_service_outcomes_occurred_at", table_name="service_outcomes")
    op.drop_table("service_outcomes")
    op.drop_index("ix_events_owners", table_name="events")
    op.drop_index("ix_attempts_open_channel", table_name="attempts")
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.drop_index("ix_dispatches_id_filters")
        batch_op.drop_index("ix_dispatches_court_state")
        batch_op.drop_index("ix_dispatches_owner_id_created_at")
        batch_op.drop_index("ix_dispatches_recipient_name")
        batch_op.drop_index("ix_dispatches_court_served_at")
        batch_op.drop_index("ix_dispatches_court_id")
        batch_op.drop_constraint(
            batch_op.f("fk_dispatches_owner_id_staff_users"), type_="foreignkey"
        )
        batch_op.drop_column("owner_id")


# The columns the backfill reads, as they are at this revision.
_EVENTS = sa.table(
    "events",
    sa.column("id", sa.String()),
    sa.column("dispatch_id", sa.String()),
    sa.column("seq", sa.Integer()),
    sa.column("type", sa.String()),
    sa.column("occurred_at", UtcDateTime()),
    sa.column("recorded_at", UtcDateTime()),
    sa.column("data", sa.Text()),
)
_DISPATCHES = sa.table(
    "dispatches",
    sa.column("id", sa.String()),
    sa.column("court", sa.String()),
    sa.column("created_at", UtcDateTime()),
)
_ATTEMPTS = sa.table(
    "attempts",
    sa.column("id", sa.String()),
    sa.column("dispatch_id", sa.String()),
    sa.column("step_index", sa.Integer()),
    sa.column("channel", sa.String()),
    sa.column("created_at", UtcDateTime()),
)


def backfill_rows(conn: sa.Connection) -> Iterator[dict[str, Any]]:
    """The ``service_outcomes`` rows of the outcome events already recorded, as the unit of
    work writes them with each new one: the attempts of the dispatch "at that moment" are
    those created in or before the event's transaction (``created_at`` ≤ its ``recorded_at``:
    both are the transaction's time)."""
    is_outcome = _EVENTS.c.type.in_(OUTCOME_EVENTS)
    attempts: dict[str, list[tuple[Any, AttemptFacts]]] = defaultdict(list)
    with_outcome = sa.select(_EVENTS.c.dispatch_id).where(is_outcome)
    for a in conn.execute(
        sa.select(_ATTEMPTS).where(_ATTEMPTS.c.dispatch_id.in_(with_outcome))
    ).mappings():
        facts = AttemptFacts(a["id"], a["step_index"], a["channel"])
        attempts[a["dispatch_id"]].append((a["created_at"], facts))
    source = _EVENTS.join(_DISPATCHES, _DISPATCHES.c.id == _EVENTS.c.dispatch_id)
    statement = (
        sa.select(_EVENTS, _DISPATCHES.c.court, _DISPATCHES.c.created_at)
        .select_from(source)
        .where(is_outcome)
        .order_by(_EVENTS.c.dispatch_id, _EVENTS.c.seq)
    )
    for event in conn.execute(statement).mappings():
        recorded = event["recorded_at"]
        then = [f for created, f in attempts[event["dispatch_id"]] if created <= recorded]
        yield outcome_row(dict(event), event["court"], event["created_at"], then)


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
