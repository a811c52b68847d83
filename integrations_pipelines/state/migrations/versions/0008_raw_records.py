"""one raw store for every source: raw_records replaces raw_shopify_orders and
raw_quickbooks_invoices

A record is keyed by its kind (system, record_type, account) and the vendor's id; the
vendor's shaping (key, day, version, facts) lives in `vendors/<vendor>/records.py`, so a new
source needs no migration. Every row of the old tables is copied:
- Shopify: shopify / orders / default, key = order_id, version = updated_at, facts
  {created_at};
- QuickBooks: quickbooks / invoices / realm_id, key = invoice_id, day = txn_date, external
  key = doc_number, version = MetaData.LastUpdatedTime (read_at when the payload has none),
  facts {doc_number, sync_token, currency, total_amt (text), voided}.
Downgrade recreates both tables and copies those two kinds back; rows of any other kind
have no old table and are lost.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# An ISO 8601 timestamp PostgreSQL can cast; anything else falls back (never a failed cast).
_ISO_STAMP = r"'^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}'"


def upgrade() -> None:
    op.create_table(
        "raw_records",
        sa.Column("system", sa.Text(), nullable=False, comment="the vendor, e.g. shopify"),
        sa.Column("record_type", sa.Text(), nullable=False, comment="e.g. orders, invoices"),
        sa.Column(
            "account",
            sa.Text(),
            nullable=False,
            comment="the vendor account: a QuickBooks realm id, a shop ('default' for one shop)",
        ),
        sa.Column("record_key", sa.Text(), nullable=False,
                  comment="the vendor's id of the record"),
        sa.Column(
            "business_date",
            sa.Date(),
            nullable=False,
            comment="the day the record belongs to (the partition): an order's creation day in "
            "the integration's timezone, an invoice's TxnDate",
        ),
        sa.Column(
            "version",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="the vendor's version of the record (Shopify updated_at, QuickBooks "
            "MetaData.LastUpdatedTime; the extraction time when the vendor states none): a "
            "stored newer version is never replaced by an older one",
        ),
        sa.Column(
            "external_key",
            sa.Text(),
            nullable=True,
            comment="the key other systems know the record by, e.g. a QuickBooks DocNumber",
        ),
        sa.Column(
            "facts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
            comment="the few typed facts other code filters on (vendor-defined; decimals as text)",
        ),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False,
                  comment="the record as the vendor returned it"),
        sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("system", "record_type", "account", "record_key"),
        comment="what each vendor returned, one row per record of one kind "
        "(system, record_type, account): every source shares this table",
    )
    op.create_index("ix_raw_records_business_date", "raw_records",
                    ["system", "record_type", "account", "business_date"])
    op.create_index("ix_raw_records_external_key", "raw_records",
                    ["system", "record_type", "account", "external_key"])
    op.execute("""
        INSERT INTO raw_records (system, record_type, account, record_key, business_date,
                                 version, external_key, facts, payload, extracted_at, run_id)
        SELECT 'shopify', 'orders', 'default', order_id::text, business_date, updated_at, NULL,
               jsonb_build_object('created_at', to_jsonb(created_at)), payload, extracted_at,
               run_id
        FROM raw_shopify_orders
    """)
    op.execute(f"""
        INSERT INTO raw_records (system, record_type, account, record_key, business_date,
                                 version, external_key, facts, payload, extracted_at, run_id)
        SELECT 'quickbooks', 'invoices', realm_id, invoice_id, txn_date,
               COALESCE(CASE WHEN payload #>> '{{MetaData,LastUpdatedTime}}' ~ {_ISO_STAMP}
                             THEN (payload #>> '{{MetaData,LastUpdatedTime}}')::timestamptz
                        END, read_at),
               doc_number,
               jsonb_build_object('doc_number', doc_number, 'sync_token', sync_token,
                                  'currency', currency, 'total_amt', total_amt::text,
                                  'voided', voided),
               payload, read_at, NULL
        FROM raw_quickbooks_invoices
    """)
    op.drop_index(op.f("ix_raw_shopify_orders_business_date"), table_name="raw_shopify_orders")
    op.drop_table("raw_shopify_orders")
    op.drop_index(op.f("ix_raw_quickbooks_invoices_txn_date"), table_name="raw_quickbooks_invoices")
    op.drop_index(
        op.f("ix_raw_quickbooks_invoices_doc_number"), table_name="raw_quickbooks_invoices"
    )
    op.drop_table("raw_quickbooks_invoices")


def downgrade() -> None:
    op.create_table(
        "raw_quickbooks_invoices",
        sa.Column("realm_id", sa.Text(), nullable=False),
        sa.Column("invoice_id", sa.Text(), nullable=False),
        sa.Column("doc_number", sa.Text(), nullable=True, comment="the external key"),
        sa.Column("txn_date", sa.Date(), nullable=False),
        sa.Column("sync_token", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("total_amt", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("realm_id", "invoice_id"),
    )
    op.create_index(op.f("ix_raw_quickbooks_invoices_doc_number"), "raw_quickbooks_invoices",
                    ["doc_number"], unique=False)
    op.create_index(op.f("ix_raw_quickbooks_invoices_txn_date"), "raw_quickbooks_invoices",
                    ["txn_date"], unique=False)
    op.create_table(
        "raw_shopify_orders",
        sa.Column("order_id", sa.BigInteger(), nullable=False, comment="Shopify's 64-bit order id"),
        sa.Column(
            "business_date",
            sa.Date(),
            nullable=False,
            comment="day of created_at in the integration's timezone: the partition",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="the source version of this row",
        ),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            comment="the order as Shopify returned it",
        ),
        sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index(op.f("ix_raw_shopify_orders_business_date"), "raw_shopify_orders",
                    ["business_date"], unique=False)
    # One shop's table: with orders of several shops, the newest version of an id is kept.
    op.execute(f"""
        INSERT INTO raw_shopify_orders (order_id, business_date, created_at, updated_at,
                                        payload, extracted_at, run_id)
        SELECT DISTINCT ON (record_key::bigint)
               record_key::bigint, business_date,
               COALESCE(CASE WHEN facts ->> 'created_at' ~ {_ISO_STAMP}
                             THEN (facts ->> 'created_at')::timestamptz END,
                        CASE WHEN payload ->> 'created_at' ~ {_ISO_STAMP}
                             THEN (payload ->> 'created_at')::timestamptz END,
                        version),
               version, payload, extracted_at, run_id
        FROM raw_records
        WHERE system = 'shopify' AND record_type = 'orders' AND record_key ~ '^[0-9]{{1,18}}$'
        ORDER BY record_key::bigint, version DESC
    """)
    op.execute("""
        INSERT INTO raw_quickbooks_invoices (realm_id, invoice_id, doc_number, txn_date,
                                             sync_token, currency, total_amt, voided, payload,
                                             read_at)
        SELECT account, record_key, external_key, business_date,
               COALESCE(facts ->> 'sync_token', payload ->> 'SyncToken', ''),
               COALESCE(facts ->> 'currency', payload #>> '{CurrencyRef,value}'),
               COALESCE(facts ->> 'total_amt', payload ->> 'TotalAmt', '0')::numeric,
               COALESCE((facts ->> 'voided')::boolean,
                        COALESCE(payload ->> 'PrivateNote', '') LIKE 'Voided%'),
               payload, extracted_at
        FROM raw_records
        WHERE system = 'quickbooks' AND record_type = 'invoices'
    """)
    op.drop_index("ix_raw_records_external_key", table_name="raw_records")
    op.drop_index("ix_raw_records_business_date", table_name="raw_records")
    op.drop_table("raw_records")
