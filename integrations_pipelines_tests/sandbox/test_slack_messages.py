"""The Slack sandbox keeps its messages in PostgreSQL (dev's store): a restart of the sandbox
against the same database shows every alert again, and the slack.json an earlier dev kept
them in is carried over once."""

from __future__ import annotations

import json

import httpx
import sqlalchemy as sa

from integrations_pipelines.sandbox.slack_app import start_slack
from integrations_pipelines.sandbox.slack_messages import SlackMessageLog, slack_messages
from integrations_pipelines.state.db import engine_for

CHANNEL = "#finance-integrations"


def _post(url: str, token: str, text: str, thread_ts: str | None = None) -> dict:
    body = {"channel": CHANNEL, "text": text} | ({"thread_ts": thread_ts} if thread_ts else {})
    answer = httpx.post(f"{url}/api/chat.postMessage", json=body,
                        headers={"Authorization": f"Bearer {token}"}).json()
    assert answer["ok"], answer
    return answer


def test_messages_survive_a_restart_against_the_same_database(database_url) -> None:
    engine = engine_for(database_url)
    server, store = start_slack(keeper=SlackMessageLog(engine))
    try:
        first = _post(server.url, store.bot_token, "*Reconciliation failed* for `2026-11-05`")
        reply = _post(server.url, store.bot_token, "still open", thread_ts=first["ts"])
    finally:
        server.stop()

    again, restarted = start_slack(keeper=SlackMessageLog(engine))
    try:
        kept = httpx.get(f"{again.url}/_sandbox/messages").json()["messages"]
        assert [(m["text"], m["ts"], m["thread_ts"], m["channel_name"]) for m in kept] == [
            ("*Reconciliation failed* for `2026-11-05`", first["ts"], None, CHANNEL),
            ("still open", reply["ts"], first["ts"], CHANNEL)]
        assert "<b>Reconciliation failed</b>" in httpx.get(f"{again.url}/").text
        later = _post(again.url, restarted.bot_token, "new")
        assert later["ts"] not in {first["ts"], reply["ts"]}  # the counter goes on
    finally:
        again.stop()
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(slack_messages)).scalar() == 3


def test_clearing_the_sandbox_clears_the_kept_messages(database_url) -> None:
    engine = engine_for(database_url)
    server, store = start_slack(keeper=SlackMessageLog(engine))
    try:
        _post(server.url, store.bot_token, "gone soon")
        httpx.delete(f"{server.url}/_sandbox/messages").raise_for_status()
    finally:
        server.stop()
    assert SlackMessageLog(engine).load() == []


def test_an_earlier_slack_json_is_carried_over_once(database_url, tmp_path) -> None:
    saved = tmp_path / "slack.json"
    saved.write_text(json.dumps({"clock": 2, "messages": [
        {"via": "chat.postMessage", "channel": "C00000001", "channel_name": CHANNEL,
         "text": "from the file", "blocks": None, "ts": "1765000000.000001",
         "thread_ts": None, "payload": {"text": "from the file"}},
        {"via": "webhook", "channel": None, "channel_name": None, "text": "by webhook",
         "blocks": [{"type": "section"}], "ts": "1765000000.000002", "thread_ts": None,
         "payload": {}}]}))
    keeper = SlackMessageLog(engine_for(database_url))

    assert keeper.carry_over(saved) == 2
    assert not saved.exists() and (tmp_path / "slack.json.imported").exists()
    assert keeper.carry_over(saved) == 0  # the next start: nothing read again
    server, store = start_slack(keeper=keeper)
    try:
        shown = [(m.text, m.ts, m.blocks) for m in store.messages]
        assert shown == [("from the file", "1765000000.000001", None),
                         ("by webhook", "1765000000.000002", [{"type": "section"}])]
        assert _post(server.url, store.bot_token, "after")["ts"].endswith(".000003")
    finally:
        server.stop()


def test_the_production_migrations_know_nothing_of_the_sandbox(engine) -> None:
    """The store the migrations build has no `sandbox` schema: the sandbox makes its own."""
    with engine.connect() as conn:
        assert "sandbox" not in sa.inspect(conn).get_schema_names()
    SlackMessageLog(engine)
    with engine.connect() as conn:
        assert "slack_messages" in sa.inspect(conn).get_table_names(schema="sandbox")
