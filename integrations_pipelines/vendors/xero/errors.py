"""Xero's error envelopes, on the shared tree of vendor errors.

A refused write is HTTP 400 with `{"ErrorNumber": 10, "Type": "ValidationException",
"Message": "A validation exception occurred", "Elements": [{..., "ValidationErrors":
[{"Message": "..."}]}]}`; with `summarizeErrors=false` a batch answers 200 and each element
carries its own `HasErrors` and `ValidationErrors`. Either way a refusal names what Xero
said, and that message is the dead letter's reason.
"""

from __future__ import annotations

from typing import Any

import httpx

from integrations_pipelines.vendors.errors import PermanentVendorError, VendorError

__all__ = ["XeroValidationError", "element_errors", "parse_xero_error"]


class XeroValidationError(PermanentVendorError):
    """Xero refused a document: its `ValidationErrors` messages, in order."""

    def __init__(self, message: str, *, messages: list[str], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.messages = messages


def element_errors(element: dict[str, Any]) -> list[str]:
    """The messages of one element's `ValidationErrors` (empty when it was saved)."""
    return [str(e.get("Message")) for e in element.get("ValidationErrors") or []
            if isinstance(e, dict)]


def parse_xero_error(response: httpx.Response, kw: dict[str, Any]) -> VendorError | None:
    """A `ValidationException` body as an XeroValidationError with every element's messages."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("Type") != "ValidationException":
        return None
    messages = [m for element in body.get("Elements") or [] if isinstance(element, dict)
                for m in element_errors(element)]
    summary = "; ".join(messages) or str(body.get("Message") or "validation exception")
    return XeroValidationError(f"Xero refused it: {summary}", messages=messages, **kw)
