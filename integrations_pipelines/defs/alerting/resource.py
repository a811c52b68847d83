"""The alerting resource: where alerts go, when they repeat, and how late is too late.

Slack is configured by the environment (SLACK_BOT_TOKEN + SLACK_API_BASE_URL for
`chat.postMessage`, or SLACK_WEBHOOK_URL; neither: alerts are recorded and logged only), the
Dagster UI link by DAGSTER_UI_URL. Fields set explicitly replace the environment's Slack
settings as a whole (tests point them at the fake Slack).
"""

import os
from datetime import timedelta

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.alerts.incidents import IncidentManager, IncidentPolicy
from integrations_pipelines.alerts.redaction import Redactor
from integrations_pipelines.alerts.slack import Notifier, notifier_from_env

__all__ = ["AlertingResource"]


# `dg.ConfigurableResource` is generic in the value it vends; this one vends itself, which has
# no spelling for that parameter (dagster#32027), hence the `type: ignore[type-arg]`.
class AlertingResource(dg.ConfigurableResource):  # type: ignore[type-arg]  # vends itself
    """Incident dedupe in the integration store and delivery to Slack."""

    slack_bot_token: str | None = None
    slack_api_base_url: str | None = None
    slack_webhook_url: str | None = None
    ui_url: str | None = None
    remind_after_minutes: int = 240
    schedule_grace_minutes: int = 30
    token_warn_days: int = 14
    token_max_failures: int = 3

    def notifier(self) -> Notifier:
        """The explicit Slack settings if any are set, else the environment's."""
        explicit = {name: value for name, value in {
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_API_BASE_URL": self.slack_api_base_url,
            "SLACK_WEBHOOK_URL": self.slack_webhook_url,
        }.items() if value}
        return notifier_from_env(explicit or None)

    def manager(self, engine: sa.Engine) -> IncidentManager:
        """An incident manager on the store, redacting every secret of the environment."""
        return IncidentManager(
            engine, self.notifier(),
            policy=IncidentPolicy(remind_after=self.remind_after),
            redactor=Redactor.from_environment(),
            ui_url=self.ui_url or os.environ.get("DAGSTER_UI_URL") or None,
        )

    @property
    def remind_after(self) -> timedelta:
        return timedelta(minutes=self.remind_after_minutes)

    @property
    def schedule_grace(self) -> timedelta:
        return timedelta(minutes=self.schedule_grace_minutes)
