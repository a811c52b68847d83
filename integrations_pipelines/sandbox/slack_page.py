"""The Slack sandbox's page for people: the messages as a channel shows them, roughly.

`GET /` on the Slack sandbox lists what Slack accepted, newest first: channel, thread, time,
and each message once, its mrkdwn rendered the way Slack does the common parts (`*bold*`,
`_italic_`, `` `code` ``, `<url|label>` links, line breaks). Everything else is escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["render_mrkdwn", "render_page"]

LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]+))?>")
BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
ITALIC = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")
CODE = re.compile(r"`([^`\n]+)`")


class Shown(Protocol):
    channel_name: str | None
    text: str | None
    ts: str
    thread_ts: str | None
    via: str


def render_mrkdwn(text: str) -> str:
    """Slack's common mrkdwn as HTML; the rest escaped (it may come from a vendor)."""
    links: list[str] = []

    def keep(match: re.Match[str]) -> str:
        url, label = match[1], match[2] or match[1]
        links.append(f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>')
        return f"\x00{len(links) - 1}\x00"

    out = html.escape(LINK.sub(keep, text), quote=False)
    out = CODE.sub(r"<code>\1</code>", out)
    out = BOLD.sub(r"<b>\1</b>", out)
    out = ITALIC.sub(r"<i>\1</i>", out)
    out = re.sub(r"\x00(\d+)\x00", lambda m: links[int(m[1])], out)
    return out.replace("\n", "<br>")


def _when(ts: str) -> str:
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_page(messages: Sequence[Shown]) -> str:
    """The whole page, newest message first."""
    rows = []
    for m in reversed(list(messages)):
        thread = f" · reply in thread {html.escape(m.thread_ts)}" if m.thread_ts else ""
        rows.append(
            f'<div class="msg"><div class="meta"><b>{html.escape(m.channel_name or "(webhook)")}'
            f"</b> · {_when(m.ts)}{thread} · via {html.escape(m.via)}</div>"
            f'<div class="text">{render_mrkdwn(m.text or "")}</div></div>')
    body = "\n".join(rows) or "<p>No message yet.</p>"
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>Slack sandbox</title>"
            "<style>body{font:15px/1.45 sans-serif;max-width:60em;margin:2em auto}"
            ".msg{border-bottom:1px solid #ddd;padding:.8em 0}.meta{color:#666;font-size:13px}"
            "code{background:#f4f4f4;padding:0 .2em}</style></head><body>"
            f"<h1>Slack sandbox: {len(messages)} message(s)</h1>{body}</body></html>")
