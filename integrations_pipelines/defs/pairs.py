"""Which Dagster definitions each catalog entry gets: the registry of pairs.

A catalog entry names its pair by its own name; the pair's `pair.py` builds its
definitions from the entry and declares which of its systems authenticate with OAuth (their
token health is watched). Adding a pair is a folder under `defs/` and one line here.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg

from integrations_pipelines.catalog import Integration
from integrations_pipelines.defs.shopify_to_quickbooks import pair as shopify_to_quickbooks

__all__ = ["PAIRS", "Pair", "pair_for"]


@dataclass(frozen=True)
class Pair:
    """How to build one pair's definitions, and its OAuth systems."""

    build: Callable[[Integration], dg.Definitions]
    oauth_systems: Sequence[str] = ()


PAIRS: dict[str, Pair] = {
    "shopify_to_quickbooks": Pair(shopify_to_quickbooks.pair_definitions,
                                  shopify_to_quickbooks.OAUTH_SYSTEMS),
}


def pair_for(entry: Integration) -> Pair:
    """The pair that builds a catalog entry, or a clear error naming the known ones."""
    try:
        return PAIRS[entry.name]
    except KeyError:
        raise ValueError(f"catalog entry {entry.name!r} has no pair in defs/pairs.py "
                         f"(known: {', '.join(sorted(PAIRS))})") from None
