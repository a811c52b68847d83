"""Alerting core: every failure class reaches a person in Slack, once per incident.

Plain Python with no Dagster import: `kinds` (what can go wrong and what to do), `messages`
(Slack text and blocks, secrets redacted), `slack` (the notifiers), `incidents` (dedupe in
PostgreSQL), and the pure rules `volume` and `tokens` that decide when silence or a dying
credential is an alert.
"""
