"""QuickBooks Online error envelopes: the `Fault` bodies real integrations must handle.

Codes are strings, as QBO sends them. Each helper names the business rule it enforces so
the sandbox's validation reads like the list of things that bite real integrations.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "BUSINESS", "QboFault", "business", "forbidden_body", "invalid", "invalid_reference",
    "not_found", "qbo_time", "query_invalid", "query_parse", "required", "stale", "system_body",
    "throttled_body", "too_long",
]

BUSINESS = "A business validation error has occurred while processing your request"


class QboFault(Exception):
    """A QBO error answer: HTTP status plus one Fault error."""

    def __init__(self, code: str, message: str, detail: str = "", element: str = "",
                 status: int = 400, fault_type: str = "ValidationFault") -> None:
        super().__init__(f"{code}: {message} {detail}")
        self.code, self.message, self.detail, self.element = code, message, detail, element
        self.status, self.fault_type = status, fault_type

    def body(self, now: str) -> dict[str, Any]:
        """The JSON envelope QBO answers with."""
        error = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element:
            error["element"] = self.element
        return {"Fault": {"Error": [error], "type": self.fault_type}, "time": now}


def qbo_time(moment: datetime, offset_hours: float) -> str:
    """QBO timestamp: milliseconds and the company's UTC offset, e.g. ...T09:12:44.123-08:00."""
    local = moment.astimezone(timezone(timedelta(hours=offset_hours)))
    return local.isoformat(timespec="milliseconds")


def required(element: str) -> QboFault:
    """A required field is missing (code 2020)."""
    return QboFault("2020", "Required param missing, need to supply the required value for the API",
                    f"Required parameter {element} is missing in the request", element)


def invalid_reference(kind: str, ident: Any, element: str) -> QboFault:
    """A reference to an entity that does not exist (code 2500)."""
    return QboFault("2500", "Invalid Reference Id",
                    f"Invalid Reference Id : {kind} element id {ident} not found", element)


def too_long(element: str, maximum: int, supplied: int) -> QboFault:
    """A string over its maximum length (code 2050)."""
    return QboFault("2050", "String length is either shorter or longer than supported by "
                    "specification", f"String length specified does not match the supported "
                    f"length. Min:0 Max:{maximum} supplied length:{supplied}", element)


def business(detail: str, element: str = "") -> QboFault:
    """A business rule violation (code 6000)."""
    return QboFault("6000", BUSINESS, f"Business Validation Error: {detail}", element)


def stale(entity: str) -> QboFault:
    """The SyncToken is not the current one (code 5010)."""
    return QboFault("5010", "Stale Object Error",
                    f"Stale Object Error : You and root were working on this {entity} at the "
                    "same time. root finished before you did, so your work was not saved.",
                    "SyncToken")


def not_found(entity: str, ident: Any) -> QboFault:
    """The object does not exist or was deleted (code 610)."""
    return QboFault("610", "Object Not Found",
                    f"Object Not Found : Something you're trying to use has been made "
                    f"inactive. Check the fields with accounts, customers, items, vendors or "
                    f"employees. ({entity} {ident})", "Id")


def invalid(detail: str, element: str = "") -> QboFault:
    """Malformed or unsupported input (code 2010)."""
    return QboFault("2010", "Request has invalid or unsupported property", detail, element)


def query_parse(detail: str) -> QboFault:
    """The query does not parse (code 4000), e.g. an unescaped apostrophe."""
    return QboFault("4000", "Error parsing query", f"QueryParserError: {detail}")


def query_invalid(detail: str) -> QboFault:
    """The query parses but names something not queryable (code 4001)."""
    return QboFault("4001", "Invalid query", f"QueryValidationError: {detail}")


def throttled_body(now: str) -> dict[str, Any]:
    """The 429 body of QBO's per-realm throttle (code 3001)."""
    return {"Fault": {"Error": [{
        "Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "Detail": "The request limit for this resource has been reached for the current "
                  "rate limit window.",
        "code": "3001"}], "type": "SERVICE"}, "time": now}


def forbidden_body(now: str) -> dict[str, Any]:
    """The 403 body for a realm the token is not authorized for (code 003100)."""
    return {"Fault": {"Error": [{
        "Message": "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
        "Detail": "The application is not authorized for this company (realm).",
        "code": "003100"}], "type": "SERVICE"}, "time": now}


def system_body(now: str) -> dict[str, Any]:
    """A 5xx body (code 10000)."""
    return {"Fault": {"Error": [{
        "Message": "An application error has occurred while processing your request",
        "Detail": "System Failure Error: An unexpected error occurred while accessing or "
                  "saving your data. Please wait a few minutes and try again.",
        "code": "10000"}], "type": "SystemFault"}, "time": now}
