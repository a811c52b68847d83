"""The `integrations-pipelines` console script.

    integrations-pipelines dev            everything on this machine (see dev_environment.py)
    integrations-pipelines db upgrade     migrate the integration store (DATABASE_URL)
    integrations-pipelines tokens set C   store a newly authorized refresh token (stdin)
    integrations-pipelines reconcile sample --integration I --date D [-n N] [--class C]
                                          N records of a day, both sides, row by row
    integrations-pipelines dead-letters list|replay [--integration I] [--reason CODE]
                                          [--from YYYY-MM-DD] [--to YYYY-MM-DD]
                                          open dead letters; replay them after a fix
    integrations-pipelines webhooks serve [--host H] [--port P]
                                          the webhook receiver (DATABASE_URL, secrets)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["main"]


def _cmd_dev(args: argparse.Namespace) -> int:
    from integrations_pipelines.dev_environment import DevOptions, run

    return run(DevOptions(home=Path(args.home), host=args.host, port=args.port,
                          backfill=not args.no_backfill))


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from integrations_pipelines.settings import database_url
    from integrations_pipelines.state.db import upgrade

    upgrade(database_url())
    print("integration store schema is up to date")
    return 0


def _cmd_tokens_set(args: argparse.Namespace) -> int:
    from integrations_pipelines.settings import database_url
    from integrations_pipelines.state.db import engine_for
    from integrations_pipelines.vendors.oauth import OAuthApp, TokenManager

    token = sys.stdin.readline().strip()
    if not token:
        print("no refresh token on standard input", file=sys.stderr)
        return 2
    manager = TokenManager(engine_for(database_url()), OAuthApp(args.connection, "", "", ""),
                           http=None)  # type: ignore[arg-type]  # storing needs no HTTP
    manager.store_refresh_token(token)
    print(f"refresh token stored for {args.connection}; the next run refreshes from it")
    return 0


def _cmd_reconcile_sample(args: argparse.Namespace) -> int:
    from datetime import date

    from integrations_pipelines.reconciliation.shopify_to_quickbooks import render_sample
    from integrations_pipelines.settings import database_url

    try:
        text = render_sample(database_url(), args.integration, date.fromisoformat(args.date),
                             args.n, args.discrepancy_class, args.seed,
                             args.realm or os.environ.get("QBO_REALM_ID") or None)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(text)
    return 0


def _cmd_dead_letters(args: argparse.Namespace) -> int:
    """Any pair's letters (`sync/dead_letters.run_command`: list from the store, replay by
    the pair's binding)."""
    from integrations_pipelines.sync.dead_letters import run_command

    return run_command(args.dl_command, args.integration, args.reason, args.from_date,
                       args.to_date)


def _cmd_webhooks_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from integrations_pipelines.settings import database_url, webhook_secrets
    from integrations_pipelines.state.db import engine_for
    from integrations_pipelines.webhooks.app import build_receiver

    app = build_receiver(engine_for(database_url()), webhook_secrets)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="integrations-pipelines", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="embedded Postgres + vendor sandboxes + dagster dev")
    dev.add_argument("--home", default=os.environ.get("INTEGRATIONS_DEV_HOME", ".dev"),
                     help="folder for the dev data (PostgreSQL, Dagster home, sandbox state)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--no-backfill", action="store_true",
                     help="do not launch the backfill of the seeded days on first start")
    dev.set_defaults(func=_cmd_dev)

    db = sub.add_parser("db", help="integration store schema").add_subparsers(
        dest="db_command", required=True)
    db.add_parser("upgrade", help="apply the Alembic migrations").set_defaults(
        func=_cmd_db_upgrade)

    tokens = sub.add_parser("tokens", help="OAuth credentials").add_subparsers(
        dest="tokens_command", required=True)
    tset = tokens.add_parser("set", help="store a refresh token read from standard input")
    tset.add_argument("connection", help="e.g. quickbooks:<realm id>")
    tset.set_defaults(func=_cmd_tokens_set)

    reconcile = sub.add_parser("reconcile", help="reconciliation").add_subparsers(
        dest="reconcile_command", required=True)
    rsample = reconcile.add_parser(
        "sample", help="sample N records of a day from both sides and compare them row by row")
    rsample.add_argument("--integration", required=True, help="e.g. shopify_to_quickbooks")
    rsample.add_argument("--date", required=True, help="the business day, YYYY-MM-DD")
    rsample.add_argument("-n", type=int, default=20, help="how many keys (default 20)")
    rsample.add_argument("--class", dest="discrepancy_class", default=None,
                         help="only this class: missing, extra, duplicate, stale, "
                         "wrong_values, ok, dead_lettered")
    rsample.add_argument("--seed", type=int, default=None, help="repeat the same sample")
    rsample.add_argument("--realm", default=None,
                         help="QuickBooks company (default QBO_REALM_ID, else every realm)")
    rsample.set_defaults(func=_cmd_reconcile_sample)

    letters = sub.add_parser("dead-letters", help="records that could not be moved").add_subparsers(
        dest="dl_command", required=True)
    for name, text in (("list", "show the open dead letters"),
                       ("replay", "replay them through the current mapping (idempotent)")):
        cmd = letters.add_parser(name, help=text)
        cmd.add_argument("--integration", default="shopify_to_quickbooks",
                         help="the catalog entry (e.g. shopify_to_xero)")
        cmd.add_argument("--reason", default=None, help="only this reason code")
        cmd.add_argument("--from", dest="from_date", default=None,
                         help="first business day, YYYY-MM-DD")
        cmd.add_argument("--to", dest="to_date", default=None,
                         help="last business day (included), YYYY-MM-DD")
        cmd.set_defaults(func=_cmd_dead_letters)

    hooks = sub.add_parser("webhooks", help="the webhook receiver").add_subparsers(
        dest="webhooks_command", required=True)
    serve = hooks.add_parser("serve", help="verify deliveries and commit them to the inbox")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(func=_cmd_webhooks_serve)

    args = parser.parse_args(argv)
    if args.command != "dev":
        _dev_environment_when_unset()
    status: int = args.func(args)
    return status


def _dev_environment_when_unset() -> None:
    """Beside a running (or past) `integrations-pipelines dev`, with DATABASE_URL unset, use
    the dev environment (the dev store and sandboxes), and say so: every README command then
    works beside `dev` without exports. A set DATABASE_URL always wins."""
    if os.environ.get("DATABASE_URL"):
        return
    from integrations_pipelines.dev_environment import ENVIRONMENT_FILE, read_environment

    home = Path(os.environ.get("INTEGRATIONS_DEV_HOME", ".dev"))
    found = read_environment(home)
    if "DATABASE_URL" not in found:
        return
    for key, value in found.items():
        os.environ.setdefault(key, value)
    print(f"DATABASE_URL is not set: using the dev environment ({home / ENVIRONMENT_FILE})",
          file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
