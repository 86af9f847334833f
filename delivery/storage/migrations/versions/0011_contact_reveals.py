"""Contact reveals: ``contact_reveals``, one row each time a member of staff showed a recipient's
contact in full on the dispatch page — an audit of access to personal data, kept outside the
evidence chain (docs/decisions/0035).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from delivery.storage.schema import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_reveals",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("dispatch_id", sa.String(length=26), nullable=False),
        sa.Column("contact_id", sa.String(length=26), nullable=False),
        sa.Column("staff_id", sa.String(length=26), nullable=False),
        sa.Column("revealed_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_reveals_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["dispatch_id"],
            ["dispatches.id"],
            name=op.f("fk_contact_reveals_dispatch_id_dispatches"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_contact_reveals_staff_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_reveals")),
    )
    op.create_index(
        op.f("ix_contact_reveals_dispatch_id"), "contact_reveals", ["dispatch_id"], unique=False
    )
    op.create_index(
        op.f("ix_contact_reveals_revealed_at"), "contact_reveals", ["revealed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_contact_reveals_revealed_at"), table_name="contact_reveals")
    op.drop_index(op.f("ix_contact_reveals_dispatch_id"), table_name="contact_reveals")
    op.drop_table("contact_reveals")
