"""The Stripe -> warehouse pair's catalog entry: which account, where its ledger lands, and
the days the business expects far more than usual (`stripe:`, `warehouse:`, `peak_days:`).
`catalog.ENTRY_MODELS` names this model for every Stripe -> warehouse entry."""

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from integrations_pipelines.catalog import Integration
from integrations_pipelines.vendors.stripe.options import StripeOptions

__all__ = ["StripeToWarehouseEntry", "StripeWarehouseOptions"]


class StripeWarehouseOptions(BaseModel):
    """The warehouse schema, and the prefix of the pair's tables in it."""

    model_config = ConfigDict(extra="forbid")
    schema_name: str = "analytics"
    table_prefix: str = "stripe_"


class StripeToWarehouseEntry(Integration):
    """A Stripe -> analytics warehouse integration.

    `peak_days`: days the business plans for many times the usual volume (Black Friday:
    10), as a factor on the expected-volume baseline, so such a day is judged against what
    it should bring: its 1,200 transactions are no anomaly, and 400 of them are a loss.
    """

    stripe: StripeOptions = StripeOptions()
    warehouse: StripeWarehouseOptions = StripeWarehouseOptions()
    peak_days: dict[date, float] = Field(default_factory=dict)
