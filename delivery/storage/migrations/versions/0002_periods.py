"""Periods that run from service, the recipient's domicile and the kinds of documents served
(CPL-85, CPL-285/286; CPL-INT-133 needs the kinds when deciding), and the service deadline a
hearing sets (CPL-139).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dispatches") as batch_op:
        batch_op.add_column(
            sa.Column("domicile_in_china", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("periods", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("document_kinds", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("service_deadline_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("dispatches") as batch_op:
        batch_op.drop_column("service_deadline_at")
        batch_op.drop_column("document_kinds")
        batch_op.drop_column("periods")
        batch_op.drop_column("domicile_in_china")
