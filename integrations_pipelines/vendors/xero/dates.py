"""Xero's dates: the Microsoft JSON form `/Date(1539993600000+0000)/` on every answer.

Xero states its timestamps (`UpdatedDateUTC`, `DateTimeUTC`) and, beside the ISO strings
`DateString` / `DueDateString`, its document dates in that form: milliseconds since the
Unix epoch, optionally followed by an offset `+hhmm` that says which local time the moment
was shown in (the instant itself is the milliseconds, in UTC). Parsing them here, once,
keeps every reader from guessing.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

__all__ = ["MsJsonDateError", "ms_json", "parse_ms_json", "parse_xero_date"]

_MS_JSON = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


class MsJsonDateError(ValueError):
    """A value that should be an MS-JSON date is not one."""


def parse_ms_json(text: str) -> datetime:
    """`/Date(1539993600000+0000)/` -> an aware datetime in the offset it names (UTC
    without one); the instant is the milliseconds since the epoch."""
    found = _MS_JSON.match(text.strip())
    if found is None:
        raise MsJsonDateError(f"not an MS-JSON date: {text!r}")
    instant = datetime.fromtimestamp(int(found.group(1)) / 1000, UTC)
    offset = found.group(2)
    if not offset:
        return instant
    sign = 1 if offset[0] == "+" else -1
    shift = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])) * sign
    return instant.astimezone(timezone(shift))


def parse_xero_date(value: str | None) -> date | None:
    """A document date as Xero sends it: MS-JSON, or ISO (`2026-11-03T00:00:00`)."""
    if not value:
        return None
    if value.startswith("/Date("):
        return parse_ms_json(value).date()
    return datetime.fromisoformat(value).date()


def ms_json(moment: datetime) -> str:
    """The MS-JSON form of an aware datetime (what the sandbox sends)."""
    millis = int(moment.timestamp() * 1000)
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"/Date({millis}{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d})/"
