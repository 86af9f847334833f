"""What served, for the reports (docs/decisions/0047): ``service_outcomes.confirmed_address``
(the serving address came from a signed address confirmation form, CPL-INT-136/137) and
``service_outcomes.by_reply`` (the recipient's reply completed service, OLR-31, 0042), filled
here for the services already recorded with the unit of work's own
:func:`~delivery.storage.outcomes.service_reach`.

Only dispatches with a reply or a confirmed contact can have either, so only their services are
read (none was recorded before 0012 and 0042: the backfill reads next to nothing).

Revision ID: 0014
Revises: 0013
"""

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op

from delivery.domain import SERVED_EVENT
from delivery.storage.outcomes import REPLY_EVENT, service_reach

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _stub(name: str, *strings: str, **typed: sa.types.TypeEngine[Any]) -> sa.TableClause:
    """The columns of ``name`` the backfill reads or writes, as they are at this revision."""
    columns = [sa.column(c, sa.String()) for c in strings]
    return sa.table(name, *columns, *(sa.column(c, t) for c, t in typed.items()))


_EVENTS = _stub("events", "id", "dispatch_id", "type", data=sa.Text())
_ATTEMPTS = _stub("attempts", "id", "dispatch_id", "contact_id")
_CONTACTS = _stub("contacts", "id", "confirmation_id")
_OUTCOMES = _stub(
    "service_outcomes", "event_id", confirmed_address=sa.Boolean(), by_reply=sa.Boolean()
)


def upgrade() -> None:
    with op.batch_alter_table("service_outcomes") as batch:
        batch.add_column(
            sa.Column("confirmed_address", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(
            sa.Column("by_reply", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    replies: dict[str, set[str]] = defaultdict(set)
    for event_id, dispatch_id in conn.execute(
        sa.select(_EVENTS.c.id, _EVENTS.c.dispatch_id).where(_EVENTS.c.type == REPLY_EVENT)
    ):
        replies[dispatch_id].add(event_id)
    confirmed: dict[str, set[str]] = defaultdict(set)
    for attempt_id, dispatch_id in conn.execute(
        sa.select(_ATTEMPTS.c.id, _ATTEMPTS.c.dispatch_id)
        .join(_CONTACTS, _CONTACTS.c.id == _ATTEMPTS.c.contact_id)
        .where(_CONTACTS.c.confirmation_id.is_not(None))
    ):
        confirmed[dispatch_id].add(attempt_id)
    candidates = sorted(set(replies) | set(confirmed))
    for start in range(0, len(candidates), 500):
        served = conn.execute(
            sa.select(_EVENTS).where(
                _EVENTS.c.type == SERVED_EVENT,
                _EVENTS.c.dispatch_id.in_(candidates[start : start + 500]),
            )
        ).mappings()
        for event in served:
            reach = service_reach(
                dict(event), confirmed[event["dispatch_id"]], replies[event["dispatch_id"]]
            )
            if any(reach.values()):
                conn.execute(
                    _OUTCOMES.update().where(_OUTCOMES.c.event_id == event["id"]).values(**reach)
                )


def downgrade() -> None:
    with op.batch_alter_table("service_outcomes") as batch:
        batch.drop_column("by_reply")
        batch.drop_column("confirmed_address")
