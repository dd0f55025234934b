"""The client graph at scale: client 360, the summary list, QD and artifacts against raw psycopg.

    python -m benchmarks.client_graph [--people N] [--reuse] [--only NAME,...]
    python3 tasks.py bench client-graph --people 1000000

In one run (see ``client_graph_data`` for the data): a database of N people
(default 1,000,000) with 10 N interactions and their whole graph is created
with COPY (or reused), the client summary projection is rebuilt when the
database has ``velocity_rebuild_client_summaries()``, and then, each library
call timed alternately with its raw psycopg 3 baseline:

- ``baselines``: a raw primary-key lookup of a person (the floor), and raw
  indexed keyset pages of 50 people at a shallow and a deep position;
- ``client360``: ``velocity.client_graph.client_360`` of random clients, of the
  heavy clients, and of a sales agent's own clients; p99 <= 30x the raw
  primary-key lookup's p50;
- ``qd``: ``velocity.qd.qd`` of random scored clients, of the heavy clients
  (more points than the query reads) and of an agent's own; p99 <= 10x the
  raw read of the same client's newest QD points through the history index;
- ``artifacts``: ``velocity.artifacts.get`` of random artifacts of each kind
  (information: the ratio to a raw primary-key lookup of the same row);
- ``summaries``: ``velocity.client_graph.summaries``, pages of 50 sorted each
  way and filtered each way, first and deep pages, as the admin and as a
  sales agent; p99 <= 10x a raw keyset page's p50 at the same depth (skipped,
  saying so, while the library has no ``summaries``).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString
from uuid import UUID

import psycopg
from psycopg import sql

from benchmarks import client_graph_data as data
from benchmarks import datagen, report
from benchmarks.cases_read import (
    PAGE,
    RAW_GET,
    Context,
    client_360_rows,
    keyed_row,
    random_people,
)
from benchmarks.measure import Budget, Row, interleaved, latency_row, percentile
from benchmarks.run import DEFAULT_URL, guarded
from velocity_domain import Velocity
from velocity_domain.access.principal import Principal
from velocity_domain.adapters.postgres import migrate
from velocity_domain.services.intel.qd import HISTORY_LIMIT

DEFAULT_DB = "velocity_bench_client_graph"
MEASURES = ("baselines", "client360", "qd", "artifacts", "summaries")
QD_RATIO = 10.0
SUMMARY_RATIO = 10.0
#: The deep summary page is the one after following this many cursors (when the list is long).
DEEP_PAGES = 200
SAMPLE = 1000
COUNT = sql.SQL("SELECT count(*) FROM {}")
RAW_KEYSET: LiteralString = (
    "SELECT * FROM crm_people WHERE person_id > %s ORDER BY person_id LIMIT 50"
)
RAW_NTH_PERSON: LiteralString = (
    "SELECT person_id FROM crm_people ORDER BY person_id OFFSET %s LIMIT 1"
)
RAW_QD: LiteralString = (
    "SELECT * FROM intel_qd_timeseries WHERE person_id = %s"
    f" ORDER BY timestamp DESC, timeseries_id DESC LIMIT {HISTORY_LIMIT + 1}"
)
#: Each artifact kind measured: its table's primary-key lookup and a random sample of its ids.
ARTIFACTS: dict[str, tuple[LiteralString, LiteralString]] = {
    "message": (
        "SELECT * FROM intel_messages WHERE message_id = %s",
        "SELECT message_id FROM intel_messages ORDER BY random() LIMIT %s",
    ),
    "call": (
        "SELECT * FROM intel_calls WHERE call_id = %s",
        "SELECT call_id FROM intel_calls ORDER BY random() LIMIT %s",
    ),
    "transcript": (
        "SELECT * FROM intel_transcripts WHERE transcript_id = %s",
        "SELECT transcript_id FROM intel_transcripts ORDER BY random() LIMIT %s",
    ),
    "email": (
        "SELECT * FROM intel_emails WHERE email_id = %s",
        "SELECT email_id FROM intel_emails ORDER BY random() LIMIT %s",
    ),
    "visit": (
        "SELECT * FROM intel_visits WHERE visit_id = %s",
        "SELECT visit_id FROM intel_visits ORDER BY random() LIMIT %s",
    ),
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.client_graph",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--people", type=int, default=1_000_000, help="people (interactions: 10x)")
    parser.add_argument("--url", default=DEFAULT_URL, help="the server to create the database on")
    parser.add_argument("--db", default=DEFAULT_DB, help="the benchmark database's name")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database if it holds the requested size"
    )
    parser.add_argument("--only", help=f"comma-separated measures among: {', '.join(MEASURES)}")
    parser.add_argument("--reps", type=int, default=200, help="repetitions per measure")
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="time budget per measure (min 20 reps)"
    )
    parser.add_argument("--seed", type=int, default=16, help="the data generator's seed")
    args = parser.parse_args(argv)
    chosen = MEASURES if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(chosen) - set(MEASURES))
    if unknown:
        parser.error(f"unknown measures {', '.join(unknown)}; choose among {', '.join(MEASURES)}")
    if args.people < 1000:
        parser.error("--people must be at least 1000")
    args.chosen = [n for n in MEASURES if n in chosen]
    return args


# --- the database ----------------------------------------------------------------------------


@dataclass
class Prepared:
    """The database the measures run on, and what was done to have it."""

    url: str
    staff: datagen.Staff
    lines: list[str] = field(default_factory=list)


def reusable(args: argparse.Namespace, shape: data.Shape) -> tuple[bool, str]:
    """Whether ``--db`` already holds ``shape`` (its marker and its row counts)."""
    marker = datagen.database_comment(args.url, args.db)
    if marker != shape.marker():
        return False, f"database {args.db} holds {marker or 'no client graph data'}"
    with psycopg.connect(datagen.conninfo(datagen.database_url(args.url, args.db))) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM crm_people), (SELECT count(*) FROM intel_interactions)"
        ).fetchone()
    assert row is not None
    people, interactions = row
    if people < shape.people or interactions < shape.interactions:
        return False, f"it holds {people:,} people and {interactions:,} interactions"
    return True, f"database {args.db} already holds the client graph of {shape.people:,} people"


def prepare(args: argparse.Namespace, shape: data.Shape) -> Prepared:
    """Generate (or reuse) the database and rebuild the summary projection; say what took what."""
    url = datagen.database_url(args.url, args.db)
    done = Prepared(url, datagen.Staff(UUID(int=0), UUID(int=0), ()))
    ok, why = reusable(args, shape) if args.reuse else (False, "")
    if why:
        datagen.progress(why)
    if ok:
        started = time.monotonic()
        migrate.upgrade(url)
        done.staff = datagen.find_staff(url, shape.agents)
        done.lines.append(
            f"Database: reused {args.db}; migrated to head in {time.monotonic() - started:.1f}s"
        )
    else:
        watch = data.Stopwatch()
        datagen.progress(f"creating database {args.db} and migrating it")
        datagen.recreate_database(args.url, args.db)
        migrate.upgrade(url)
        done.staff = datagen.create_staff(url, shape.agents)
        watch.lap("database created, migrated, staff created (library)")
        datagen.progress(f"loading {shape.describe()}")
        data.load(url, shape, done.staff, args.seed, watch)
        datagen.check_sample(url, entities=data.ENTITIES)
        watch.lap("sample of every table read back through the library")
        datagen.mark_database(args.url, args.db, shape.marker())
        done.lines.append(f"Database: generated {args.db} in {watch.total():.0f}s:")
        done.lines += [f"  {seconds:7.1f}s  {label}" for label, seconds in watch.laps]
    said, _ = data.rebuild_summaries(url)
    datagen.progress(said)
    done.lines.append(f"Summary projection: {said}")
    done.lines.append(f"Rows: {row_counts(url)}")
    done.lines.append(f"Database size: {data.database_size(url)}")
    return done


def row_counts(url: str) -> str:
    """The rows of every loaded table, counted."""
    with psycopg.connect(datagen.conninfo(url)) as conn:
        counts = [
            (table, conn.execute(COUNT.format(sql.Identifier(table))).fetchone())
            for table in data.TABLES
        ]
    return ", ".join(f"{table} {found[0] if found else 0:,}" for table, found in counts)


# --- the sample the measures use -------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """Who and what the measures ask for, chosen once per run."""

    people: list[UUID]
    heavy: list[UUID]
    agent_people: list[UUID]
    scored: list[UUID]
    agent_scored: list[UUID]
    project_id: UUID
    artifacts: dict[str, list[UUID]]


def pick(ctx: Context, shape: data.Shape) -> Sample:
    """Random clients, the heavy ones, an agent's own, scored ones, artifacts, a popular project."""
    agent = ctx.staff.agent_ids[0]

    def ids(query: LiteralString, *params: Any) -> list[UUID]:
        return [r[0] for r in ctx.rows(query, (*params, SAMPLE))]

    popular = ctx.rows(
        "SELECT project_id FROM crm_opportunities WHERE project_id IS NOT NULL"
        " GROUP BY project_id ORDER BY count(*) DESC LIMIT 1"
    )
    return Sample(
        people=random_people(ctx, SAMPLE),
        heavy=data.find_heavy(ctx.url, shape),
        agent_people=ids(
            "SELECT person_id FROM crm_people WHERE owner_user_id = %s ORDER BY random() LIMIT %s",
            agent,
        ),
        scored=ids(
            "SELECT person_id FROM intel_qd_scores WHERE score_type = 'overall'"
            " AND interaction_id IS NULL ORDER BY random() LIMIT %s"
        ),
        agent_scored=ids(
            "SELECT s.person_id FROM intel_qd_scores s JOIN crm_people p USING (person_id)"
            " WHERE p.owner_user_id = %s AND s.score_type = 'overall'"
            " AND s.interaction_id IS NULL ORDER BY random() LIMIT %s",
            agent,
        ),
        project_id=popular[0][0],
        artifacts={kind: ids(sample) for kind, (_, sample) in ARTIFACTS.items()},
    )


# --- the measures ----------------------------------------------------------------------------


def _raw_row(name: str, times: list[float], note: str) -> Row:
    """A row of a raw baseline alone (its figures in the raw column)."""
    return Row(
        name,
        "info",
        target="(baseline)",
        n=len(times),
        raw_p50=percentile(times, 50),
        raw_p99=percentile(times, 99),
        notes=[note],
    )


def nth_person(ctx: Context, offset: int) -> UUID:
    """The person id ``offset`` rows into primary-key order (a keyset page starts after it)."""
    if offset == 0:
        return UUID(int=0)
    found: UUID = ctx.rows(RAW_NTH_PERSON, (offset - 1,))[0][0]
    return found


def baselines(ctx: Context, sample: Sample) -> list[Row]:
    """The raw floors: a primary-key lookup, and keyset pages at the first and a deep position."""
    people = sample.people
    times, _ = interleaved(
        lambda i: ctx.rows(RAW_GET, (people[i % len(people)],)), None, ctx.budget
    )
    rows = [_raw_row("raw: person by primary key", times, f"raw: {RAW_GET}")]
    deep = min(DEEP_PAGES, ctx.sizes.people // PAGE - 1) * PAGE
    for offset, where in ((0, "first page"), (deep, f"page {deep // PAGE + 1}")):
        start = nth_person(ctx, offset)

        def keyset(_: int, after: UUID = start) -> object:
            return ctx.rows(RAW_KEYSET, (after,))

        times, _ = interleaved(keyset, None, ctx.budget)
        rows.append(
            _raw_row(f"raw: keyset page of 50 people, {where}", times, f"raw: {RAW_KEYSET}")
        )
    return rows


def client_360(ctx: Context, sample: Sample) -> list[Row]:
    """Client 360 of random clients, of the heavy ones (as the admin) and of an agent's own."""
    heavy = sample.heavy[0]
    view = ctx.velocity.client_graph.client_360(ctx.admin, heavy)
    assert view.person.key == heavy
    many = sum(view.interactions_by_channel.values())
    assert many >= 2000, f"the heavy client has {many} interactions"
    rows = client_360_rows(
        ctx,
        ctx.admin,
        [
            ("client_360, random clients (admin)", sample.people),
            (f"client_360, {len(sample.heavy)} heavy clients (admin)", sample.heavy),
        ],
    )
    rows += client_360_rows(
        ctx, ctx.agents[0], [("client_360, the agent's own clients (agent)", sample.agent_people)]
    )
    rows[1].notes.append(f"a heavy client has {many:,} interactions (the first: {heavy})")
    return rows


def qd(ctx: Context, sample: Sample, pk_p50: float | None) -> list[Row]:
    """The QD query against a raw read of the same client's newest points (the query's own read)."""
    view = ctx.velocity.qd.qd(ctx.admin, sample.heavy[0])
    assert view.truncated, "a heavy client has more QD points than the query reads"
    note = (
        f"raw: the client's newest {HISTORY_LIMIT + 1} QD points by the history index"
        " (the query's largest read)"
    )
    picks: list[tuple[str, Principal, Sequence[UUID]]] = [
        ("qd, random scored clients (admin)", ctx.admin, sample.scored),
        (f"qd, {len(sample.heavy)} heavy clients, 600 points (admin)", ctx.admin, sample.heavy),
        ("qd, the agent's own scored clients (agent)", ctx.agents[0], sample.agent_scored),
    ]
    rows = []
    for name, principal, clients in picks:

        def read(key: UUID, principal: Principal = principal) -> object:
            return ctx.velocity.qd.qd(principal, key)

        row = keyed_row(
            ctx,
            name,
            clients,
            read,
            RAW_QD,
            max_ratio=QD_RATIO,
            note=note,
        )
        if pk_p50 and row.lib_p99 is not None:
            row.notes.append(f"p99 = {row.lib_p99 / pk_p50:.1f}x the raw primary-key lookup's p50")
        rows.append(row)
    return rows


def artifacts(ctx: Context, sample: Sample) -> list[Row]:
    """The artifact query on random artifacts of each kind, as the admin (content revealed)."""
    rows = []
    for kind, (lookup, _) in ARTIFACTS.items():
        keys = sample.artifacts[kind]
        found = ctx.velocity.artifacts.get(ctx.admin, keys[0])
        assert found.kind.value == kind, (found.kind, kind)
        rows.append(
            keyed_row(
                ctx,
                f"artifacts.get, {kind} (admin)",
                keys,
                lambda key: ctx.velocity.artifacts.get(ctx.admin, key),
                lookup,
                max_ratio=None,
                note="raw: the artifact's row by primary key; the library also reads its"
                " interaction and checks visibility, and audits content it reveals",
            )
        )
    return rows


def _variants(ctx: Context, sample: Sample, agent: Principal) -> list[tuple[str, dict[str, Any]]]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    variants: list[tuple[str, dict[str, Any]]] = [
        (f"sort={sort}", {"sort": sort}) for sort in ("last_activity", "qd", "name")
    ]
    variants += [
        ("assigned_user_id=the agent", {"assigned_user_id": agent.user_id}),
        ("stage=negotiation", {"stage": "negotiation"}),
        ("project_id=the most popular", {"project_id": sample.project_id}),
        *((f"qd_band={band}", {"qd_band": band}) for band in ("hot", "warm", "cold", "unscored")),
        (
            "active 120 to 30 days ago",
            {"active_from": today - timedelta(days=120), "active_to": today - timedelta(days=30)},
        ),
    ]
    return variants


def _follow(
    list_page: Callable[[str | None], Any], pages: int, cap: float
) -> tuple[int, str | None]:
    """Follow ``pages`` cursors from the first page (or fewer, when the list or ``cap`` ends)."""
    started = time.monotonic()
    cursor: str | None = None
    reached = 0
    while reached < pages and time.monotonic() - started < cap:
        following = list_page(cursor).next_cursor
        if following is None:
            break
        cursor, reached = following, reached + 1
    return reached, cursor


def summaries(ctx: Context, sample: Sample) -> list[Row]:
    """Pages of the client summary list against raw keyset pages at the same depth."""
    summary_list = getattr(ctx.velocity.client_graph, "summaries", None)
    if summary_list is None:
        datagen.progress("  velocity.client_graph has no summaries: the summary measures skipped")
        skipped = Row("client_graph.summaries", "info", target="(skipped)")
        skipped.notes.append("skipped: velocity.client_graph has no summaries attribute yet")
        return [skipped]
    agent = ctx.agents[0]
    raw_after: dict[int, UUID] = {}
    rows = []
    for who, principal in (("admin", ctx.admin), ("agent", agent)):
        for label, filters in _variants(ctx, sample, agent):

            def list_page(cursor: str | None, p: Principal = principal, f: Any = filters) -> Any:
                return summary_list(p, limit=PAGE, cursor=cursor, **f)

            first = list_page(None)
            assert len(first.items) <= PAGE
            reached, deep = _follow(list_page, DEEP_PAGES, cap=max(ctx.budget.seconds * 3, 60.0))
            depths: list[tuple[int, str | None, str]] = [(0, None, "first page")]
            if deep is not None:
                depths.append((reached, deep, f"page {reached + 1}"))
            else:
                datagen.progress(f"  summaries {label} ({who}): one page only, no deep page")
            for hops, cursor, where in depths:
                offset = hops * PAGE
                if offset not in raw_after:
                    raw_after[offset] = nth_person(ctx, offset)

                def library(_: int, at: str | None = cursor, page: Any = list_page) -> object:
                    return page(at)

                def keyset(_: int, after: UUID = raw_after[offset]) -> object:
                    return ctx.rows(RAW_KEYSET, (after,))

                lib, raw = interleaved(library, keyset, ctx.budget)
                rows.append(
                    latency_row(
                        f"summaries {label}, {where} ({who})",
                        lib,
                        raw,
                        max_ratio=SUMMARY_RATIO,
                        note="raw: a keyset page of 50 people by primary key at the same depth",
                    )
                )
    return rows


MEASURE_CALLS: dict[str, Callable[[Context, Sample, dict[str, float]], list[Row]]] = {
    "baselines": lambda ctx, sample, _: baselines(ctx, sample),
    "client360": lambda ctx, sample, _: client_360(ctx, sample),
    "qd": lambda ctx, sample, floor: qd(ctx, sample, floor.get("pk")),
    "artifacts": lambda ctx, sample, _: artifacts(ctx, sample),
    "summaries": lambda ctx, sample, _: summaries(ctx, sample),
}


#: Untimed calls before each measure. A statement is planned anew on each of its first
#: executions on a connection (psycopg prepares it at the 6th; PostgreSQL settles on a
#: generic plan after 5 more), which a long-running service pays once per connection:
#: the measures time the calls after that, and the README says what the first ones cost.
WARMUP = 15


@contextmanager
def session(args: argparse.Namespace, prepared: Prepared) -> Iterator[tuple[Context, Sample]]:
    """The measures' context on the prepared database (library and raw connection), and sample."""
    shape = data.Shape.for_people(args.people)
    with (
        Velocity.from_url(prepared.url) as velocity,
        psycopg.connect(datagen.conninfo(prepared.url), autocommit=True) as raw,
    ):
        admin, operator, agents = datagen.principals(velocity, prepared.staff)
        ctx = Context(
            server_url=args.url,
            url=prepared.url,
            sizes=datagen.Sizes(args.people, 0, 0, shape.interactions, agents=shape.agents),
            budget=Budget(reps=args.reps, seconds=args.seconds, warmup=WARMUP),
            staff=prepared.staff,
            velocity=velocity,
            raw=raw,
            admin=admin,
            operator=operator,
            agents=agents,
        )
        yield ctx, pick(ctx, shape)


def measure(ctx: Context, sample: Sample, chosen: Sequence[str]) -> list[Row]:
    """Run the ``chosen`` measures in order; a measure that raises is an ``ERROR`` row."""
    rows: list[Row] = []
    floor: dict[str, float] = {}
    for name in chosen:
        found = guarded(name, functools.partial(MEASURE_CALLS[name], ctx, sample, floor))
        if name == "baselines" and found[0].raw_p50 is not None:
            floor["pk"] = found[0].raw_p50
        rows += found
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    args = parse(argv)
    shape = data.Shape.for_people(args.people)
    prepared = prepare(args, shape)
    with session(args, prepared) as (ctx, sample):
        version = str(ctx.rows("SHOW server_version")[0][0])
        rows = measure(ctx, sample, args.chosen)
    print()
    print("\n".join(report.machine(version).lines()))
    print(f"Data: {shape.describe()}")
    print("\n".join(prepared.lines))
    print()
    print(report.text_table(rows))
    return 1 if any(r.verdict == "ERROR" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
