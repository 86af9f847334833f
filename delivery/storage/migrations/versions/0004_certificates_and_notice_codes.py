"""Proof of service: certificates (content-addressed PDFs pinning the chain head at service,
superseded when service is reversed) and the notice codes printed on every message and letter.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("dispatch_id", sa.String(length=26), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chain_head", sa.String(length=64), nullable=False),
        sa.Column("chain_seq", sa.Integer(), nullable=False),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("legal_basis", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("supersedes_id", sa.String(length=26), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispatch_id"], ["dispatches.id"], name=op.f("fk_certificates_dispatch_id_dispatches")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["certificates.id"],
            name=op.f("fk_certificates_supersedes_id_certificates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("dispatch_id", "chain_seq", name="uq_certificates_dispatch_seq"),
    )
    op.create_index(
        op.f("ix_certificates_dispatch_id"), "certificates", ["dispatch_id"], unique=False
    )
    op.create_table(
        "notice_codes",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("dispatch_id", sa.String(length=26), nullable=False),
        sa.Column("attempt_id", sa.String(length=26), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_notice_codes_attempt_id_attempts")
        ),
        sa.ForeignKeyConstraint(
            ["dispatch_id"], ["dispatches.id"], name=op.f("fk_notice_codes_dispatch_id_dispatches")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_notice_codes")),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_notice_codes_attempt_id")),
    )
    op.create_index(
        op.f("ix_notice_codes_dispatch_id"), "notice_codes", ["dispatch_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_notice_codes_dispatch_id"), table_name="notice_codes")
    op.drop_table("notice_codes")
    op.drop_index(op.f("ix_certificates_dispatch_id"), table_name="certificates")
    op.drop_table("certificates")
