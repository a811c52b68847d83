"""Shopify's API version calendar, as the sandbox serves it.

A stable version is released each quarter (`YYYY-01`, `-04`, `-07`, `-10`) and supported for
twelve months. A request for a retired (or unknown) version is not refused: Shopify serves it
silently as the oldest supported version and names what it served in `X-Shopify-API-Version`.
`unstable` is always served as asked.
"""

from __future__ import annotations

import re
from datetime import date

__all__ = ["served_version", "supported_versions"]

STABLE = re.compile(r"^(\d{4})-(01|04|07|10)$")
SUPPORT_MONTHS = 12


def _months(version: str) -> int:
    year, month = version.split("-")
    return int(year) * 12 + int(month) - 1


def supported_versions(today: date) -> list[str]:
    """The stable versions supported on `today`, oldest first."""
    now = today.year * 12 + today.month - 1
    releases = [f"{now // 12 - y}-{m:02d}" for y in (0, 1, 2) for m in (1, 4, 7, 10)]
    return sorted(v for v in releases if 0 <= now - _months(v) < SUPPORT_MONTHS)


def served_version(requested: str, today: date) -> str:
    """The version Shopify answers a request for `requested` with."""
    if requested == "unstable":
        return requested
    supported = supported_versions(today)
    return requested if requested in supported else supported[0]
