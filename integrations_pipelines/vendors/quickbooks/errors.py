"""QuickBooks' own error envelope, on the shared tree of vendor errors."""

from __future__ import annotations

from typing import Any

from integrations_pipelines.vendors.errors import PermanentVendorError

__all__ = ["QuickBooksFault"]


class QuickBooksFault(PermanentVendorError):
    """A QuickBooks `Fault` envelope: validation, business rule or stale object."""

    def __init__(self, message: str, *, errors: list[dict[str, Any]], fault_type: str,
                 **kw: Any) -> None:
        super().__init__(message, **kw)
        self.errors = errors
        self.fault_type = fault_type

    @property
    def codes(self) -> list[str]:
        """The QuickBooks error codes (strings, e.g. "6240")."""
        return [str(e.get("code", "")) for e in self.errors]
