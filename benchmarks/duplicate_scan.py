"""The duplicate scan at scale: its time, precision and recall on a planted population.

    python -m benchmarks.duplicate_scan [--people N] [--duplicates S] [--traps S] [--keep]
    python3 tasks.py bench --only duplicates    (the same measure inside benchmarks/run.py)

In one run (see ``duplicate_data``): a database is created and migrated, a
planted population of N base people (default 1,000,000) with duplicates of a
share S and traps is loaded with COPY, then

1. the baseline: raw psycopg running the bare grouping of the same blocking
   keys (email, phone, sorted name words) over the live people, the groups
   of two or more counted: what any set-based scan must at least do;
2. ``DuplicateScanService.scan`` (detection and filing of every cluster as a
   merge proposal), timed by stage through its progress callback.

It prints the scan's counts, its time against the baseline, and the
precision and recall of the filed clusters over pairs, against the truth.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from uuid import UUID

import psycopg
from psycopg import sql

from benchmarks import duplicate_data
from benchmarks.datagen import bulk_loading, conninfo, database_url, progress, recreate_database
from benchmarks.measure import Row
from velocity_domain import Velocity
from velocity_domain.adapters.postgres import migrate
from velocity_domain.crm.duplicates import DEFAULT_PERSON_RULES, DuplicateRules
from velocity_domain.crm.ports import DuplicateBlocks
from velocity_domain.services.crm.duplicate_clusters import Clusterer
from velocity_domain.services.crm.duplicate_scan import (
    ScanProgress,
    ScanReport,
)
from velocity_domain.testing import unit_of_work

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DB = "velocity_bench_duplicates"
BASELINE_REPEATS = 3
#: The bare grouping: the blocks of two or more live people, by email, phone and name key.
BASELINE = """
SELECT count(*), COALESCE(sum(n), 0) FROM (
    SELECT count(*) AS n FROM (
        SELECT 'email' AS b, primary_email AS k FROM crm_people
         WHERE merged_into_person_id IS NULL AND primary_email IS NOT NULL
        UNION ALL
        SELECT 'phone', primary_phone FROM crm_people
         WHERE merged_into_person_id IS NULL AND primary_phone IS NOT NULL
        UNION ALL
        SELECT 'name', (SELECT string_agg(w, ' ' ORDER BY w COLLATE "C")
                          FROM unnest(string_to_array(normalized_name, ' ')) AS w)
          FROM crm_people WHERE merged_into_person_id IS NULL
    ) AS keyed GROUP BY b, k HAVING count(*) > 1
) AS blocks
"""


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.duplicate_scan",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="the server to create the database on")
    parser.add_argument("--db", default=DEFAULT_DB, help="the benchmark database's name")
    parser.add_argument("--people", type=int, default=1_000_000, help="base people")
    parser.add_argument("--duplicates", type=float, default=0.05, help="share with a duplicate")
    parser.add_argument("--traps", type=float, default=0.025, help="share with each trap")
    parser.add_argument("--seed", type=int, default=15, help="the generator's seed")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--detect-only",
        action="store_true",
        help="time the detection (the scan's own code, without filing) and score its clusters",
    )
    return parser.parse_args(argv)


@dataclass
class Result:
    """What one run measured."""

    people: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    load_seconds: float = 0.0
    baseline_seconds: float = 0.0
    baseline_blocks: int = 0
    stages: dict[str, float] = field(default_factory=dict)
    report: ScanReport | None = None
    precision: float = 0.0
    recall: float = 0.0
    true_pairs: int = 0
    found_pairs: int = 0
    missed: dict[str, int] = field(default_factory=dict)

    @property
    def scan_seconds(self) -> float:
        """The whole scan: detection and filing."""
        return sum(self.stages.values())

    @property
    def detect_seconds(self) -> float:
        """Reading, grouping, comparing and clustering (before filing)."""
        return sum(s for k, s in self.stages.items() if k != "filing")


def load(url: str, population: duplicate_data.Population) -> float:
    """COPY the population in (secondary indexes rebuilt after), then ``VACUUM ANALYZE``."""
    started = time.monotonic()
    with bulk_loading(url, ("crm_people",)) as cur:
        duplicate_data.copy_into(cur.connection, population)
    return time.monotonic() - started


def baseline(url: str) -> tuple[float, int]:
    """The bare grouping's best time of ``BASELINE_REPEATS`` runs, and the blocks it finds."""
    best, blocks = float("inf"), 0
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        for _ in range(BASELINE_REPEATS):
            started = time.perf_counter()
            row = conn.execute(BASELINE).fetchone()
            best = min(best, time.perf_counter() - started)
            assert row is not None
            blocks = int(row[0])
    return best, blocks


def detect(
    velocity: Velocity, rules: DuplicateRules, tell: Stages
) -> tuple[ScanReport, list[set[UUID]]]:
    """The scan's detection alone (the store's blocks, then the clusterer), as the scan runs it."""
    tell(ScanProgress("comparing", 0))
    clusterer = Clusterer(rules, lambda b, p: tell(ScanProgress("comparing", b, None, p)))
    with unit_of_work(velocity) as uow:
        own = uow.extension(DuplicateBlocks)  # type: ignore[type-abstract]
        assert own is not None
        clusterer.feed(own.members(rules.blocks, chunk=5000))
    tell(ScanProgress("clustering", clusterer.blocks, None, clusterer.pairs))
    clusters = clusterer.clusters()
    tell(ScanProgress("done", 0, len(clusters)))
    found = [set(c.person_ids) for c in clusters]
    with unit_of_work(velocity, read_only=True) as uow:
        people = uow.crm.people.count()
    report = ScanReport(
        people,
        clusterer.blocks,
        clusterer.capped,
        clusterer.pairs,
        clusterer.matches,
        len(clusters),
        0,
        0,
        0,
    )
    return report, found


class Stages:
    """The scan's progress: the seconds each stage took, and a line now and then."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.stage = ""
        self.seconds: dict[str, float] = {}
        self.shown = 0.0

    def __call__(self, told: ScanProgress) -> None:
        now = time.monotonic()
        if told.stage != self.stage:
            if self.stage:
                self.seconds[self.stage] = self.seconds.get(self.stage, 0.0) + now - self.started
            self.stage, self.started = told.stage, now
        if now - self.shown > 10 or told.stage == "done":
            self.shown = now
            of = "" if told.total is None else f" of {told.total:,}"
            pairs = f", {told.pairs:,} pairs" if told.pairs else ""
            progress(f"  {told.stage}: {told.done:,}{of}{pairs}")


def filed_clusters(url: str) -> list[set[UUID]]:
    """The clusters of the filed merges (survivor and merged people)."""
    with psycopg.connect(conninfo(url)) as conn:
        rows = conn.execute(
            "SELECT survivor_person_id, merged_person_ids FROM crm_person_merges"
            " WHERE origin = 'scan'"
        ).fetchall()
    return [{survivor, *(UUID(str(p)) for p in merged)} for survivor, merged in rows]


def measure(args: argparse.Namespace) -> Result:
    """Generate, load, time the baseline and the scan; score the clusters."""
    result = Result()
    progress(f"generating {args.people:,} base people with planted duplicates")
    population = duplicate_data.population(
        args.people, seed=args.seed, duplicates=args.duplicates, traps=args.traps
    )
    result.people, result.kinds = len(population.people), population.kinds()
    url = database_url(args.url, args.db)
    progress(f"creating database {args.db} and loading {result.people:,} people")
    recreate_database(args.url, args.db)
    migrate.upgrade(url)
    with Velocity.from_url(url) as velocity:
        _, admin = velocity.users.create_first_admin(
            email="admin@duplicates.bench.example", display_name="Duplicate Bench"
        )
    result.load_seconds = load(url, population)
    progress(f"  loaded in {result.load_seconds:.0f}s; timing the bare grouping")
    result.baseline_seconds, result.baseline_blocks = baseline(url)
    progress(f"  bare grouping: {result.baseline_seconds:.1f}s; scanning")
    stages = Stages()
    rules = DEFAULT_PERSON_RULES
    with Velocity.from_url(url) as velocity:
        if args.detect_only:
            result.report, clusters = detect(velocity, rules, stages)
        else:
            result.report = velocity.duplicates.scan(admin, rules=rules, progress=stages)
            clusters = filed_clusters(url)
    result.stages = stages.seconds
    scored = duplicate_data.score(clusters, population)
    result.precision, result.recall = scored.precision, scored.recall
    result.true_pairs, result.found_pairs = scored.true, scored.found
    result.missed = duplicate_data.missed(clusters, population)
    if not args.keep:
        with psycopg.connect(conninfo(args.url), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.db))
            )
    return result


def table(result: Result) -> str:
    """The figures, as lines of text."""
    report = result.report
    assert report is not None
    ratio = result.detect_seconds / result.baseline_seconds if result.baseline_seconds else 0.0
    planted = ", ".join(f"{k} {v:,}" for k, v in sorted(result.kinds.items()))
    lines = [
        f"people: {result.people:,} ({planted})",
        f"loaded by COPY in {result.load_seconds:.0f}s",
        f"bare grouping of the keys (raw psycopg, best of {BASELINE_REPEATS}):"
        f" {result.baseline_seconds:.1f}s, {result.baseline_blocks:,} blocks",
        f"scan: {report.people:,} people, {report.blocks:,} blocks ({report.capped_blocks:,}"
        f" capped at {report.cap}), {report.pairs_compared:,} pairs compared,"
        f" {report.matches:,} matches, {report.clusters_found:,} clusters,"
        f" {report.filed:,} filed, {report.skipped_known:,} known,"
        f" {report.skipped_other:,} skipped",
        "stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.stages.items()),
        f"detection (read, group, compare, cluster): {result.detect_seconds:.1f}s"
        f" = {ratio:.1f}x the bare grouping",
        f"filing: {result.stages.get('filing', 0.0):.1f}s"
        f" ({report.filed / max(result.stages.get('filing', 0.0), 1e-9):,.0f} proposals/s)",
        f"whole scan: {result.scan_seconds:.1f}s",
        f"precision {result.precision:.3f}, recall {result.recall:.3f} over pairs"
        f" ({result.found_pairs:,} proposed, {result.true_pairs:,} true)",
        "missed true pairs by kind: "
        + (", ".join(f"{k} {v:,}" for k, v in sorted(result.missed.items())) or "none"),
    ]
    return "\n".join(lines)


def report_rows(result: Result) -> list[Row]:
    """The measure's rows for ``benchmarks.run``'s table (people per second; information)."""
    report = result.report
    assert report is not None
    people = result.people
    detect_rate = people / result.detect_seconds if result.detect_seconds else None
    raw_rate = people / result.baseline_seconds if result.baseline_seconds else None
    detect = Row(
        "duplicates detect",
        "rate",
        target="information",
        n=people,
        lib_rate=detect_rate,
        raw_rate=raw_rate,
        ratio=None if detect_rate is None or raw_rate is None else detect_rate / raw_rate,
        notes=[
            f"precision {result.precision:.3f}, recall {result.recall:.3f} over pairs;"
            f" {report.clusters_found:,} clusters; raw: the bare SQL grouping of the keys"
        ],
    )
    filing = result.stages.get("filing", 0.0)
    filed = Row(
        "duplicates file",
        "rate",
        target="information",
        n=report.filed,
        lib_rate=report.filed / filing if filing else None,
        notes=["merge proposals filed per second"],
    )
    return [detect, filed]


def run_measure(server_url: str, people: int, seed: int = 15) -> list[Row]:
    """The duplicates measure for ``benchmarks.run``."""
    args = parse(
        ["--url", server_url, "--people", str(people), "--seed", str(seed), "--duplicates",
         "0.01", "--traps", "0.005"]
    )  # fmt: skip
    result = measure(args)
    print(table(result), flush=True)
    return report_rows(result)


def main(argv: list[str] | None = None) -> int:
    """Run the measure and print its figures."""
    args = parse(argv)
    result = measure(args)
    print()
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
