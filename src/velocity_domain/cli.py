"""The ``velocity-domain`` command: manage the canonical PostgreSQL schema.

velocity-domain db upgrade --url URL [--schema NAME] [--to REV]
velocity-domain db upgrade --sql [--schema NAME]        print the DDL, touch nothing
velocity-domain db downgrade --url URL --to REV [--schema NAME]
velocity-domain db current --url URL [--schema NAME]
velocity-domain db heads
velocity-domain import FILE --url URL --source-system NAME [--encoding E] [--delimiter D]
                [--assign-to EMAIL] [--errors PATH] [--no-commit]
velocity-domain serve --url URL [--host 127.0.0.1] [--port 8000] [--max-body-size BYTES]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO
from uuid import UUID

from velocity_domain import __version__
from velocity_domain.access.principal import Principal
from velocity_domain.errors import ValidationFailed, VelocityError
from velocity_domain.imports.gateway import ImportProgress

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

    load = commands.add_parser(
        "import",
        help="import a CSV or JSON Lines file of contacts through the governed flow",
        description=(
            "Read FILE, map its columns as suggested, match every row and propose the changes."
            " New people are approved by the policy and written at once (unless --no-commit);"
            " updates and possible duplicates wait in the operator inbox."
        ),
    )
    load.add_argument("file", help="the file to import (.csv, .tsv, .txt, .jsonl)")
    with_target(load)
    load.add_argument("--source-system", required=True, help="where the file comes from")
    load.add_argument("--encoding", default=None, help="the file's encoding (default: detect)")
    load.add_argument("--delimiter", default=None, help="the CSV delimiter (default: detect)")
    load.add_argument("--region", default="IN", help="region of phones without +code (IN)")
    load.add_argument("--assign-to", default=None, help="email of the user to assign people to")
    load.add_argument("--errors", default=None, help="where to write the bad rows (CSV)")
    load.add_argument("--no-commit", action="store_true", help="stop once proposed")

    serve = commands.add_parser(
        "serve",
        help="serve the root API over HTTP (needs the http extra)",
        description=(
            "Serve every route family of the root API with uvicorn over the database at --url:"
            " /api/..., the OpenAPI document at /openapi.json and its page at /docs."
            " Cursor signatures use $VELOCITY_CURSOR_KEY (set it so cursors outlive a restart)."
        ),
    )
    with_target(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    serve.add_argument(
        "--max-body-size",
        type=int,
        default=None,
        help="largest JSON request body in bytes (default 1 MiB; larger is 413)",
    )
    return parser


def _run(args: argparse.Namespace, out: TextIO) -> int:
    if args.group == "import":
        return _import(args, out)
    if args.group == "serve":
        return _serve(args)
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


class _Bar:
    """A one-line progress bar on stderr: the stage and the rows done so far."""

    def __init__(self, total: int | None = None) -> None:
        self.total = total
        self.shown = False

    def __call__(self, progress: ImportProgress) -> None:
        if self.total:
            done = min(progress.rows / self.total, 1.0)
            bar = "#" * int(done * 30)
            line = f"{progress.stage:>9} [{bar:<30}] {progress.rows:,}/{self.total:,} rows"
        else:
            line = f"{progress.stage:>9} {progress.rows:,} rows"
        print(f"\r{line}", end="", file=sys.stderr, flush=True)
        self.shown = True

    def end(self) -> None:
        if self.shown:
            print(file=sys.stderr)
            self.shown = False


def _user_by_email(velocity: Any, who: Principal, email: str) -> UUID:
    cursor = None
    while True:
        page = velocity.users.list(who, limit=500, cursor=cursor)
        for user in page.items:
            if user.email == email.strip().casefold():
                return UUID(str(user.key))
        cursor = page.next_cursor
        if cursor is None:
            raise ValidationFailed("assign_to", "names no user", value=email)


def _import(args: argparse.Namespace, out: TextIO) -> int:
    """``velocity-domain import``: the whole pipeline as the host system, with a summary."""
    from velocity_domain.velocity import Velocity  # noqa: PLC0415

    who = Principal.system("velocity-domain import")
    bar = _Bar()
    with Velocity.from_url(
        args.url,
        schema=args.schema,
        cursor_key=os.environ.get("VELOCITY_CURSOR_KEY") or os.urandom(32),
    ) as velocity:
        assignee = None
        if args.assign_to:
            assignee = _user_by_email(velocity, who, args.assign_to)
        imports = velocity.imports
        batch = imports.submit(
            who,
            args.file,
            source_system=args.source_system,
            encoding=args.encoding,
            delimiter=args.delimiter,
            default_region=args.region,
            assign_to=assignee,
            progress=bar,
        )
        bar.end()
        bar.total = batch.row_count
        batch = imports.map(who, batch.key, expected_version=batch.version)
        batch = imports.propose(who, batch.key, expected_version=batch.version, progress=bar)
        bar.end()
        if not args.no_commit:
            batch = imports.commit(who, batch.key, progress=bar)
            bar.end()
        outcomes = batch.stats_json.get("outcomes", {})
        invalid = batch.stats_json.get("parsed", {}).get("invalid", 0)
        errors = None
        if invalid:
            errors = args.errors or f"{args.file}.errors.csv"
            with open(errors, "w", encoding="utf-8", newline="") as handle:
                imports.write_errors(who, batch.key, handle)
    waiting = batch.status.value == "proposed"
    written = batch.stats_json.get("committed", {})
    rows = [
        ("created" if "new" in written else "new", outcomes.get("new", 0)),
        ("updated" if "update" in written else "updates", outcomes.get("update", 0)),
        ("unchanged", outcomes.get("unchanged", 0)),
        ("duplicates for review", outcomes.get("duplicate", 0)),
        ("invalid", invalid),
    ]
    print(f"batch {batch.key}: {batch.status.value} ({batch.row_count:,} rows)", file=out)
    width = max(len(name) for name, _ in rows)
    for name, count in rows:
        print(f"  {name:<{width}}  {count:>10,}", file=out)
    if waiting:
        print("  updates and possible duplicates wait for review in the operator inbox", file=out)
    if errors:
        print(f"  bad rows and their reasons: {errors}", file=out)
    return 0


def _serve(args: argparse.Namespace) -> int:
    """``velocity-domain serve``: the ASGI app under uvicorn until interrupted."""
    try:
        import uvicorn  # noqa: PLC0415

        from velocity_domain.asgi import DEFAULT_MAX_BODY_SIZE, create_app  # noqa: PLC0415
    except ImportError as exc:
        print(
            f"the HTTP layer is not installed ({exc});"
            ' install it with: pip install "velocity-domain[http,postgres]"',
            file=sys.stderr,
        )
        return 2
    from velocity_domain.velocity import Velocity  # noqa: PLC0415

    key = os.environ.get("VELOCITY_CURSOR_KEY") or os.urandom(32)
    with Velocity.from_url(args.url, schema=args.schema, cursor_key=key) as velocity:
        app = create_app(velocity, max_body_size=args.max_body_size or DEFAULT_MAX_BODY_SIZE)
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
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
