"""Xero's published limits, paced from the headers it sends on every answer.

Per tenant: 60 calls a minute (`X-MinLimit-Remaining`, spread over the minute) and 5000 a
day (`X-DayLimit-Remaining`, which fails loudly when spent rather than sleeping for hours).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from integrations_pipelines.vendors.pacing import RemainingHeaderPacer

__all__ = ["xero_pacers"]


def xero_pacers(*, sleep: Callable[[float], None] | None = None) -> list[RemainingHeaderPacer]:
    """The minute and day pacers one Xero tenant's client carries."""
    pause = time.sleep if sleep is None else sleep
    return [
        RemainingHeaderPacer("xero", "X-MinLimit-Remaining", 60.0, sleep=pause),
        RemainingHeaderPacer("xero", "X-DayLimit-Remaining", 86_400.0,
                             spread=False, max_wait_s=0.0, sleep=pause),
    ]
