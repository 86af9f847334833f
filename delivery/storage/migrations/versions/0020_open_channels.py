"""The queue's channel filter at a million dispatches (issue 16, item 2): each dispatch keeps the
channels of its open attempts in ``dispatches.open_channels`` (one bit per channel), kept by
the unit of work whenever an attempt opens or closes, with a partial index per channel on (court,
state, id). The filter then counts each state from its channel's index alone instead of joining
every open attempt of the channel (0.3 s for postal); the attempts' open-channel index, which
only that join read, is dropped (docs/decisions/0057).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# As in delivery/storage/schema/dispatch.py (OPEN_CHANNEL_BITS) and schema/attempt.py.
OPEN_CHANNEL_BITS = {"email": 1, "sms": 2, "postal": 4, "in_person": 8, "public_notice": 16}
OPEN_ATTEMPTS = "state IN ('pending', 'sending', 'sent', 'delivered')"
BITS = " ".join(f"WHEN '{channel}' THEN {bit}" for channel, bit in OPEN_CHANNEL_BITS.items())


def _open_on(channel: str) -> str:
    return f"(open_channels & {OPEN_CHANNEL_BITS[channel]}) <> 0"


def upgrade() -> None:
    op.add_column(
        "dispatches",
        sa.Column("open_channels", sa.Integer, nullable=False, server_default="0"),
    )
    op.execute(
        "UPDATE dispatches SET open_channels = ("
        f" SELECT coalesce(sum(DISTINCT CASE attempts.channel {BITS} ELSE 0 END), 0)"
        f" FROM attempts WHERE attempts.dispatch_id = dispatches.id AND attempts.{OPEN_ATTEMPTS})"
        f" WHERE id IN (SELECT dispatch_id FROM attempts WHERE {OPEN_ATTEMPTS})"
    )
    for channel in OPEN_CHANNEL_BITS:
        op.create_index(
            f"ix_dispatches_open_{channel}",
            "dispatches",
            ["court", "state", "id"],
            unique=False,
            postgresql_where=sa.text(_open_on(channel)),
            sqlite_where=sa.text(_open_on(channel)),
        )
    op.drop_index("ix_attempts_open_channel", table_name="attempts")


def downgrade() -> None:
    op.create_index(
        "ix_attempts_open_channel",
        "attempts",
        ["channel", "dispatch_id"],
        unique=False,
        postgresql_where=sa.text(OPEN_ATTEMPTS),
        sqlite_where=sa.text(OPEN_ATTEMPTS),
    )
    for channel in OPEN_CHANNEL_BITS:
        op.drop_index(f"ix_dispatches_open_{channel}", table_name="dispatches")
    # SQLite (3.35+) drops the column in place: rebuilding the table, as a batch would, fails
    # under the foreign keys of a populated database.
    op.drop_column("dispatches", "open_channels")
