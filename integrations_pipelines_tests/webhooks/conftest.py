"""The webhook tests use the alerting tests' real parts: both sandboxes, the fake Slack and
the project's Definitions wired to them."""

from integrations_pipelines_tests.alerting.conftest import alerting, sandboxes

__all__ = ["alerting", "sandboxes"]
