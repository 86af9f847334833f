"""Address confirmations and case groups (CPL-INT-136/137): ``address_confirmations``, one row
per signed online confirmation; ``case_groups``, the cases the case system linked; and
``contacts.confirmation_id``, the form a contact was taken from (docs/decisions/0043).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from delivery.storage.schema import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "address_confirmations",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("court", sa.String(length=200), nullable=False),
        sa.Column("case_number", sa.String(length=100), nullable=False),
        sa.Column("dispatch_id", sa.String(length=26), nullable=False),
        sa.Column("id_hmac", sa.String(length=64), nullable=False),
        sa.Column("confirmed_at", UtcDateTime(), nullable=False),
        sa.Column("consent_given", sa.Boolean(), nullable=False),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("designated_receiver", sa.JSON(), nullable=True),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("form_sha256", sa.String(length=64), nullable=False),
        sa.Column("form_media_id", sa.String(length=26), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispatch_id"],
            ["dispatches.id"],
            name=op.f("fk_address_confirmations_dispatch_id_dispatches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_confirmations")),
    )
    op.create_index(
        op.f("ix_address_confirmations_dispatch_id"),
        "address_confirmations",
        ["dispatch_id"],
        unique=False,
    )
    op.create_index(
        "ix_address_confirmations_court_id_hmac",
        "address_confirmations",
        ["court", "id_hmac", "confirmed_at"],
        unique=False,
    )
    op.create_table(
        "case_groups",
        sa.Column("court", sa.String(length=200), nullable=False),
        sa.Column("case_number", sa.String(length=100), nullable=False),
        sa.Column("group_id", sa.String(length=100), nullable=False),
        sa.Column("linked_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("court", "case_number", name=op.f("pk_case_groups")),
    )
    op.create_index(
        "ix_case_groups_court_group_id", "case_groups", ["court", "group_id"], unique=False
    )
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("confirmation_id", sa.String(length=26), nullable=True))
        batch.create_foreign_key(
            op.f("fk_contacts_confirmation_id_address_confirmations"),
            "address_confirmations",
            ["confirmation_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_constraint(
            op.f("fk_contacts_confirmation_id_address_confirmations"), type_="foreignkey"
        )
        batch.drop_column("confirmation_id")
    op.drop_index("ix_case_groups_court_group_id", table_name="case_groups")
    op.drop_table("case_groups")
    op.drop_index("ix_address_confirmations_court_id_hmac", table_name="address_confirmations")
    op.drop_index(op.f("ix_address_confirmations_dispatch_id"), table_name="address_confirmations")
    op.drop_table("address_confirmations")
