"""incidents: alert dedupe (one open incident per integration, kind and subject)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("integration", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False, comment="alerts.kinds.AlertKind"),
        sa.Column(
            "subject",
            sa.Text(),
            server_default="",
            nullable=False,
            comment="asset/partition/check/connection the incident is about",
        ),
        sa.Column("status", sa.Text(), nullable=False, comment="open | resolved"),
        sa.Column("severity", sa.Text(), nullable=False, comment="warning | critical"),
        sa.Column("channel", sa.Text(), nullable=False, comment="the Slack channel notified"),
        sa.Column("summary", sa.Text(), nullable=False, comment="last summary seen (redacted)"),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            comment="last details seen (redacted)",
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurrences", sa.Integer(), server_default="1", nullable=False),
        sa.Column("last_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notifications", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "last_error", sa.Text(), nullable=True, comment="why the last delivery failed"
        ),
        sa.Column(
            "message_ts", sa.Text(), nullable=True, comment="Slack ts of the first message"
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_opened_at", "incidents", ["opened_at"], unique=False)
    op.create_index(
        "uq_incidents_open",
        "incidents",
        ["integration", "kind", "subject"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_incidents_open",
        table_name="incidents",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_index("ix_incidents_opened_at", table_name="incidents")
    op.drop_table("incidents")
