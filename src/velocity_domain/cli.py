"""The ``velocity-domain`` command: manage the canonical PostgreSQL schema.

velocity-domain db upgrade --url URL [--schema NAME] [--to REV]
velocity-domain db upgrade --sql [--schema NAME]        print the DDL, touch nothing
velocity-domain db downgrade --url URL --to REV [--schema NAME]
velocity-domain db current --url URL [--schema NAME]
velocity-domain db heads
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from velocity_domain import __version__
from velocity_domain.errors import VelocityError

__all__ = ["build_parser", "main"]

URL_ENV = "VELOCITY_DATABASE_URL"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``velocity-domain`` command."""
    parser = argparse.ArgumentParser(
        prog="velocity-domain",
        description="Manage the velocity_domain canonical schema.",
    )
    parser.add_argument("--version", action="version", version=f"velocity-domain {__version__}")
    commands = parser.add_subparsers(dest="group", required=True)
    db = commands.add_parser("db", help="schema migrations (PostgreSQL)")
    actions = db.add_subparsers(dest="action", required=True)

    def with_target(sub: argparse.ArgumentParser, *, url_required: bool = True) -> None:
        sub.add_argument(
            "--url",
            default=os.environ.get(URL_ENV),
            required=url_required and not os.environ.get(URL_ENV),
            help=f"database URL, e.g. postgresql://user@host/db (default: ${URL_ENV})",
        )
        sub.add_argument("--schema", default=None, help="PostgreSQL schema for every table")

    up = actions.add_parser("upgrade", help="migrate up (to the newest revision by default)")
    with_target(up, url_required=False)
    up.add_argument("--to", default="head", help="target revision (default: head)")
    up.add_argument("--sql", action="store_true", help="print the DDL instead of running it")

    down = actions.add_parser("downgrade", help="migrate down; --to base removes every table")
    with_target(down)
    down.add_argument("--to", required=True, help="target revision, or 'base'")

    current = actions.add_parser("current", help="show the revision a database is at")
    with_target(current)

    actions.add_parser("heads", help="show the newest revision this version ships")
    return parser


def _run(args: argparse.Namespace, out: TextIO) -> int:
    try:
        from velocity_domain.adapters.postgres import migrate  # noqa: PLC0415
    except ImportError as exc:
        print(
            f"the PostgreSQL store is not installed ({exc});"
            ' install it with: pip install "velocity-domain[postgres]"',
            file=sys.stderr,
        )
        return 2
    if args.action == "heads":
        print(migrate.head_revision(), file=out)
    elif args.action == "upgrade" and args.sql:
        out.write(migrate.upgrade_sql(revision=args.to, schema=args.schema))
    elif args.action == "upgrade":
        if not args.url:
            print(f"db upgrade needs --url (or ${URL_ENV}) unless --sql", file=sys.stderr)
            return 2
        migrate.upgrade(args.url, revision=args.to, schema=args.schema)
        print(f"upgraded to {migrate.current_revision(args.url, schema=args.schema)}", file=out)
    elif args.action == "downgrade":
        migrate.downgrade(args.url, revision=args.to, schema=args.schema)
        now = migrate.current_revision(args.url, schema=args.schema)
        print(f"downgraded to {now or 'base'}", file=out)
    else:
        now = migrate.current_revision(args.url, schema=args.schema)
        head = migrate.head_revision()
        state = "up to date" if now == head else f"behind head {head}"
        print(f"{now or 'base (not migrated)'} ({state})", file=out)
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; return the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args, out or sys.stdout)
    except VelocityError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except Exception as exc:  # a driver error: show it plainly, not as a traceback
        if type(exc).__module__.split(".")[0] in ("sqlalchemy", "psycopg", "alembic"):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
