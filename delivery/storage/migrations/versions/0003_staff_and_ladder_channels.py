"""Staff accounts and sessions; the records of the postal, in-person and public-notice channels
(mail pieces and carrier events, field tasks, notices and their publications) and the evidence
files they take (photos, videos, signatures, scanned return cards).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("courts", sa.JSON(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_users_username")),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_staff_sessions_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_staff_sessions")),
    )
    op.create_index(op.f("ix_staff_sessions_user_id"), "staff_sessions", ["user_id"], unique=False)
    op.create_table(
        "carrier_events",
        sa.Column("carrier", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("attempt_id", sa.String(length=26), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_carrier_events_attempt_id_attempts")
        ),
        sa.PrimaryKeyConstraint("carrier", "event_id", name=op.f("pk_carrier_events")),
    )
    op.create_index(
        op.f("ix_carrier_events_attempt_id"), "carrier_events", ["attempt_id"], unique=False
    )
    op.create_table(
        "field_tasks",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("attempt_id", sa.String(length=26), nullable=False),
        sa.Column("dispatch_id", sa.String(length=26), nullable=False),
        sa.Column("court", sa.String(length=200), nullable=False),
        sa.Column("assignee_id", sa.String(length=26), nullable=True),
        sa.Column("visit_no", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["staff_users.id"], name=op.f("fk_field_tasks_assignee_id_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_field_tasks_attempt_id_attempts")
        ),
        sa.ForeignKeyConstraint(
            ["dispatch_id"], ["dispatches.id"], name=op.f("fk_field_tasks_dispatch_id_dispatches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_tasks")),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_field_tasks_attempt_id")),
    )
    op.create_index(
        op.f("ix_field_tasks_assignee_id"), "field_tasks", ["assignee_id"], unique=False
    )
    op.create_index(op.f("ix_field_tasks_court"), "field_tasks", ["court"], unique=False)
    op.create_index(
        op.f("ix_field_tasks_dispatch_id"), "field_tasks", ["dispatch_id"], unique=False
    )
    op.create_index(op.f("ix_field_tasks_state"), "field_tasks", ["state"], unique=False)
    op.create_table(
        "media_files",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("dispatch_id", sa.String(length=26), nullable=False),
        sa.Column("attempt_id", sa.String(length=26), nullable=True),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_media_files_attempt_id_attempts")
        ),
        sa.ForeignKeyConstraint(
            ["dispatch_id"], ["dispatches.id"], name=op.f("fk_media_files_dispatch_id_dispatches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_files")),
    )
    op.create_index(op.f("ix_media_files_attempt_id"), "media_files", ["attempt_id"], unique=False)
    op.create_index(
        op.f("ix_media_files_dispatch_id"), "media_files", ["dispatch_id"], unique=False
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("attempt_id", sa.String(length=26), nullable=False),
        sa.Column("dispatch_id", sa.String(length=26), nullable=False),
        sa.Column("court", sa.String(length=200), nullable=False),
        sa.Column("case_number", sa.String(length=100), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.JSON(), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deemed_served_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_notices_attempt_id_attempts")
        ),
        sa.ForeignKeyConstraint(
            ["dispatch_id"], ["dispatches.id"], name=op.f("fk_notices_dispatch_id_dispatches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_notices_attempt_id")),
    )
    op.create_index(op.f("ix_notices_case_number"), "notices", ["case_number"], unique=False)
    op.create_index(op.f("ix_notices_court"), "notices", ["court"], unique=False)
    op.create_index(op.f("ix_notices_dispatch_id"), "notices", ["dispatch_id"], unique=False)
    op.create_index(op.f("ix_notices_state"), "notices", ["state"], unique=False)
    op.create_table(
        "postal_pieces",
        sa.Column("attempt_id", sa.String(length=26), nullable=False),
        sa.Column("dispatch_id", sa.String(length=26), nullable=False),
        sa.Column("court", sa.String(length=200), nullable=False),
        sa.Column("carrier", sa.String(length=40), nullable=False),
        sa.Column("tracking_number", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_postal_pieces_attempt_id_attempts")
        ),
        sa.ForeignKeyConstraint(
            ["dispatch_id"], ["dispatches.id"], name=op.f("fk_postal_pieces_dispatch_id_dispatches")
        ),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_postal_pieces")),
        sa.UniqueConstraint("carrier", "tracking_number", name="uq_postal_pieces_carrier_tracking"),
    )
    op.create_index(op.f("ix_postal_pieces_court"), "postal_pieces", ["court"], unique=False)
    op.create_index(
        op.f("ix_postal_pieces_created_at"), "postal_pieces", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_postal_pieces_dispatch_id"), "postal_pieces", ["dispatch_id"], unique=False
    )
    op.create_index(
        op.f("ix_postal_pieces_next_poll_at"), "postal_pieces", ["next_poll_at"], unique=False
    )
    op.create_table(
        "notice_publications",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("notice_id", sa.String(length=26), nullable=False),
        sa.Column("place", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("media_id", sa.String(length=26), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media_files.id"],
            name=op.f("fk_notice_publications_media_id_media_files"),
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_notice_publications_notice_id_notices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_publications")),
    )
    op.create_index(
        op.f("ix_notice_publications_notice_id"), "notice_publications", ["notice_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_notice_publications_notice_id"), table_name="notice_publications")
    op.drop_table("notice_publications")
    op.drop_index(op.f("ix_postal_pieces_next_poll_at"), table_name="postal_pieces")
    op.drop_index(op.f("ix_postal_pieces_dispatch_id"), table_name="postal_pieces")
    op.drop_index(op.f("ix_postal_pieces_created_at"), table_name="postal_pieces")
    op.drop_index(op.f("ix_postal_pieces_court"), table_name="postal_pieces")
    op.drop_table("postal_pieces")
    op.drop_index(op.f("ix_notices_state"), table_name="notices")
    op.drop_index(op.f("ix_notices_dispatch_id"), table_name="notices")
    op.drop_index(op.f("ix_notices_court"), table_name="notices")
    op.drop_index(op.f("ix_notices_case_number"), table_name="notices")
    op.drop_table("notices")
    op.drop_index(op.f("ix_media_files_dispatch_id"), table_name="media_files")
    op.drop_index(op.f("ix_media_files_attempt_id"), table_name="media_files")
    op.drop_table("media_files")
    op.drop_index(op.f("ix_field_tasks_state"), table_name="field_tasks")
    op.drop_index(op.f("ix_field_tasks_dispatch_id"), table_name="field_tasks")
    op.drop_index(op.f("ix_field_tasks_court"), table_name="field_tasks")
    op.drop_index(op.f("ix_field_tasks_assignee_id"), table_name="field_tasks")
    op.drop_table("field_tasks")
    op.drop_index(op.f("ix_carrier_events_attempt_id"), table_name="carrier_events")
    op.drop_table("carrier_events")
    op.drop_index(op.f("ix_staff_sessions_user_id"), table_name="staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_table("staff_users")
