"""A year's report counts cells, not outcomes (issue 16, item 2): ``outcome_tallies`` holds how
many standing outcomes share each local day, type, channel, owner and fact. On PostgreSQL three
statement triggers on ``service_outcomes`` log, in the statement that changes the rows, what it
changed per cell in ``outcome_tally_changes`` (insert only: concurrent writers never wait on a
cell), and ``fold_outcome_tallies`` (the sweep) adds the log to the cells; a report reads both.
The cells' dates are in the time zone ``outcome_tally_zone`` names. The migration leaves it
empty: nothing is logged until ``delivery/storage/outcome_tallies.py`` (``songda db upgrade``,
``songda run``) tallies every standing outcome in the configured zone with
``retally_outcomes``, which also gives the planner the new table's statistics (without them a
report's plan expects one cell) (docs/decisions/0060). SQLite's reports count the rows in
Python: it gets the three tables, empty, and no trigger.

Revision ID: 0022
Revises: 0021
"""

from typing import Any

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
CELL_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "court": sa.String(200),
    "dated_on": sa.Date(),
    "recorded_on": sa.Date(),
    "type": sa.String(60),
    "channel": sa.String(30),
    "owner_id": sa.String(26),
    "first_try": sa.Boolean(),
    "confirmed_address": sa.Boolean(),
    "by_reply": sa.Boolean(),
}
COLUMNS = ", ".join(CELL_TYPES)
BY_CELL = "1, 2, 3, 4, 5, 6, 7, 8, 9"


def _changed(signed_rows: str) -> str:
    """Log the standing rows of ``signed_rows`` (a row and its sign ``d``), counted per cell.
    Only inserted: two transactions that change the same cells never wait for each other
    (adding to the cells themselves locked them, in whatever order each transaction wrote)."""
    return (
        f"INSERT INTO outcome_tally_changes ({COLUMNS}, n)"
        f" SELECT {CELL}, sum(o.d) FROM ({signed_rows}) AS o WHERE o.standing"
        f" GROUP BY {BY_CELL} HAVING sum(o.d) <> 0;"
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
        {_changed(INSERTED)}
    ELSIF TG_OP = 'UPDATE' THEN
        {_changed(f"{INSERTED} UNION ALL {DELETED}")}
    ELSE
        {_changed(DELETED)}
    END IF;
    RETURN NULL;
END $$
"""

# The logged changes added to their cells and deleted, in one statement; the number of cells
# changed. A fold running at the same time waits for this one's rows and finds them gone. A
# cell emptied (its outcomes replaced or reassigned) keeps its row at 0: deleting those would
# read every cell at every fold, and a report skips them.
FOLD_FUNCTION = f"""
CREATE FUNCTION fold_outcome_tallies() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE cells bigint;
BEGIN
    WITH moved AS (DELETE FROM outcome_tally_changes RETURNING {COLUMNS}, n)
    INSERT INTO outcome_tallies AS t ({COLUMNS}, n)
        SELECT {COLUMNS}, sum(n) FROM moved GROUP BY {BY_CELL}
        ON CONFLICT ON CONSTRAINT pk_outcome_tallies DO UPDATE SET n = t.n + excluded.n;
    GET DIAGNOSTICS cells = ROW_COUNT;
    RETURN cells;
END $$
"""

RETALLY_FUNCTION = f"""
CREATE FUNCTION retally_outcomes(z text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE cells bigint;
BEGIN
    PERFORM now() AT TIME ZONE z;  -- a zone PostgreSQL does not know fails here, not in a write
    LOCK TABLE service_outcomes IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM outcome_tally_zone;
    DELETE FROM outcome_tally_changes;
    DELETE FROM outcome_tallies;
    INSERT INTO outcome_tallies ({COLUMNS}, n)
        SELECT {CELL}, count(*) FROM service_outcomes AS o WHERE o.standing GROUP BY {BY_CELL};
    GET DIAGNOSTICS cells = ROW_COUNT;
    INSERT INTO outcome_tally_zone (zone) VALUES (z);
    ANALYZE outcome_tallies;
    RETURN cells;
END $$
"""

# TRUNCATE has no transition table: the tallies are no longer kept (reports count the rows)
# until they are tallied anew.
UNTALLY_FUNCTION = """
CREATE FUNCTION untally_outcomes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM outcome_tally_zone;
    DELETE FROM outcome_tally_changes;
    DELETE FROM outcome_tallies;
    RETURN NULL;
END $$
"""

TRIGGERS = {
    "tally_inserted_outcomes": "INSERT ON service_outcomes REFERENCING NEW TABLE AS new_rows",
    "tally_updated_outcomes": (
        "UPDATE ON service_outcomes REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
    "tally_deleted_outcomes": "DELETE ON service_outcomes REFERENCING OLD TABLE AS old_rows",
}


def _cell_columns() -> list[sa.Column[Any]]:
    """A cell's columns and its count (as in delivery/storage/schema/event.py)."""
    return [
        *(sa.Column(name, type_, nullable=False) for name, type_ in CELL_TYPES.items()),
        sa.Column("n", sa.Integer, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "outcome_tallies",
        *_cell_columns(),
        sa.PrimaryKeyConstraint(*CELL_TYPES, name=op.f("pk_outcome_tallies")),
    )
    op.create_table(
        "outcome_tally_changes",
        sa.Column("id", sa.Integer, nullable=False),
        *_cell_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_tally_changes")),
    )
    op.create_table(
        "outcome_tally_zone",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("zone", name=op.f("pk_outcome_tally_zone")),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(TALLY_FUNCTION)
    op.execute(FOLD_FUNCTION)
    op.execute(RETALLY_FUNCTION)
    op.execute(UNTALLY_FUNCTION)
    for name, event in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} FOR EACH STATEMENT"
            " EXECUTE FUNCTION tally_outcomes()"
        )
    op.execute(
        "CREATE TRIGGER untally_truncated_outcomes AFTER TRUNCATE ON service_outcomes"
        " FOR EACH STATEMENT EXECUTE FUNCTION untally_outcomes()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in [*TRIGGERS, "untally_truncated_outcomes"]:
            op.execute(f"DROP TRIGGER {name} ON service_outcomes")
        op.execute("DROP FUNCTION untally_outcomes()")
        op.execute("DROP FUNCTION retally_outcomes(text)")
        op.execute("DROP FUNCTION fold_outcome_tallies()")
        op.execute("DROP FUNCTION tally_outcomes()")
    op.drop_table("outcome_tally_zone")
    op.drop_table("outcome_tally_changes")
    op.drop_table("outcome_tallies")
