"""raw_records: index external keys only where a record has one

Most kinds carry no external key (Shopify orders, Stripe objects): their rows still had an
entry in `ix_raw_records_external_key`, which every first load paid for (one of the table's
three b-trees, about a quarter of PostgreSQL's time on a small-row first load) and no query
used: every lookup by external key asks for a value (`external_key = ...`, `IS NOT NULL`),
which the partial index answers the same.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_COLUMNS = ["system", "record_type", "account", "external_key"]


def upgrade() -> None:
    op.drop_index("ix_raw_records_external_key", table_name="raw_records")
    op.create_index("ix_raw_records_external_key", "raw_records", _COLUMNS,
                    postgresql_where=sa.text("external_key IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_raw_records_external_key", table_name="raw_records")
    op.create_index("ix_raw_records_external_key", "raw_records", _COLUMNS)
