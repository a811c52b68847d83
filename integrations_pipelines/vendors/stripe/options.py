"""How a pair reads one Stripe account: the catalog's `stripe:` block."""

from pydantic import BaseModel, ConfigDict

from integrations_pipelines.vendors.stripe.client import DEFAULT_API_VERSION

__all__ = ["StripeOptions"]


class StripeOptions(BaseModel):
    """The API version the pair is written against (pinned on every request with
    `Stripe-Version`; a check warns when Stripe reports another), the account's name in the
    raw store and the request budget, and the receiver's route its webhook endpoint posts to
    (`/webhooks/stripe/<webhook_connection>`)."""

    model_config = ConfigDict(extra="forbid")
    api_version: str = DEFAULT_API_VERSION
    account: str = "default"
    webhook_connection: str = "stripe"
