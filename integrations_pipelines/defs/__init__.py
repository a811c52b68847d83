"""Dagster wiring only: resources, partitions, and one folder per integration or concern."""
