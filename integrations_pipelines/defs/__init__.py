"""Dagster wiring only: resources, partitions, and one folder per integration or concern.

The project uses a few of Dagster's beta and preview features on purpose (single-run
backfill policies, partitioned asset checks); their warnings, once per definition at every
code-location load, would bury the demo's and the daemon's real messages, so they are
silenced here, before any definition is built. Dagster's deprecation warnings stay on.
"""

import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
