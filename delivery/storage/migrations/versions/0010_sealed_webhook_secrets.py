"""Webhook signing secrets encrypted at rest: ``webhook_endpoints.sealed_secret`` (a Fernet token
under SONGDA_SECRETS_KEY), the plaintext ``secret`` column now nullable (docs/decisions/0028).

The migration has no key (Alembic runs without the application's settings), so it only makes
room: ``songda db upgrade`` and ``songda run`` seal every plaintext secret right after migrating
(``delivery.services.webhook_secrets.seal_plaintext``), and ``songda secrets rotate`` does too.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_secret", sa.String(length=400), nullable=True))
        batch_op.alter_column("secret", existing_type=sa.String(length=200), nullable=True)


def downgrade() -> None:
    # Sealed secrets cannot be opened here (no key): downgrading loses them, so refuse while any
    # endpoint has only a sealed secret.
    sealed_only = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM webhook_endpoints WHERE secret IS NULL")
    )
    if sealed_only:
        raise RuntimeError(
            f"{sealed_only} webhook endpoint(s) have only an encrypted secret; downgrading would "
            "lose them"
        )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.alter_column("secret", existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_column("sealed_secret")
