"""SMS providers: ``sms_sends`` (each send to a provider: the failover's figures and the polls),
``sms_provider_states`` and ``sms_provider_switches`` (docs/decisions/0044, 0045).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from delivery.storage.schema import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_sends",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("attempt_id", sa.String(length=26), nullable=True),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("provider_ref", sa.String(length=100), nullable=True),
        sa.Column("receipt_at", UtcDateTime(), nullable=True),
        sa.Column("next_poll_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_sms_sends_attempt_id_attempts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_sends")),
    )
    for column in ("attempt_id", "started_at", "provider_ref", "next_poll_at"):
        op.create_index(op.f(f"ix_sms_sends_{column}"), "sms_sends", [column], unique=False)
    op.create_table(
        "sms_provider_states",
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("since", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_sms_provider_states")),
    )
    op.create_table(
        "sms_provider_switches",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=False),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_provider_switches")),
    )
    op.create_index(
        op.f("ix_sms_provider_switches_at"), "sms_provider_switches", ["at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sms_provider_switches_at"), table_name="sms_provider_switches")
    op.drop_table("sms_provider_switches")
    op.drop_table("sms_provider_states")
    for column in ("attempt_id", "started_at", "provider_ref", "next_poll_at"):
        op.drop_index(op.f(f"ix_sms_sends_{column}"), table_name="sms_sends")
    op.drop_table("sms_sends")
