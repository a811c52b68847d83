"""Slack sandbox: incoming webhooks and chat.postMessage, answering as Slack's API does.

What the alerting code must get right against the real Slack is reproduced here: a webhook
answers HTTP 200 with the plain body `ok` (404 `no_service` for an unknown URL); the Web
API answers HTTP 200 even for errors, with `{"ok": false, "error": ...}` (`not_authed`,
`invalid_auth`, `channel_not_found`, `no_text`); a rate limit is a 429 with `Retry-After`.
Every delivered message is recorded, inspectable from Python (`SlackStore.messages`) and
over HTTP (`GET /_sandbox/messages`), and for people as a page (`GET /`). `/_sandbox/...` is
the test's control panel. Given a keeper (`slack_messages.SlackMessageLog`: `dev` keeps the
messages in its PostgreSQL), the store starts with the messages kept and keeps each new one
before Slack answers; listeners (`dev` logs each alert) hear every message accepted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.sandbox.slack_page import render_page

__all__ = [
    "DEFAULT_BOT_TOKEN", "DEFAULT_CHANNELS", "DEFAULT_WEBHOOK_PATH", "MessageKeeper",
    "ReceivedMessage", "SlackStore", "build_slack_app", "start_slack",
]

DEFAULT_BOT_TOKEN = "xoxb-sandbox-0000-bot-token"
DEFAULT_WEBHOOK_PATH = "/services/TSANDBOX0/BSANDBOX0/sandboxwebhooksecret0000"
DEFAULT_CHANNELS = ("#finance-integrations", "#integrations-alerts")


@dataclass
class ReceivedMessage:
    """One message Slack accepted, as it would appear in the channel."""

    via: str  # "webhook" | "chat.postMessage"
    channel: str | None  # the channel id (None for a webhook: its channel is implicit)
    channel_name: str | None
    text: str | None
    blocks: list[dict[str, Any]] | None
    ts: str
    thread_ts: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


class MessageKeeper(Protocol):
    """Where the accepted messages outlive the process (`slack_messages.SlackMessageLog`)."""

    def load(self) -> list[ReceivedMessage]: ...
    def append(self, message: ReceivedMessage) -> None: ...
    def clear(self) -> None: ...


class SlackStore:
    """The workspace's state: channels, credentials, the messages received, the knobs."""

    def __init__(self, *, bot_token: str = DEFAULT_BOT_TOKEN,
                 webhook_path: str = DEFAULT_WEBHOOK_PATH,
                 channels: tuple[str, ...] = DEFAULT_CHANNELS,
                 keeper: MessageKeeper | None = None) -> None:
        self.bot_token = bot_token
        self.webhook_path = webhook_path
        self.channels = {name.lstrip("#"): f"C{index:08d}"
                         for index, name in enumerate(channels, start=1)}
        self.keeper = keeper
        self.messages: list[ReceivedMessage] = keeper.load() if keeper else []
        self.listeners: list[Callable[[ReceivedMessage], None]] = []
        self.requests: list[dict[str, Any]] = []  # every request: path, status, error
        self._lock = threading.Lock()
        self._rate_limited = 0
        self._retry_after = 1
        # The counter in each `ts`: it goes on from the kept messages, so a reply after a
        # restart never takes the `ts` of a thread it could be confused with.
        self._clock = max((_counter(m.ts) for m in self.messages), default=0)

    def webhook_url(self, base_url: str) -> str:
        """The incoming-webhook URL of this workspace on the server at `base_url`."""
        return base_url.rstrip("/") + self.webhook_path

    def api_url(self, base_url: str) -> str:
        """The Web API base (what SLACK_API_BASE_URL names) on the server at `base_url`."""
        return base_url.rstrip("/") + "/api/"

    def rate_limit_next(self, count: int, retry_after: int = 1) -> None:
        """Answer the next `count` requests with 429 and `Retry-After: retry_after`."""
        with self._lock:
            self._rate_limited, self._retry_after = count, retry_after

    def reset(self) -> None:
        """Forget every message (kept ones too) and request; clear the rate-limit knob."""
        with self._lock:
            if self.keeper is not None:
                self.keeper.clear()
            self.messages.clear()
            self.requests.clear()
            self._rate_limited = 0

    def channel_id(self, channel: str | None) -> str | None:
        """The id of a channel given by name (with or without `#`) or by id."""
        if not channel:
            return None
        if channel in self.channels.values():
            return channel
        return self.channels.get(channel.lstrip("#"))

    def channel_name(self, channel_id: str) -> str:
        return next("#" + n for n, i in self.channels.items() if i == channel_id)

    def in_channel(self, channel: str) -> list[ReceivedMessage]:
        """The messages posted to `channel` (name or id) through the Web API."""
        wanted = self.channel_id(channel)
        return [m for m in self.messages if m.channel == wanted]

    def _take_rate_limit(self) -> int | None:
        with self._lock:
            if self._rate_limited <= 0:
                return None
            self._rate_limited -= 1
            return self._retry_after

    def _next_ts(self) -> str:
        with self._lock:
            self._clock += 1
            return f"{int(time.time())}.{self._clock:06d}"

    def _record(self, path: str, status: int, error: str | None) -> None:
        with self._lock:
            self.requests.append({"path": path, "status": status, "error": error})

    def _deliver(self, message: ReceivedMessage) -> None:
        with self._lock:
            if self.keeper is not None:
                self.keeper.append(message)  # kept before Slack answers
            self.messages.append(message)
        for listener in self.listeners:
            listener(message)


def _counter(ts: str) -> int:
    """The sandbox's counter in a `ts` it issued ("<seconds>.<counter>"), else 0."""
    _, _, counter = ts.partition(".")
    return int(counter) if counter.isdigit() else 0


def build_slack_app(store: SlackStore) -> Starlette:
    """The Slack sandbox as an ASGI app; `app.state.store` is `store`."""

    def rate_limited(path: str, api: bool) -> Response | None:
        retry_after = store._take_rate_limit()
        if retry_after is None:
            return None
        store._record(path, 429, "ratelimited")
        headers = {"Retry-After": str(retry_after)}
        if api:
            return JSONResponse({"ok": False, "error": "ratelimited"}, 429, headers=headers)
        return PlainTextResponse("rate_limited", 429, headers=headers)

    async def body_of(request: Request) -> dict[str, Any] | None:
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                data = json.loads(raw or b"null")
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
        form = dict(parse_qsl(raw.decode(errors="replace")))
        if "payload" in form:  # webhooks also take form-encoded `payload=<json>`
            try:
                payload: dict[str, Any] | None = json.loads(form["payload"])
                return payload
            except ValueError:
                return None
        return form

    async def webhook(request: Request) -> Response:
        path = request.url.path
        if (limited := rate_limited(path, api=False)) is not None:
            return limited
        if path != store.webhook_path:
            store._record(path, 404, "no_service")
            return PlainTextResponse("no_service", 404)
        data = await body_of(request)
        if data is None:
            store._record(path, 400, "invalid_payload")
            return PlainTextResponse("invalid_payload", 400)
        if not data.get("text") and not data.get("blocks"):
            store._record(path, 400, "no_text")
            return PlainTextResponse("no_text", 400)
        await run_in_threadpool(store._deliver, ReceivedMessage(
            "webhook", None, None, data.get("text"), data.get("blocks"), store._next_ts(),
            payload=data))
        store._record(path, 200, None)
        return PlainTextResponse("ok")

    async def post_message(request: Request) -> Response:
        path = request.url.path
        if (limited := rate_limited(path, api=True)) is not None:
            return limited
        data = await body_of(request) or {}

        def fail(error: str) -> Response:
            store._record(path, 200, error)
            return JSONResponse({"ok": False, "error": error})  # Slack: HTTP 200 for errors

        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else data.get("token")
        if not token:
            return fail("not_authed")
        if token != store.bot_token:
            return fail("invalid_auth")
        channel = store.channel_id(data.get("channel"))
        if channel is None:
            return fail("channel_not_found")
        blocks = data.get("blocks")
        if isinstance(blocks, str):  # form-encoded calls send blocks as a JSON string
            blocks = json.loads(blocks)
        if not data.get("text") and not blocks:
            return fail("no_text")
        ts = store._next_ts()
        message = {"type": "message", "user": "U0SANDBOX", "bot_id": "B0SANDBOX",
                   "text": data.get("text") or "", "ts": ts}
        if blocks:
            message["blocks"] = blocks
        thread_ts = data.get("thread_ts") or None
        if thread_ts:
            message["thread_ts"] = thread_ts
        await run_in_threadpool(store._deliver, ReceivedMessage(
            "chat.postMessage", channel, store.channel_name(channel), data.get("text"), blocks,
            ts, thread_ts, payload=data))
        store._record(path, 200, None)
        return JSONResponse({"ok": True, "channel": channel, "ts": ts, "message": message})

    async def list_messages(request: Request) -> Response:
        channel = request.query_params.get("channel")
        chosen = store.in_channel(channel) if channel else list(store.messages)
        return JSONResponse({"messages": [asdict(m) for m in chosen]})

    async def page(request: Request) -> Response:
        return HTMLResponse(render_page(list(store.messages)))

    async def clear_messages(request: Request) -> Response:
        await run_in_threadpool(store.reset)
        return JSONResponse({"ok": True})

    async def set_rate_limit(request: Request) -> Response:
        data = await request.json()
        store.rate_limit_next(int(data.get("count", 1)), int(data.get("retry_after", 1)))
        return JSONResponse({"ok": True})

    app = Starlette(routes=[
        Route("/", page, methods=["GET"]),
        Route("/services/{rest:path}", webhook, methods=["POST"]),
        Route("/api/chat.postMessage", post_message, methods=["POST"]),
        Route("/_sandbox/messages", list_messages, methods=["GET"]),
        Route("/_sandbox/messages", clear_messages, methods=["DELETE"]),
        Route("/_sandbox/rate_limit", set_rate_limit, methods=["POST"]),
    ])
    app.state.store = store
    return app


def start_slack(port: int = 0, **store_kwargs: Any) -> tuple[SandboxServer, SlackStore]:
    """Start a Slack sandbox over HTTP on loopback; returns (server, store)."""
    store = SlackStore(**store_kwargs)
    return SandboxServer(build_slack_app(store), port=port).start(), store
