"""``sms_sends.address`` and ``sms_sends.kind``: the number each SMS went to and what it was (a
notice of service, an identity-check code, an address confirmation request), so that a reply is
matched to the latest message to its number, whatever its kind (docs/decisions/0042).

The sends already recorded with an attempt take the attempt's number and the kind ``service``; a
code or confirmation request sent before keeps neither (its number was not recorded anywhere).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sms_sends", sa.Column("address", sa.String(length=500), nullable=True))
    op.add_column("sms_sends", sa.Column("kind", sa.String(length=30), nullable=True))
    op.create_index(op.f("ix_sms_sends_address"), "sms_sends", ["address"], unique=False)
    op.execute(
        "UPDATE sms_sends SET kind = 'service', address = "
        "(SELECT attempts.address FROM attempts WHERE attempts.id = sms_sends.attempt_id) "
        "WHERE attempt_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sms_sends_address"), table_name="sms_sends")
    with op.batch_alter_table("sms_sends") as batch:
        batch.drop_column("kind")
        batch.drop_column("address")
