"""integrations_pipelines: keep the integrations between business systems honest, on Dagster."""
