"""A year's report counts cells, not outcomes (issue 16, item 2): ``outcome_tallies`` holds how
many standing outcomes share each local day, type, channel, owner and fact, and on PostgreSQL
three statement triggers on ``service_outcomes`` keep it in the statement that changes the
rows, in the time zone ``outcome_tally_zone`` names. The migration leaves that table empty:
the tallies are not kept until ``delivery/storage/outcome_tallies.py`` (``songda db upgrade``,
``songda run``) tallies every standing outcome in the configured zone with
``retally_outcomes``, which also gives the planner the new table's statistics (without them a
report's plan expects one cell) (docs/decisions/0060). SQLite's reports count the rows in
Python: it gets the two tables, empty, and no trigger.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

# The cell of a standing outcome row ``o`` in the zone ``z`` — its dates there, its type, its
# channel and owner ('' for none), whether it was served at the first step, at a confirmed
# address, by the recipient's reply (as delivery/storage/reports.py counts_statement reads them
# from the row) — and the columns of outcome_tallies that hold it, in the same order.
CELL = (
    "o.court, (o.dated_at AT TIME ZONE z)::date, (o.occurred_at AT TIME ZONE z)::date, o.type,"
    " coalesce(o.channel, ''), coalesce(o.owner_id, ''),"
    " coalesce(o.served_step = o.first_step, false), o.confirmed_address, o.by_reply"
)
COLUMNS = (
    "court, dated_on, recorded_on, type, channel, owner_id, first_try, confirmed_address, by_reply"
)
BY_CELL = "1, 2, 3, 4, 5, 6, 7, 8, 9"


def _added(signed_rows: str) -> str:
    """Add the standing rows of ``signed_rows`` (a row and its sign ``d``) to their cells, in
    the cells' order: two transactions that change the same cells lock them in one order."""
    return (
        f"INSERT INTO outcome_tallies AS t ({COLUMNS}, n)"
        f" SELECT {CELL}, sum(o.d) FROM ({signed_rows}) AS o WHERE o.standing"
        f" GROUP BY {BY_CELL} HAVING sum(o.d) <> 0 ORDER BY {BY_CELL}"
        " ON CONFLICT ON CONSTRAINT pk_outcome_tallies DO UPDATE SET n = t.n + excluded.n;"
    )


INSERTED = "SELECT *, 1 AS d FROM new_rows"
DELETED = "SELECT *, -1 AS d FROM old_rows"

TALLY_FUNCTION = f"""
CREATE FUNCTION tally_outcomes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE z text;
BEGIN
    SELECT zone INTO z FROM outcome_tally_zone;
    IF z IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        {_added(INSERTED)}
    ELSIF TG_OP = 'UPDATE' THEN
        {_added(f"{INSERTED} UNION ALL {DELETED}")}
    ELSE
        {_added(DELETED)}
    END IF;
    RETURN NULL;
END $$
"""

RETALLY_FUNCTION = f"""
CREATE FUNCTION retally_outcomes(z text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE cells bigint;
BEGIN
    LOCK TABLE service_outcomes IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM outcome_tally_zone;
    DELETE FROM outcome_tallies;
    INSERT INTO outcome_tallies ({COLUMNS}, n)
        SELECT {CELL}, count(*) FROM service_outcomes AS o WHERE o.standing GROUP BY {BY_CELL};
    GET DIAGNOSTICS cells = ROW_COUNT;
    INSERT INTO outcome_tally_zone (zone) VALUES (z);
    ANALYZE outcome_tallies;
    RETURN cells;
END $$
"""

TRIGGERS = {
    "tally_inserted_outcomes": "INSERT ON service_outcomes REFERENCING NEW TABLE AS new_rows",
    "tally_updated_outcomes": (
        "UPDATE ON service_outcomes REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
    "tally_deleted_outcomes": "DELETE ON service_outcomes REFERENCING OLD TABLE AS old_rows",
}


def upgrade() -> None:
    op.create_table(
        "outcome_tallies",
        sa.Column("court", sa.String(200), nullable=False),
        sa.Column("dated_on", sa.Date, nullable=False),
        sa.Column("recorded_on", sa.Date, nullable=False),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("channel", sa.String(30), nullable=False),
        sa.Column("owner_id", sa.String(26), nullable=False),
        sa.Column("first_try", sa.Boolean, nullable=False),
        sa.Column("confirmed_address", sa.Boolean, nullable=False),
        sa.Column("by_reply", sa.Boolean, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint(*COLUMNS.split(", "), name=op.f("pk_outcome_tallies")),
    )
    op.create_table(
        "outcome_tally_zone",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("zone", name=op.f("pk_outcome_tally_zone")),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(TALLY_FUNCTION)
    op.execute(RETALLY_FUNCTION)
    for name, event in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} FOR EACH STATEMENT"
            " EXECUTE FUNCTION tally_outcomes()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON service_outcomes")
        op.execute("DROP FUNCTION retally_outcomes(text)")
        op.execute("DROP FUNCTION tally_outcomes()")
    op.drop_table("outcome_tally_zone")
    op.drop_table("outcome_tallies")
