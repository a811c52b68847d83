"""webhook records and destination versions: what a delivery is about, and which version of
the invoice our last write left

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_inbox", sa.Column(
        "record_id", sa.Text(), nullable=True,
        comment="the record the delivery is about (the order id of an order or refund)"))
    op.add_column("webhook_inbox", sa.Column(
        "record_version", sa.DateTime(timezone=True), nullable=True,
        comment="the vendor's version of that record in the delivery (updated_at)"))
    op.create_index("ix_webhook_inbox_record", "webhook_inbox",
                    ["vendor", "record_id", "record_version"])
    op.add_column("sync_ledger", sa.Column(
        "destination_updated_at", sa.DateTime(timezone=True), nullable=True,
        comment="the destination's LastUpdatedTime after our last write: a later change "
        "notified by the destination is someone else's"))
    op.create_index("ix_sync_ledger_destination", "sync_ledger",
                    ["integration", "destination_id"])


def downgrade() -> None:
    op.drop_index("ix_sync_ledger_destination", table_name="sync_ledger")
    op.drop_column("sync_ledger", "destination_updated_at")
    op.drop_index("ix_webhook_inbox_record", table_name="webhook_inbox")
    op.drop_column("webhook_inbox", "record_version")
    op.drop_column("webhook_inbox", "record_id")
