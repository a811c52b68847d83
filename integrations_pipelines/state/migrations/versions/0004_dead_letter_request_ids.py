"""dead letters keep the vendor's request id of the failed write (QuickBooks intuit_tid)

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
    op.add_column("dead_letters", sa.Column(
        "vendor_request_id", sa.Text(), nullable=True,
        comment="the vendor's id of the failed request (intuit_tid): what its support asks for"))


def downgrade() -> None:
    op.drop_column("dead_letters", "vendor_request_id")
