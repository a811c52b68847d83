"""Text normalisation for destinations that reject or limit what a source accepts.

QuickBooks rejects characters outside the Basic Multilingual Plane (emoji and other 4-byte
UTF-8) in names and descriptions, and limits field lengths. The mapping and the
reconciliation compare text after this same normalisation.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ELLIPSIS", "fit", "normalize_text", "strip_astral"]

ELLIPSIS = "…"
_SPACES = re.compile(r"\s+")
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


def strip_astral(text: str) -> str:
    """Drop code points above U+FFFF (emoji, rare CJK, symbols) the destination rejects."""
    return _ASTRAL.sub("", text)


def normalize_text(text: str | None) -> str:
    """NFC, no astral characters, runs of white space folded to one space, trimmed."""
    if not text:
        return ""
    cleaned = strip_astral(unicodedata.normalize("NFC", text))
    return _SPACES.sub(" ", cleaned).strip()


def fit(text: str, max_len: int) -> str:
    """Normalised text cut to `max_len` characters, marking a cut with an ellipsis."""
    cleaned = normalize_text(text)
    if len(cleaned) <= max_len:
        return cleaned
    return cleaned[: max_len - 1].rstrip() + ELLIPSIS
