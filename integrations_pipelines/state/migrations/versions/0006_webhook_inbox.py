"""webhook inbox: deliveries committed before they are acknowledged

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_inbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("vendor", sa.Text(), nullable=False),
        sa.Column("connection", sa.Text(), nullable=False,
                  comment="the route's shop or company"),
        sa.Column("topic", sa.Text(), nullable=False, comment="e.g. orders/updated"),
        sa.Column("delivery_id", sa.Text(), nullable=False,
                  comment="the vendor's delivery id (X-Shopify-Webhook-Id), the same on "
                  "redelivery"),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.Column("shop", sa.Text(), nullable=True,
                  comment="X-Shopify-Shop-Domain, realm id, ..."),
        sa.Column("triggered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False, comment="the raw body, exactly as signed"),
        sa.Column("status", sa.Text(), nullable=False,
                  comment="pending | processed | ignored (unknown topic) | malformed "
                  "(signed, not JSON)"),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True, comment="what processing did with it"),
        sa.UniqueConstraint("vendor", "delivery_id", name="uq_webhook_delivery"),
        comment="webhook deliveries, committed before they are acknowledged",
    )
    op.create_index("ix_webhook_inbox_pending", "webhook_inbox", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_inbox_pending", table_name="webhook_inbox")
    op.drop_table("webhook_inbox")
