"""What is compared between a source record and its destination record, and how.

A reconciliation compares the values the destination should hold (the mapping's output for the
current source version) with what it does hold. Each compared field has a kind that fixes the
comparison rule, so a cosmetic difference (an emoji QuickBooks stripped, "usd" vs "USD", 12.5 vs
12.50) is never reported as drift while a real one always is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["KINDS", "FieldSpec", "Kind"]

Kind = Literal["money", "currency", "text", "date", "bool", "int"]
KINDS: tuple[str, ...] = get_args(Kind)


@dataclass(frozen=True)
class FieldSpec:
    """One compared field.

    - `money`: compared in integer minor units: `round(value * 10**scale)`; `scale` is the
      number of decimals the given values carry (2 for amounts like 12.34, 0 when the column
      already holds cents). Differences up to the reconciliation's tolerance are accepted.
    - `currency`: compared exactly after upper-casing.
    - `text`: compared after the mapping's normalisation (`mapping.text.normalize_text`: NFC,
      astral characters removed, white space folded, trimmed), or after `mapping.text.fit`
      when `max_len` names the destination's length limit. Null and "" are equal.
    - `date`: compared as calendar dates (date objects, ISO strings or datetime64 values; an
      aware timestamp counts as its local date).
    - `bool`, `int`: compared exactly.
    Null equals null for every kind; null never equals a value (except "" for text).
    """

    name: str
    kind: Kind
    scale: int = 2
    max_len: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"field {self.name!r}: unknown kind {self.kind!r}, not in {KINDS}")
        if self.scale < 0:
            raise ValueError(f"field {self.name!r}: scale must be >= 0")
        if self.max_len is not None and (self.kind != "text" or self.max_len < 2):
            raise ValueError(f"field {self.name!r}: max_len applies to text fields, >= 2")
