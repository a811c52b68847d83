"""Which Dagster definitions each catalog entry gets: the registry of pairs.

A catalog entry's source and destination name its pair; the pair's `pair.py` turns the
entry into a `kit.PairSpec` (its steps, reader, checks, OAuth systems and extras), and the
kit's factory builds the Definitions. Adding a pair is a folder under `defs/` and one line
here.
"""

from collections.abc import Callable, Sequence

import dagster as dg

from integrations_pipelines.catalog import Integration
from integrations_pipelines.defs.kit import PairSpec, build_pair, shared_keys
from integrations_pipelines.defs.shopify_to_quickbooks import pair as shopify_to_quickbooks
from integrations_pipelines.defs.shopify_to_warehouse import pair as shopify_to_warehouse
from integrations_pipelines.defs.shopify_to_xero import pair as shopify_to_xero
from integrations_pipelines.defs.stripe_to_warehouse import pair as stripe_to_warehouse

__all__ = ["PAIRS", "pair_definitions", "pair_spec"]

PAIRS: dict[tuple[str, str], Callable[[Integration], PairSpec]] = {
    ("shopify", "quickbooks"): shopify_to_quickbooks.pair_spec,
    ("shopify", "warehouse"): shopify_to_warehouse.pair_spec,
    ("stripe", "warehouse"): stripe_to_warehouse.pair_spec,
    ("shopify", "xero"): shopify_to_xero.pair_spec,
}


def pair_spec(entry: Integration) -> PairSpec:
    """The spec of a catalog entry's pair, or a clear error naming the known pairs."""
    try:
        build = PAIRS[(entry.source, entry.destination)]
    except KeyError:
        known = ", ".join(f"{s} -> {d}" for s, d in sorted(PAIRS))
        raise ValueError(f"catalog entry {entry.name!r} ({entry.source} -> "
                         f"{entry.destination}) has no pair in defs/pairs.py (known: "
                         f"{known})") from None
    return build(entry)


def pair_definitions(specs: Sequence[PairSpec]) -> list[dg.Definitions]:
    """Each pair's Definitions; two pairs declaring one asset key is a clear error."""
    clashes = shared_keys(specs)
    if clashes:
        listed = "; ".join(f"{key.to_user_string()} ({', '.join(names)})"
                           for key, names in clashes.items())
        raise ValueError(f"two pairs declare the same asset: {listed}. Where two pairs share "
                         "a system, prefix the asset keys of one with its account or "
                         "integration (docs/ARCHITECTURE.md, asset keys)")
    return [build_pair(spec) for spec in specs]
