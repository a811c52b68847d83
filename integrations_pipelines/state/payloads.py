"""Vendor payloads as PostgreSQL can keep them.

JSONB refuses the NUL character (U+0000) anywhere in a string, so one order whose note holds
it would fail the whole insert of a window. `has_nul` finds such a payload before it is
written; `storable` turns it into something any JSONB column keeps without losing a byte: the
payload's exact JSON text (NUL escaped as the six characters `\\u0000`) under one key.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ESCAPED_KEY", "has_nul", "storable"]

ESCAPED_KEY = "unstorable_json_text"
_NUL_ESCAPE = "\\u0000"


def _text(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, default=str)


def has_nul(payload: Any) -> bool:
    """Whether the payload holds U+0000 in any string (JSONB would reject it)."""
    return _NUL_ESCAPE in _text(payload)


def storable(payload: Any) -> Any:
    """The payload itself, or its JSON text under `ESCAPED_KEY` when JSONB cannot hold it."""
    text = _text(payload)
    return {ESCAPED_KEY: text} if _NUL_ESCAPE in text else payload
