"""Secrets never reach Slack, the logs or the incident table: redaction of alert text.

Error messages from vendors and HTTP libraries routinely echo what was sent: an
`Authorization` header, a token in a query string, a form body with `refresh_token=...`.
Everything an alert carries passes through a `Redactor` first: it removes the well-known
token shapes and any value the caller registered as secret (e.g. the tokens configured in
the environment), wherever they appear.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "SECRET_ENV_NAME", "Redactor", "redact"]

REDACTED = "[REDACTED]"

# Registered secrets shorter than this are ignored: redacting "1" or "abc" everywhere
# would destroy the message without protecting anything worth protecting.
MIN_SECRET_LENGTH = 6

# Environment variables whose values are secrets by name.
SECRET_ENV_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|API_KEY|WEBHOOK_URL)$", re.IGNORECASE)

_SECRET_KEYS = (
    r"client_secret|refresh_token|access_token|id_token|api_key|apikey|password|passwd"
    r"|x-shopify-access-token"
)
# In structured values (dicts), the whole value under one of these keys is a secret.
_SECRET_FIELD = re.compile(
    rf"(?i)^(?:{_SECRET_KEYS}|authorization|proxy-authorization|cookie|set-cookie|token|secret)$"
)
_QUOTED_OR_BARE = r"(?:\"[^\"]*\"|'[^']*'|[^\s&,;}\]\)\"']+)"

_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = (
    # Authorization: Bearer xyz / Basic abc== (header lines, repr'd dicts, JSON).
    (re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?)([^\"'\r\n,}]+)"),
     lambda m: m.group(1) + REDACTED),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]+=*"), "Bearer " + REDACTED),
    # key=value, key: value, "key": "value", 'key': 'value'.
    (re.compile(rf"(?i)([\"']?\b(?:{_SECRET_KEYS})\b[\"']?\s*[:=]\s*)({_QUOTED_OR_BARE})"),
     lambda m: m.group(1) + _keep_quotes(m.group(2))),
    # Vendor token shapes: Shopify, Stripe-style webhook secrets, Slack tokens.
    (re.compile(r"\bshp(?:at|ca|pa|ss)_[A-Za-z0-9_\-]+"), REDACTED),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_\-]+"), REDACTED),
    (re.compile(r"\bxox[abeoprs]-[A-Za-z0-9\-]+"), REDACTED),
    # Slack incoming-webhook URLs are credentials in themselves.
    (re.compile(r"/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+"),
     "/services/" + REDACTED),
    # Passwords inside URLs: postgresql://user:secret@host/db.
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]+:)([^@\s/]+)(@)"),
     lambda m: m.group(1) + REDACTED + m.group(3)),
)


def _keep_quotes(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[0] + REDACTED + value[0]
    return REDACTED


class Redactor:
    """Removes secrets from text; knows the token shapes plus the values registered with it."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        self.register(*secrets)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        """A redactor that knows every configured secret (env vars named *TOKEN, *SECRET,
        *PASSWORD, *API_KEY, *WEBHOOK_URL)."""
        env = os.environ if environ is None else environ
        return cls(value for name, value in env.items() if SECRET_ENV_NAME.search(name))

    def register(self, *secrets: str | None) -> None:
        """Treat these exact values (and their URL-encoded forms) as secrets from now on."""
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_LENGTH:
                self._secrets.update({secret, quote(secret, safe=""), quote_plus(secret)})

    def redact(self, text: str) -> str:
        """`text` without any registered secret or recognizable credential."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def redact_value(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value (dicts, lists, tuples, scalars); the
        value of a secret-named key (authorization, refresh_token, ...) is replaced whole."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {
                self.redact(str(k)): REDACTED if _SECRET_FIELD.match(str(k)) and v else
                self.redact_value(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.redact_value(v) for v in value]
        return value

    __call__ = redact


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without credentials: the known token shapes and the given secret values."""
    return Redactor(secrets).redact(text)
