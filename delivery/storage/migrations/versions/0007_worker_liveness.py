"""Worker liveness: ``workers`` (one row per running worker, with its heartbeat) and
``attempts.claimed_by``, instead of a fixed sending lease (docs/decisions/0024).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from delivery.storage.schema import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("heartbeat_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    op.create_index(op.f("ix_workers_heartbeat_at"), "workers", ["heartbeat_at"], unique=False)
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=26), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("claimed_by")
    op.drop_index(op.f("ix_workers_heartbeat_at"), table_name="workers")
    op.drop_table("workers")
