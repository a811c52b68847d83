"""The dlt contender of `stripe_load_benchmark.py`, run by an interpreter that has
`dlt[postgres]` (it is not a dependency of the project): loads the rows of a JSON-lines file
into `dlt_analytics.stripe_balance_transactions` (dlt owns its tables: it adds `_dlt_load_id`
and `_dlt_id` and its own state tables) with dlt's merge write disposition.

    /path/to/venv-with-dlt/bin/python benchmarks/stripe_dlt_probe.py <postgres url> <rows.jsonl>
"""

import json
import sys
from urllib.parse import unquote, urlsplit

import dlt


def main() -> None:
    url, path = sys.argv[1], sys.argv[2]

    hints = {"business_date": {"data_type": "date"}, "created_at": {"data_type": "timestamp"},
             "available_on": {"data_type": "timestamp"},
             "source_version": {"data_type": "timestamp"},
             "loaded_at": {"data_type": "timestamp"},
             "exchange_rate": {"data_type": "decimal"}, "payout_id": {"data_type": "text"}}

    @dlt.resource(name="stripe_balance_transactions", write_disposition="merge",
                  primary_key="id", columns=hints)
    def balance_transactions():  # type: ignore[no-untyped-def]
        with open(path) as rows:
            for line in rows:
                yield json.loads(line)

    # dlt insists on a host; libpq lets the URL's `host=` query (the embedded server's
    # socket folder) override it.
    parts = urlsplit(url)
    credentials = (f"postgresql://{parts.username}:{unquote(parts.password or '') or 'x'}@"
                   f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
                   f"?{parts.query}")
    pipeline = dlt.pipeline(pipeline_name="stripe_bench", dataset_name="dlt_analytics",
                            destination=dlt.destinations.postgres(credentials=credentials))
    pipeline.run(balance_transactions())


if __name__ == "__main__":
    main()
