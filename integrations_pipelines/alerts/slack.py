"""Delivering alert messages to Slack through `slack_sdk`, or to the log when not configured.

Two ways to reach Slack, chosen by the environment when used:
- SLACK_WEBHOOK_URL: an incoming webhook (posts to the channel the webhook was created for;
  success is HTTP 200 with the plain body `ok`);
- SLACK_BOT_TOKEN (+ SLACK_API_BASE_URL for a local fake): `chat.postMessage` to the
  integration's catalog channel; Slack reports errors as HTTP 200 `{"ok": false}`, so
  success is judged on `ok`, never on the status.
Rate limits (429 + Retry-After) are retried by slack_sdk's RateLimitErrorRetryHandler.
Without either variable, a LogOnlyNotifier logs the message; the incident is still recorded.
A notifier never raises for a failed delivery: it returns a `Delivery` that says why.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, TypedDict

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from integrations_pipelines.alerts.messages import SlackMessage
from integrations_pipelines.alerts.redaction import Redactor

__all__ = [
    "DEFAULT_RATE_LIMIT_RETRIES",
    "DEFAULT_TIMEOUT_SECONDS",
    "BotNotifier",
    "Delivery",
    "LogOnlyNotifier",
    "Notifier",
    "WebhookNotifier",
    "log",
    "notifier_from_env",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 10
DEFAULT_RATE_LIMIT_RETRIES = 2


class _WebClientOptions(TypedDict, total=False):
    """The `WebClient` options passed only when set (else slack_sdk's own defaults)."""

    base_url: str


@dataclass(frozen=True)
class Delivery:
    """The outcome of one attempt to post a message: ok, or the error Slack gave."""

    ok: bool
    transport: str
    ts: str | None = None
    channel: str | None = None
    error: str | None = None


class Notifier(Protocol):
    """Posts one message; never raises for a delivery failure."""

    transport: str

    def send(self, message: SlackMessage) -> Delivery: ...

    def secrets(self) -> tuple[str, ...]:
        """Credentials this notifier holds, so that no message can ever contain them."""
        ...


class WebhookNotifier:
    """An incoming webhook: one URL, one channel (fixed when the webhook was created)."""

    transport = "webhook"

    def __init__(self, url: str, *, timeout: int = DEFAULT_TIMEOUT_SECONDS,
                 rate_limit_retries: int = DEFAULT_RATE_LIMIT_RETRIES) -> None:
        self._url = url
        self._client = WebhookClient(
            url, timeout=timeout,
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries)],
        )

    def send(self, message: SlackMessage) -> Delivery:
        try:
            response = self._client.send(text=message.text, blocks=message.blocks)
        except Exception as exc:  # transport errors: report, never lose the incident
            return Delivery(ok=False, transport=self.transport, error=_describe(exc, self))
        if response.status_code == 200 and response.body == "ok":
            return Delivery(ok=True, transport=self.transport, channel=message.channel)
        return Delivery(ok=False, transport=self.transport,
                        error=f"HTTP {response.status_code}: {response.body[:200]}")

    def secrets(self) -> tuple[str, ...]:
        return (self._url,)


class BotNotifier:
    """A bot token posting with chat.postMessage to each integration's own channel."""

    transport = "chat.postMessage"

    def __init__(self, token: str, *, base_url: str | None = None,
                 timeout: int = DEFAULT_TIMEOUT_SECONDS,
                 rate_limit_retries: int = DEFAULT_RATE_LIMIT_RETRIES) -> None:
        self._token = token
        kwargs: _WebClientOptions = {"base_url": base_url.rstrip("/") + "/"} if base_url else {}
        self._client = WebClient(
            token=token, timeout=timeout,
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries)],
            **kwargs,
        )

    def send(self, message: SlackMessage) -> Delivery:
        try:
            response = self._client.chat_postMessage(**message.payload())
        except SlackApiError as exc:  # HTTP 200 with ok: false, or a 429 after the retries
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            error = data.get("error") or f"HTTP {exc.response.status_code}"
            return Delivery(ok=False, transport=self.transport, error=str(error))
        except Exception as exc:  # transport errors: report, never lose the incident
            return Delivery(ok=False, transport=self.transport, error=_describe(exc, self))
        if not response.get("ok"):
            return Delivery(ok=False, transport=self.transport,
                            error=str(response.get("error") or "not ok"))
        return Delivery(ok=True, transport=self.transport, ts=response.get("ts"),
                        channel=response.get("channel"))

    def secrets(self) -> tuple[str, ...]:
        return (self._token,)


class LogOnlyNotifier:
    """No Slack configured: the message goes to the log (the incident is still recorded)."""

    transport = "log"

    def send(self, message: SlackMessage) -> Delivery:
        log.warning("ALERT for %s (Slack not configured): %s", message.channel, message.text)
        return Delivery(ok=True, transport=self.transport, channel=message.channel)

    def secrets(self) -> tuple[str, ...]:
        return ()


def _describe(exc: Exception, notifier: Notifier) -> str:
    """A transport error's text, without the credential the notifier holds."""
    return Redactor(notifier.secrets()).redact(f"{type(exc).__name__}: {exc}")[:300]


def notifier_from_env(environ: Mapping[str, str] | None = None) -> Notifier:
    """The notifier the environment configures: bot token, else webhook, else the log."""
    env = os.environ if environ is None else environ
    if env.get("SLACK_BOT_TOKEN"):
        return BotNotifier(env["SLACK_BOT_TOKEN"], base_url=env.get("SLACK_API_BASE_URL") or None)
    if env.get("SLACK_WEBHOOK_URL"):
        return WebhookNotifier(env["SLACK_WEBHOOK_URL"])
    return LogOnlyNotifier()
