"""change-capture cursors (polling path of changes after the day closes)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_cursors",
        sa.Column("integration", sa.Text(), primary_key=True),
        sa.Column("feed", sa.Text(), primary_key=True,
                  comment="e.g. shopify.orders.updated_at"),
        sa.Column("position", sa.DateTime(timezone=True), nullable=False,
                  comment="every change up to here is recorded and re-synced"),
        sa.Column("advanced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True, comment="the run that advanced it"),
        comment="change-capture cursors: advanced only after the changes are stored and synced",
    )


def downgrade() -> None:
    op.drop_table("change_cursors")
