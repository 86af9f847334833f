"""Third-party time: ``checkpoint_timestamps``, the chain checkpoints waiting for (or holding)
their RFC 3161 token (docs/decisions/0021).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from delivery.storage.schema import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkpoint_timestamps",
        sa.Column("dispatch_id", sa.String(length=26), nullable=False),
        sa.Column("checkpoint_seq", sa.Integer(), nullable=False),
        sa.Column("checkpoint_hash", sa.String(length=64), nullable=False),
        sa.Column("checkpointed_at", UtcDateTime(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("timestamped_at", UtcDateTime(), nullable=True),
        sa.Column("flagged_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispatch_id"],
            ["dispatches.id"],
            name=op.f("fk_checkpoint_timestamps_dispatch_id_dispatches"),
        ),
        sa.PrimaryKeyConstraint(
            "dispatch_id", "checkpoint_seq", name=op.f("pk_checkpoint_timestamps")
        ),
    )
    op.create_index(
        op.f("ix_checkpoint_timestamps_next_attempt_at"),
        "checkpoint_timestamps",
        ["next_attempt_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_checkpoint_timestamps_next_attempt_at"), table_name="checkpoint_timestamps"
    )
    op.drop_table("checkpoint_timestamps")
