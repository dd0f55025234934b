"""Measure the library's core paths against raw psycopg 3 in the same run, and print a table.

    python3 tasks.py bench [--people N] [--url URL] [--only NAME,...] [--reuse]
    python -m benchmarks.run --help            (from the repository root, in .venv)

See benchmarks/README.md for what each measure does and the targets.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
import traceback
from collections.abc import Callable

import psycopg

from benchmarks import (
    cases_read,
    cases_write,
    datagen,
    duplicate_scan,
    import_throughput,
    report,
)
from benchmarks.cases_memory import memory
from benchmarks.cases_read import Context
from benchmarks.measure import Budget, Row
from velocity_domain import Velocity
from velocity_domain.adapters.postgres import migrate

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_MEASURES: dict[str, Callable[[Context], list[Row]]] = {
    "list": cases_read.list_first,
    "deep": cases_read.list_deep,
    "assigned": cases_read.list_assigned,
    "agent": cases_read.list_agent,
    "search": cases_read.search,
    "get": cases_read.get,
    "timeline": cases_read.timeline,
    "client360": cases_read.client_360,
    "create": cases_write.create,
    "writeback": cases_write.writebacks,
    "startup": cases_read.startup,
}
ALL = [*PG_MEASURES, "memory", "import", "duplicates"]


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="tasks.py bench", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--people", type=int, default=1_000_000, help="scales every table")
    parser.add_argument("--url", default=DEFAULT_URL, help="the server to create the database on")
    parser.add_argument("--db", default="velocity_bench", help="the benchmark database's name")
    parser.add_argument("--only", help=f"comma-separated measures among: {', '.join(ALL)}")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database if it holds the requested size"
    )
    parser.add_argument("--reps", type=int, default=200, help="repetitions per measure")
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="time budget per measure (min 20 reps)"
    )
    parser.add_argument(
        "--memory-people", type=int, help="in-memory store size (default: people / 10)"
    )
    parser.add_argument(
        "--import-rows",
        type=int,
        help="rows of the import file, and people held (default: min(people, 100000))",
    )
    parser.add_argument(
        "--duplicate-people",
        type=int,
        help="base people of the duplicates measure's planted population (default: people)",
    )
    parser.add_argument("--seed", type=int, default=7, help="the data generator's seed")
    parser.add_argument(
        "--write-docs",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="write the table into docs/performance.rst (on under tasks.py bench)",
    )
    args = parser.parse_args(argv)
    chosen = ALL if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(chosen) - set(ALL))
    if unknown:
        parser.error(f"unknown measures {', '.join(unknown)}; choose among {', '.join(ALL)}")
    args.chosen = [n for n in ALL if n in chosen]
    return args


def prepare_database(
    args: argparse.Namespace, sizes: datagen.Sizes
) -> tuple[str, datagen.Staff, str]:
    """Generate (or reuse) the database; return its URL, the staff and what was done."""
    url = datagen.database_url(args.url, args.db)
    if args.reuse:
        ok, why = datagen.reusable(args.url, args.db, sizes)
        datagen.progress(why)
        if ok:
            started = time.monotonic()
            migrate.upgrade(url)  # the library may have gained a revision since
            datagen.progress(f"migrated to head in {time.monotonic() - started:.1f}s")
            return url, datagen.find_staff(url, sizes.agents), "reused an existing database"
    staff, seconds = datagen.generate(args.url, args.db, sizes, args.seed)
    datagen.progress(f"generated the database in {seconds:.0f}s")
    return url, staff, f"generated in {seconds:.0f}s (COPY, index rebuild, VACUUM ANALYZE)"


def guarded(name: str, call: Callable[[], list[Row]]) -> list[Row]:
    """Run one measure; a measure that raises becomes an ``ERROR`` row (traceback on stderr)."""
    datagen.progress(f"measuring {name}")
    started = time.monotonic()
    try:
        rows = call()
    except Exception as exc:  # a broken path is a row of the table, not the end of the run
        traceback.print_exc()
        rows = [Row.error(name, exc)]
    for row in rows:
        datagen.progress(f"  {row.name}: {row.verdict} ({time.monotonic() - started:.0f}s)")
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the chosen measures; print the table; maybe write the docs page."""
    args = parse(argv)
    sizes = datagen.Sizes.for_people(args.people)
    budget = Budget(reps=args.reps, seconds=args.seconds)
    rows: list[Row] = []
    extra: list[str] = []
    postgres_version = "-"
    pg_chosen = [n for n in args.chosen if n in PG_MEASURES]
    if pg_chosen:
        url, staff, how = prepare_database(args, sizes)
        extra.append(f"Database: {how}")
        with (
            Velocity.from_url(url) as velocity,
            psycopg.connect(datagen.conninfo(url), autocommit=True) as raw,
        ):
            postgres_version = str(raw.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            admin, operator, agents = datagen.principals(velocity, staff)
            ctx = Context(
                args.url,
                url,
                sizes,
                budget,
                staff,
                velocity,
                raw,
                admin,
                operator,
                agents,
            )
            for name in pg_chosen:
                rows += guarded(name, functools.partial(PG_MEASURES[name], ctx))
    if "memory" in args.chosen:
        people = args.memory_people or max(args.people // 10, 1000)
        rows += guarded("memory", lambda: memory(people, budget))
        extra.append(f"In-memory store: {people:,} people")
    if "import" in args.chosen:
        size = args.import_rows or min(args.people, 100_000)
        rows += guarded("import", lambda: import_throughput.run_measure(args.url, size))
        extra.append(
            f"Import: a {size:,}-row file against {size:,} people in database"
            f" {import_throughput.DEFAULT_DB} (dropped afterwards)"
        )
    if "duplicates" in args.chosen:
        size = args.duplicate_people or args.people
        rows += guarded("duplicates", lambda: duplicate_scan.run_measure(args.url, size))
        extra.append(
            f"Duplicates: {size:,} base people with 1% planted duplicates and 0.5% of each trap"
            f" in database {duplicate_scan.DEFAULT_DB} (dropped afterwards)"
        )
    about = report.machine(postgres_version)
    print()
    print("\n".join(about.lines()))
    if pg_chosen:
        print(f"Data: {sizes.describe()}")
    print("\n".join(extra))
    print()
    print(report.text_table(rows))
    if args.write_docs:
        if args.chosen != ALL:
            print("\n(docs/performance.rst not written: --only ran a subset of the measures)")
        else:
            path = report.write_docs(report.rst_page(rows, about, sizes.describe(), extra))
            print(f"\nwrote {path.relative_to(report.ROOT)}")
    return 1 if any(r.verdict == "ERROR" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
