"""The reports over a million dispatches (issue 16, item 2), docs/decisions/0053.

- Each dispatch's latest outcome is marked ``standing`` on its ``service_outcomes`` row, with
  the dispatch's owner beside it (``owner_id``), so a report reads just the rows it counts
  instead of sorting every outcome of the period to find each dispatch's latest and joining
  every ownership event to find its owner. The ownership events' partial index, which only
  that join read, goes.
- Each row stores what a report filters and ranks it by: ``dated_at`` (the legal instant of
  service, else when recorded) and ``time_to_service_us`` (whole microseconds from the
  dispatch's creation to its service), rather than computing both per row on every report.

Revision ID: 0018
Revises: 0017
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from delivery.storage.schema import UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

STANDING = "standing"  # as in delivery/storage/schema (STANDING)
OWNER_EVENTS = "type IN ('owner_assigned', 'owner_reassigned')"  # as migration 0005 made it
SERVED = "dispatch_served"

# Each dispatch's latest outcome (its highest seq) and the owner its latest ownership event
# names (the chain, not the dispatch row: the evidence is the record), as a table joined once
# (hash joins; the owner's data read once per dispatch by its (dispatch_id, seq) key).
LATEST = """
SELECT latest.dispatch_id, latest.seq, {owner} AS owner_id
FROM (
    SELECT so.dispatch_id, max(so.seq) AS seq, max(w.seq) AS owned_seq
    FROM service_outcomes AS so
    LEFT JOIN events AS w ON w.dispatch_id = so.dispatch_id AND w.{owner_events}
    GROUP BY so.dispatch_id
) AS latest
LEFT JOIN events AS e ON e.dispatch_id = latest.dispatch_id AND e.seq = latest.owned_seq
"""
OWNER_ID = {
    "postgresql": "e.data::json ->> 'owner_id'",
    "sqlite": "json_extract(e.data, '$.owner_id')",
}

# SQLite: the standing rows marked (the facts are computed in Python, below).
MARK_STANDING = """
UPDATE service_outcomes SET standing = true, owner_id = latest.owner_id
FROM ({latest}) AS latest
WHERE service_outcomes.dispatch_id = latest.dispatch_id AND service_outcomes.seq = latest.seq
"""

# PostgreSQL: everything in one pass over the table (one new version of each row, not two),
# the facts computed exactly (extract(epoch) is numeric).
SERVED_KNOWN = f"o.type = '{SERVED}' AND o.served_at IS NOT NULL"
FILL_ALL = f"""
UPDATE service_outcomes AS o SET
    dated_at = CASE WHEN {SERVED_KNOWN} THEN o.served_at ELSE o.occurred_at END,
    time_to_service_us = CASE WHEN {SERVED_KNOWN} THEN round(
        (extract(epoch FROM o.served_at) - extract(epoch FROM o.dispatch_created_at)) * 1000000
    )::bigint END,
    standing = (o.seq = latest.seq),
    owner_id = CASE WHEN o.seq = latest.seq THEN latest.owner_id END
FROM ({{latest}}) AS latest
WHERE o.dispatch_id = latest.dispatch_id
"""

_OUTCOMES = sa.table(
    "service_outcomes",
    sa.column("event_id", sa.String()),
    sa.column("type", sa.String()),
    sa.column("occurred_at", UtcDateTime()),
    sa.column("served_at", UtcDateTime()),
    sa.column("dispatch_created_at", UtcDateTime()),
    sa.column("dated_at", UtcDateTime()),
    sa.column("time_to_service_us", sa.BigInteger()),
)


def _fill_facts_in_python(conn: sa.Connection) -> None:
    """SQLite has no exact time arithmetic (julianday keeps milliseconds): the embedded
    database's few rows are computed here, as delivery/storage/outcomes.py with_report_facts
    computes them for each new row."""
    o = _OUTCOMES.c
    rows = conn.execute(
        sa.select(o.event_id, o.type, o.occurred_at, o.served_at, o.dispatch_created_at)
    ).all()
    facts = []
    for event_id, type_, occurred_at, served_at, created_at in rows:
        served = type_ == SERVED and served_at is not None
        facts.append(
            {
                "row_id": event_id,
                "dated": served_at if served else occurred_at,
                "elapsed": (served_at - created_at) // timedelta(microseconds=1)
                if served
                else None,
            }
        )
    if facts:
        conn.execute(
            _OUTCOMES.update()
            .where(o.event_id == sa.bindparam("row_id"))
            .values(dated_at=sa.bindparam("dated"), time_to_service_us=sa.bindparam("elapsed")),
            facts,
        )


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("service_outcomes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dated_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("time_to_service_us", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("standing", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("owner_id", sa.String(length=26), nullable=True))
    dialect = conn.dialect.name
    latest = LATEST.format(owner=OWNER_ID[dialect], owner_events=OWNER_EVENTS)
    if dialect == "postgresql":
        op.execute(FILL_ALL.format(latest=latest))
    else:
        _fill_facts_in_python(conn)
        op.execute(MARK_STANDING.format(latest=latest))
    with op.batch_alter_table("service_outcomes", schema=None) as batch_op:
        batch_op.alter_column("dated_at", existing_type=UtcDateTime(), nullable=False)
    op.create_index(
        "ix_service_outcomes_standing",
        "service_outcomes",
        ["dispatch_id"],
        unique=True,
        postgresql_where=sa.text(STANDING),
        sqlite_where=sa.text(STANDING),
    )
    op.drop_index("ix_events_owners", table_name="events")
    if dialect == "postgresql":  # the planner's statistics of the new columns, at once
        op.execute("ANALYZE service_outcomes")


def downgrade() -> None:
    op.create_index(
        "ix_events_owners",
        "events",
        ["occurred_at"],
        unique=False,
        postgresql_include=["dispatch_id", "seq", "data"],
        postgresql_where=sa.text(OWNER_EVENTS),
        sqlite_where=sa.text(OWNER_EVENTS),
    )
    op.drop_index("ix_service_outcomes_standing", table_name="service_outcomes")
    with op.batch_alter_table("service_outcomes", schema=None) as batch_op:
        batch_op.drop_column("owner_id")
        batch_op.drop_column("standing")
        batch_op.drop_column("time_to_service_us")
        batch_op.drop_column("dated_at")
