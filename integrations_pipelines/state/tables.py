"""Table definitions of the integration store (SQLAlchemy Core).

The schema itself is created and changed only by the Alembic migrations in
`state/migrations`; these objects are what the code reads and writes through.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

__all__ = [
    "change_cursors", "contract_observations", "dead_letters", "http_failures", "incidents",
    "metadata", "oauth_tokens", "raw_records", "request_budgets", "sync_ledger", "webhook_inbox",
]

metadata = sa.MetaData()

raw_records = sa.Table(
    "raw_records",
    metadata,
    sa.Column("system", sa.Text, primary_key=True, comment="the vendor, e.g. shopify"),
    sa.Column("record_type", sa.Text, primary_key=True, comment="e.g. orders, invoices"),
    sa.Column(
        "account",
        sa.Text,
        primary_key=True,
        comment="the vendor account: a QuickBooks realm id, a shop ('default' for one shop)",
    ),
    sa.Column("record_key", sa.Text, primary_key=True, comment="the vendor's id of the record"),
    sa.Column(
        "business_date",
        sa.Date,
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
        sa.Text,
        nullable=True,
        comment="the key other systems know the record by, e.g. a QuickBooks DocNumber",
    ),
    sa.Column(
        "facts",
        JSONB,
        nullable=False,
        server_default=sa.text("'{}'::jsonb"),
        comment="the few typed facts other code filters on (vendor-defined; decimals as text)",
    ),
    sa.Column("payload", JSONB, nullable=False, comment="the record as the vendor returned it"),
    sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_id", sa.Text, nullable=True),
    sa.Index("ix_raw_records_business_date", "system", "record_type", "account",
             "business_date"),
    sa.Index("ix_raw_records_external_key", "system", "record_type", "account",
             "external_key", postgresql_where=sa.text("external_key IS NOT NULL")),
    comment="what each vendor returned, one row per record of one kind "
    "(system, record_type, account): every source shares this table",
)

sync_ledger = sa.Table(
    "sync_ledger",
    metadata,
    sa.Column("integration", sa.Text, primary_key=True),
    sa.Column("source_id", sa.Text, primary_key=True),
    sa.Column("business_date", sa.Date, nullable=False, index=True),
    sa.Column(
        "source_version",
        sa.DateTime(timezone=True),
        nullable=False,
        comment="updated_at of the source record last written",
    ),
    sa.Column("destination_id", sa.Text, nullable=False),
    sa.Column("destination_key", sa.Text, nullable=False, comment="e.g. the DocNumber"),
    sa.Column(
        "payload_hash",
        sa.Text,
        nullable=False,
        comment="hash of the desired destination state last written",
    ),
    sa.Column("status", sa.Text, nullable=False, comment="synced | voided"),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("writes", sa.Integer, nullable=False, server_default="1"),
    sa.Column(
        "destination_updated_at",
        sa.DateTime(timezone=True),
        nullable=True,
        comment="the destination's LastUpdatedTime after our last write: a later change "
        "notified by the destination is someone else's",
    ),
    sa.Index("ix_sync_ledger_destination", "integration", "destination_id"),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("integration", sa.Text, nullable=False),
    sa.Column("source_id", sa.Text, nullable=False),
    sa.Column("business_date", sa.Date, nullable=True, index=True),
    sa.Column("stage", sa.Text, nullable=False, comment="validate | map | write"),
    sa.Column("reason_code", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", JSONB, nullable=False),
    sa.Column("vendor_request_id", sa.Text, nullable=True,
              comment="the vendor's id of the failed request (intuit_tid): what its support "
              "asks for"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column(
        "resolved_at",
        sa.DateTime(timezone=True),
        nullable=True,
        comment="set when a later attempt synced the record",
    ),
    sa.Index(
        "uq_dead_letters_open",
        "integration",
        "source_id",
        unique=True,
        postgresql_where=sa.text("resolved_at IS NULL"),
    ),
)

oauth_tokens = sa.Table(
    "oauth_tokens",
    metadata,
    sa.Column("connection", sa.Text, primary_key=True, comment="e.g. quickbooks:<realm>"),
    sa.Column("access_token", sa.Text, nullable=True),
    sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("refresh_token", sa.Text, nullable=False),
    sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_refreshed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

http_failures = sa.Table(
    "http_failures",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("vendor", sa.Text, nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("status", sa.Integer, nullable=True, comment="null for transport errors"),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("retried", sa.Boolean, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("run_id", sa.Text, nullable=True),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("integration", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False, comment="alerts.kinds.AlertKind"),
    sa.Column(
        "subject",
        sa.Text,
        nullable=False,
        server_default="",
        comment="asset/partition/check/connection the incident is about",
    ),
    sa.Column("status", sa.Text, nullable=False, comment="open | resolved"),
    sa.Column("severity", sa.Text, nullable=False, comment="warning | critical"),
    sa.Column("channel", sa.Text, nullable=False, comment="the Slack channel notified"),
    sa.Column("summary", sa.Text, nullable=False, comment="last summary seen (redacted)"),
    sa.Column("details", JSONB, nullable=False, comment="last details seen (redacted)"),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("occurrences", sa.Integer, nullable=False, server_default="1"),
    sa.Column("last_notified_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("notifications", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True, comment="why the last delivery failed"),
    sa.Column("message_ts", sa.Text, nullable=True, comment="Slack ts of the first message"),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index(
        "uq_incidents_open",
        "integration",
        "kind",
        "subject",
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    ),
    sa.Index("ix_incidents_opened_at", "opened_at"),
)

request_budgets = sa.Table(
    "request_budgets",
    metadata,
    sa.Column(
        "bucket",
        sa.Text,
        primary_key=True,
        comment="one vendor account's rate limit, e.g. quickbooks:<realm>",
    ),
    sa.Column("capacity", sa.Float, nullable=False, comment="burst size in requests"),
    sa.Column("refill_per_second", sa.Float, nullable=False),
    sa.Column("tokens", sa.Float, nullable=False, comment="requests available at updated_at"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    comment="token buckets shared by every process calling the same vendor account",
)

contract_observations = sa.Table(
    "contract_observations",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("vendor", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False, comment="the project's pydantic model"),
    sa.Column(
        "kind", sa.Text, nullable=False, comment="violation (run fails) | unknown_field (drift)"
    ),
    sa.Column("field_path", sa.Text, nullable=False, comment="dotted path, list indexes as []"),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("sample_payload", JSONB, nullable=False, comment="offending payload, redacted"),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("occurrences", sa.Integer, nullable=False, server_default="1"),
    sa.Column("last_run_id", sa.Text, nullable=True),
    sa.UniqueConstraint("vendor", "model", "kind", "field_path", name="uq_contract_observation"),
)

change_cursors = sa.Table(
    "change_cursors",
    metadata,
    sa.Column("integration", sa.Text, primary_key=True),
    sa.Column("feed", sa.Text, primary_key=True, comment="e.g. shopify.orders.updated_at"),
    sa.Column(
        "position",
        sa.DateTime(timezone=True),
        nullable=False,
        comment="every change up to here is recorded and re-synced",
    ),
    sa.Column("advanced_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_id", sa.Text, nullable=True, comment="the run that advanced it"),
    comment="change-capture cursors: advanced only after the changes are stored and synced",
)

webhook_inbox = sa.Table(
    "webhook_inbox",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("vendor", sa.Text, nullable=False),
    sa.Column("connection", sa.Text, nullable=False, comment="the route's shop or company"),
    sa.Column("topic", sa.Text, nullable=False, comment="e.g. orders/updated"),
    sa.Column(
        "delivery_id",
        sa.Text,
        nullable=False,
        comment="the vendor's delivery id (X-Shopify-Webhook-Id), the same on redelivery",
    ),
    sa.Column("event_id", sa.Text, nullable=True),
    sa.Column("shop", sa.Text, nullable=True, comment="X-Shopify-Shop-Domain, realm id, ..."),
    sa.Column("triggered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("body", sa.Text, nullable=False, comment="the raw body, exactly as signed"),
    sa.Column(
        "status",
        sa.Text,
        nullable=False,
        comment="pending | processed | ignored (unknown topic) | malformed (signed, not JSON)",
    ),
    sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("outcome", sa.Text, nullable=True, comment="what processing did with it"),
    sa.Column(
        "record_id",
        sa.Text,
        nullable=True,
        comment="the record the delivery is about (the order id of an order or refund)",
    ),
    sa.Column(
        "record_version",
        sa.DateTime(timezone=True),
        nullable=True,
        comment="the vendor's version of that record in the delivery (updated_at)",
    ),
    sa.UniqueConstraint("vendor", "delivery_id", name="uq_webhook_delivery"),
    sa.Index("ix_webhook_inbox_pending", "status", "id"),
    sa.Index("ix_webhook_inbox_record", "vendor", "record_id", "record_version"),
    comment="webhook deliveries, committed before they are acknowledged",
)
