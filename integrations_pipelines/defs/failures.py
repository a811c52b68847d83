"""Vendor errors become Dagster failures with one retry owner per layer.

The HTTP client already retried transient failures; when its budget is spent, the step
fails and Dagster's small run-retry policy may try again later. A permanent error (bad
request, revoked credentials, contract drift) fails with `allow_retries=False`, so no step
or run retry repeats it, and names its cause and what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from integrations_pipelines.vendors.errors import (
    ContractViolation,
    CredentialsRevokedError,
    PermanentVendorError,
    TransientVendorError,
)

__all__ = ["vendor_failures"]


@contextmanager
def vendor_failures(what: str) -> Iterator[None]:
    """Translate vendor errors raised while doing `what` into Dagster failures."""
    try:
        yield
    except CredentialsRevokedError as exc:
        raise dg.Failure(
            description=f"{what}: credentials dead. {exc}", allow_retries=False,
            metadata={"cause": "credentials", "vendor": exc.vendor},
        ) from exc
    except ContractViolation as exc:
        raise dg.Failure(
            description=f"{what}: vendor contract changed. {exc}", allow_retries=False,
            metadata={"cause": "contract_drift", "vendor": exc.vendor,
                      "payload_excerpt": str(exc.payload)[:2000]},
        ) from exc
    except PermanentVendorError as exc:
        raise dg.Failure(
            description=f"{what}: permanent vendor error. {exc}", allow_retries=False,
            metadata={"cause": "permanent_vendor_error", "vendor": exc.vendor,
                      "status": exc.status or 0, "body_excerpt": exc.body[:1000]},
        ) from exc
    except TransientVendorError as exc:
        raise dg.Failure(
            description=f"{what}: vendor still failing after retries. {exc}",
            allow_retries=True,
            metadata={"cause": "transient_exhausted", "vendor": exc.vendor,
                      "status": exc.status or 0},
        ) from exc
