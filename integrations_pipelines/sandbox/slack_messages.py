"""The Slack sandbox's messages, kept in PostgreSQL: dev's alerts outlive a restart.

`dev` keeps its state in its PostgreSQL (the integration store, Dagster's runs and events),
so the alerts the fake Slack received are kept there too, beside what raised them: one
backup, one `--home` to remove, and readable with the same SQL client
(`select * from sandbox.slack_messages`). The table is the sandbox's own, in a schema the
sandbox creates when it starts (`sandbox`); the production migrations know nothing of it.
A message is written when Slack accepts it, before the sender gets its answer, so a crash
loses nothing that was acknowledged.

Before this, dev kept the messages in `<home>/sandbox/slack.json`; `carry_over` moves such a
file's messages in once and renames the file (`slack.json.imported`), so the next start
does not read it again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert

if TYPE_CHECKING:
    from integrations_pipelines.sandbox.slack_app import ReceivedMessage

__all__ = ["SCHEMA", "SlackMessageLog", "slack_messages"]

SCHEMA = "sandbox"

_metadata = sa.MetaData(schema=SCHEMA)

slack_messages = sa.Table(
    "slack_messages", _metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),  # arrival order
    sa.Column("ts", sa.Text, nullable=False, unique=True),  # Slack's message id
    sa.Column("via", sa.Text, nullable=False),
    sa.Column("channel", sa.Text),
    sa.Column("channel_name", sa.Text),
    sa.Column("text", sa.Text),
    sa.Column("blocks", JSONB(none_as_null=True)),
    sa.Column("thread_ts", sa.Text),
    sa.Column("payload", JSONB, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
)

_FIELDS = ("via", "channel", "channel_name", "text", "blocks", "ts", "thread_ts", "payload")


class SlackMessageLog:
    """The messages of one Slack sandbox in a PostgreSQL database (creates its table)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
            _metadata.create_all(conn, checkfirst=True)

    def load(self) -> list[ReceivedMessage]:
        """Every message kept, in the order Slack accepted them."""
        from integrations_pipelines.sandbox.slack_app import ReceivedMessage

        columns = [slack_messages.c[name] for name in _FIELDS]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*columns).order_by(slack_messages.c.seq)).all()
        return [ReceivedMessage(**row._asdict()) for row in rows]

    def append(self, message: ReceivedMessage) -> None:
        """Keep one accepted message (committed when this returns)."""
        with self.engine.begin() as conn:
            conn.execute(insert(slack_messages).values(_row(message)))

    def clear(self) -> None:
        """Forget every message (the sandbox's `DELETE /_sandbox/messages`)."""
        with self.engine.begin() as conn:
            conn.execute(slack_messages.delete())

    def carry_over(self, path: Path) -> int:
        """Move the messages an earlier dev kept in `path` (slack.json) into the table, once:
        the file is renamed afterwards. Returns how many were new (0 without a file)."""
        if not path.exists():
            return 0
        saved = json.loads(path.read_text(encoding="utf-8"))
        rows = [{name: message.get(name) for name in _FIELDS}
                | {"payload": message.get("payload") or {}}
                for message in saved.get("messages", [])]
        added = 0
        if rows:
            with self.engine.begin() as conn:
                added = len(conn.execute(insert(slack_messages).on_conflict_do_nothing(
                    index_elements=["ts"]).returning(slack_messages.c.seq), rows).all())
        path.rename(path.with_name(path.name + ".imported"))
        return added


def _row(message: ReceivedMessage) -> dict[str, Any]:
    return {name: getattr(message, name) for name in _FIELDS}
