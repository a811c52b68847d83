"""Text normalisation for destinations that reject or limit what a source accepts.

QuickBooks rejects characters outside the Basic Multilingual Plane (emoji and other 4-byte
UTF-8) in names and descriptions, and limits field lengths; so, by the seeds' account, does
Xero. One rule serves both: NFC, control characters turned into spaces (both refuse them:
QuickBooks' XML has no place for them, Xero answers a ValidationException; a space keeps
"Tea<BEL>towel" two words), white space folded, over-long text cut with an ellipsis, and
each astral character either removed (QuickBooks, the flagship's long-standing behaviour)
or, with `spell=True`, spelled out by its Unicode name ("Mug \U0001F984" -> "Mug [UNICORN
FACE]") so the document still says what the source said. The rule changes text; keeping
the original is the caller's: the Xero pair writes it, escaped, into the invoice's history;
the flagship keeps it only in the raw store (the reconciliation tags such orders
`edge:astral_chars`). The mapping and the reconciliation compare text after this same
normalisation.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ELLIPSIS", "fit", "normalize_text", "spell_astral", "strip_astral"]

ELLIPSIS = "…"
_SPACES = re.compile(r"\s+")
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_astral(text: str) -> str:
    """Drop code points above U+FFFF (emoji, rare CJK, symbols) the destination rejects."""
    return _ASTRAL.sub("", text)


def spell_astral(text: str) -> str:
    """Each code point above U+FFFF as its Unicode name in brackets ("[UNICORN FACE]"), or
    its number ("[U+F0001]") where it has none: nothing the source said is lost."""
    def name(found: re.Match[str]) -> str:
        char = found.group(0)
        return f" [{unicodedata.name(char, f'U+{ord(char):X}')}] "

    return _ASTRAL.sub(name, text)


def normalize_text(text: str | None, *, spell: bool = False) -> str:
    """NFC, no astral characters (removed, or spelled out with `spell`), no control
    characters, runs of white space folded to one space, trimmed."""
    if not text:
        return ""
    nfc = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    cleaned = spell_astral(nfc) if spell else strip_astral(nfc)
    return _SPACES.sub(" ", cleaned).strip()


def fit(text: str, max_len: int, *, spell: bool = False) -> str:
    """Normalised text cut to `max_len` characters, marking a cut with an ellipsis."""
    cleaned = normalize_text(text, spell=spell)
    if len(cleaned) <= max_len:
        return cleaned
    return cleaned[: max_len - 1].rstrip() + ELLIPSIS
