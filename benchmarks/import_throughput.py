"""The import gateway's throughput against a plain COPY and against creating contacts one by one.

    python -m benchmarks.import_throughput [--rows N] [--existing N] [--rss] [--keep]
    python3 tasks.py bench --only import       (the same measure inside benchmarks/run.py)

In one run, on the same data (see ``import_data``):

1. the whole governed pipeline, ``velocity.imports`` submit → map → propose →
   approve (by another user) → commit, on PostgreSQL, in a child process
   that reports each step's seconds and its own peak RSS;
2. a plain psycopg COPY of the same rows, normalised before the clock
   starts, into a bare copy of ``crm_people`` (no index, no constraint);
3. ``velocity.contacts.create`` called once per row for the first rows of
   the file, in a copy of the database taken before the import.

Targets: the pipeline moves at least 0.25x the rows per second of the COPY
and at least 10x those of the per-row path; with ``--rss``, a child imports a
1,000,000-row file in under 300 MB of peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from benchmarks import import_data as data
from benchmarks.datagen import conninfo, database_url, progress
from benchmarks.measure import Row, Verdict, rate_row
from velocity_domain import Velocity
from velocity_domain.crm.entities import ImportBatch
from velocity_domain.errors import ApprovalRequired, DuplicateSuspected
from velocity_domain.imports.gateway import ImportProgress
from velocity_domain.kernel.ids import new_id

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DB = "velocity_bench_import"
STEPS = ("submit", "map", "propose", "approve", "commit")
COPY_RATIO = 0.25
PER_ROW_RATIO = 10.0
RSS_LIMIT_MB = 300.0
COPY_REPEATS = 3
BARE = "bench_import_bare"
BARE_COLUMNS = (
    "person_id, full_name, normalized_name, primary_email, primary_phone, persona_labels,"
    " source_system, source_ref, version, created_at, updated_at"
)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.import_throughput",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="the server to create databases on")
    parser.add_argument("--db", default=DEFAULT_DB, help="the benchmark database's name")
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the imported file")
    parser.add_argument("--existing", type=int, default=100_000, help="people already held")
    parser.add_argument(
        "--per-row-sample", type=int, default=2000, help="rows created one by one (the baseline)"
    )
    parser.add_argument(
        "--rss", action="store_true", help="also import a --rss-rows file in a child (minutes)"
    )
    parser.add_argument("--rss-rows", type=int, default=1_000_000, help="rows of the --rss file")
    parser.add_argument(
        "--keep", action="store_true", help="keep the databases and the files afterwards"
    )
    parser.add_argument("--seed", type=int, default=11, help="the data generator's seed")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: import this file
    args = parser.parse_args(argv)
    if args.rows < 1 or args.existing < 0 or args.per_row_sample < 1:
        parser.error("--rows and --per-row-sample must be positive, --existing not negative")
    return args


# --- the pipeline, in a child process ---------------------------------------------------------


class Teller:
    """Print a progress line every tenth of the file, with the rate since the step began."""

    def __init__(self, rows: int) -> None:
        self.step = max(rows // 10, 1)
        self.stage = ""
        self.shown = 0
        self.started = time.monotonic()

    def restart(self) -> None:
        """A step begins: rates count from now."""
        self.stage, self.shown, self.started = "", 0, time.monotonic()

    def __call__(self, report: ImportProgress) -> None:
        if report.stage != self.stage:
            self.stage, self.shown = report.stage, 0
        if report.rows // self.step > self.shown:
            self.shown = report.rows // self.step
            rate = report.rows / max(time.monotonic() - self.started, 1e-9)
            progress(f"    {report.stage}: {report.rows:,} rows ({rate:,.0f} rows/s)")


def run_pipeline(url: str, path: str, rows: int) -> dict[str, Any]:
    """Import ``path`` through every step of the gateway; return the seconds of each and more."""
    staff = data.find_staff(url)
    seconds: dict[str, float] = {}
    tell = Teller(rows)
    step = "connect"
    try:
        with Velocity.from_url(url) as velocity:
            submitter, reviewer = data.principals(velocity, staff)
            imports = velocity.imports
            calls: dict[str, Callable[[Any], ImportBatch]] = {
                "submit": lambda _: imports.submit(
                    submitter,
                    path,
                    source_system=data.SOURCE_SYSTEM,
                    file_name="contacts.csv",
                    progress=tell,
                ),
                "map": lambda b: imports.map(
                    submitter, b.key, expected_version=b.version, progress=tell
                ),
                "propose": lambda b: imports.propose(
                    submitter, b.key, expected_version=b.version, progress=tell
                ),
                "approve": lambda b: imports.approve(reviewer, b.key),
                "commit": lambda b: imports.commit(submitter, b.key, progress=tell),
            }
            batch = None
            for step in STEPS:
                progress(f"  {step}")
                tell.restart()
                started = time.perf_counter()
                batch = calls[step](batch)
                seconds[step] = time.perf_counter() - started
    except Exception as exc:
        traceback.print_exc()
        text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return {"error": f"{step} raised {text}", "seconds": seconds, "rss_mb": _rss_mb()}
    assert batch is not None
    stats = batch.stats_json
    return {
        "status": batch.status.value,
        "rows": batch.row_count,
        "seconds": seconds,
        "parsed": stats.get("parsed", {}),
        "outcomes": stats.get("outcomes", {}),
        "committed": stats.get("committed", {}),
        "rss_mb": _rss_mb(),
    }


def _rss_mb() -> float:
    """This process's peak resident set so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pipeline_child(url: str, path: Path, rows: int) -> dict[str, Any]:
    """Run :func:`run_pipeline` in a fresh interpreter (so its peak RSS is its own)."""
    command = [sys.executable, "-m", "benchmarks.import_throughput", "--child", str(path)]
    command += ["--url", url, "--rows", str(rows)]
    done = subprocess.run(  # noqa: PLW1510 - the exit status is read below
        command, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    lines = done.stdout.strip().splitlines()
    if not lines:
        return {"error": f"the pipeline child exited with {done.returncode} and no report"}
    report: dict[str, Any] = json.loads(lines[-1])
    return report


# --- the baselines ----------------------------------------------------------------------------


@dataclass
class Timing:
    """Rows done in seconds."""

    name: str
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds if self.seconds > 0 else float("nan")


def copy_baseline(url: str, rows: list[data.FileRow], *, indexed: bool = False) -> Timing:
    """COPY the file's rows, already normalised, into a bare copy of ``crm_people`` (median).

    With ``indexed``, the copy has ``crm_people``'s indexes and constraints
    (``INCLUDING ALL``: the trigram search indexes too, not the foreign
    keys): what writing people costs before any work of the pipeline's own.
    """
    now = datetime.now(UTC)
    values: list[tuple[object, ...]] = [
        (
            new_id(),
            r.full_name,
            r.normalized_name,
            r.email,
            r.phone,
            [],
            data.SOURCE_SYSTEM,
            r.record_id,
            1,
            now,
            now,
        )
        for r in rows
    ]  # built before the clock starts: ids, normalised values, timestamps
    statement = f"COPY {BARE} ({BARE_COLUMNS}) FROM STDIN"
    times: list[float] = []
    with psycopg.connect(conninfo(url)) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {BARE}")
        like = "INCLUDING ALL" if indexed else "INCLUDING DEFAULTS"
        conn.execute(f"CREATE TABLE {BARE} (LIKE crm_people {like})")
        conn.commit()
        for _ in range(COPY_REPEATS):
            conn.execute(f"TRUNCATE {BARE}")
            conn.commit()
            started = time.perf_counter()
            with conn.cursor() as cur, cur.copy(statement) as copy:
                for value in values:
                    copy.write_row(value)
            conn.commit()
            times.append(time.perf_counter() - started)
        copied = conn.execute(f"SELECT count(*) FROM {BARE}").fetchone()
        conn.execute(f"DROP TABLE {BARE}")
        conn.commit()
    assert copied is not None
    assert copied[0] == len(rows), copied
    name = "COPY, crm_people's indexes" if indexed else "plain COPY, bare table"
    return Timing(name, len(rows), statistics.median(times))


def per_row(url: str, rows: list[data.FileRow]) -> tuple[Timing, Counter[str]]:
    """``contacts.create`` once per row, from the file's cells (duplicates are refused)."""
    counts: Counter[str] = Counter()
    staff = data.find_staff(url)
    with Velocity.from_url(url) as velocity:
        submitter, _ = data.principals(velocity, staff)
        create = velocity.contacts.create
        started = time.perf_counter()
        for row in rows:
            try:
                create(
                    submitter,
                    full_name=f"{row.first} {row.last}",
                    primary_email=row.email_cell or None,
                    primary_phone=row.phone_cell or None,
                )
                counts["created"] += 1
            except DuplicateSuspected:
                counts["refused as duplicates"] += 1
            except ApprovalRequired:
                counts["sent to review"] += 1
        seconds = time.perf_counter() - started
    return Timing("per-row contacts.create", len(rows), seconds), counts


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Result:
    """Everything one run measured."""

    rows: int
    existing: int
    kinds: Counter[str]
    pipeline: dict[str, Any] = field(default_factory=dict)
    copy: Timing | None = None
    copy_indexed: Timing | None = None
    per_row: Timing | None = None
    per_row_counts: Counter[str] = field(default_factory=Counter)
    rss: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> Timing | None:
        """The whole pipeline, when it finished."""
        if "error" in self.pipeline or not self.pipeline:
            return None
        return Timing("pipeline total", self.rows, sum(self.pipeline["seconds"].values()))


def _attempt(result: Result, what: str, call: Any) -> Any:
    """Run ``call``; a failure becomes a note (and a traceback on stderr), not the end."""
    try:
        return call()
    except Exception as exc:
        traceback.print_exc()
        result.notes.append(f"{what} failed: {type(exc).__name__}: {exc}".splitlines()[0])
        return None


def _check_pipeline(result: Result, url: str) -> None:
    """Compare the outcomes with what the file was made of, and the people with the commit."""
    outcomes = result.pipeline.get("outcomes", {})
    for kind in ("new", "update", "unchanged", "duplicate"):
        got, meant = outcomes.get(kind, 0), result.kinds[kind]
        if got != meant:
            result.notes.append(
                f"outcome {kind}: {got:,} rows, while the file has {meant:,} rows meant as {kind}"
                f" (all outcomes: {outcomes})"
            )
    committed = result.pipeline.get("committed", {})
    created = sum(c.get("created", 0) for c in committed.values() if isinstance(c, dict))
    with psycopg.connect(conninfo(url)) as conn:
        found = conn.execute("SELECT count(*) FROM crm_people").fetchone()
    people = 0 if found is None else int(found[0])
    if people != result.existing + created:
        result.notes.append(
            f"crm_people holds {people:,} rows after the commit; expected"
            f" {result.existing:,} + {created:,} created"
        )


def _rss_run(args: argparse.Namespace, people: list[data.Existing], folder: Path) -> dict[str, Any]:
    """Import a ``--rss-rows`` file in a child, into a copy of the database taken before."""
    path = folder / "contacts_rss.csv"
    started = time.monotonic()
    kinds = data.write_csv(path, data.Rows(people, args.rss_rows, args.seed + 2))
    progress(f"  wrote {args.rss_rows:,} rows ({dict(kinds)}) in {time.monotonic() - started:.0f}s")
    url = database_url(args.url, f"{args.db}_rss")
    report = pipeline_child(url, path, args.rss_rows)
    report["file_rows"] = args.rss_rows
    return report


def measure(args: argparse.Namespace) -> Result:
    """Prepare the data, run the pipeline, the COPY and the per-row path; return the figures."""
    people = data.existing_people(args.existing, args.seed)
    data.prepare(args.url, args.db, people, args.seed)
    url = database_url(args.url, args.db)
    clones = [f"{args.db}_rows", *([f"{args.db}_rss"] if args.rss else [])]
    for name in clones:  # copies of the database as it is before the import
        data.clone(args.url, args.db, name)
    folder = Path(tempfile.mkdtemp(prefix="velocity_import_bench_"))
    try:
        rows = list(data.Rows(people, args.rows, args.seed + 1))
        data.check_rows(rows)
        path = folder / "contacts.csv"
        result = Result(args.rows, args.existing, data.write_csv(path, rows))
        progress(f"  wrote {path} ({path.stat().st_size / 1e6:.1f} MB): {dict(result.kinds)}")
        progress("timing a plain COPY of the same rows into a bare table")
        result.copy = _attempt(result, "the COPY baseline", lambda: copy_baseline(url, rows))
        result.copy_indexed = _attempt(
            result, "the indexed COPY", lambda: copy_baseline(url, rows, indexed=True)
        )
        progress(f"importing {args.rows:,} rows through velocity.imports (in a child process)")
        result.pipeline = pipeline_child(url, path, args.rows)
        if "error" not in result.pipeline:
            _attempt(result, "the check after the commit", lambda: _check_pipeline(result, url))
        progress(f"timing contacts.create on the first {args.per_row_sample:,} rows")
        sample = rows[: args.per_row_sample]
        timed = _attempt(
            result, "the per-row path", lambda: per_row(database_url(args.url, clones[0]), sample)
        )
        if timed is not None:
            result.per_row, result.per_row_counts = timed
        if args.rss:
            progress(f"importing a {args.rss_rows:,}-row file in a child for its peak RSS")
            result.rss = _rss_run(args, people, folder)
    finally:
        if args.keep:
            progress(f"kept databases {args.db}, {', '.join(clones)} and the files in {folder}")
        else:
            for name in clones:
                data.drop(args.url, name)
            data.drop(args.url, args.db)
            for item in folder.iterdir():
                item.unlink()
            folder.rmdir()
    return result


# --- the report -------------------------------------------------------------------------------

HEADERS = ("measure", "rows", "seconds", "rows/s", "vs COPY", "vs per-row", "target", "result")


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _line(timing: Timing, copy: Timing | None, single: Timing | None) -> list[str]:
    vs_copy = None if copy is None else timing.rate / copy.rate
    vs_single = None if single is None else timing.rate / single.rate
    return [
        timing.name,
        f"{timing.rows:,}",
        f"{timing.seconds:,.2f}",
        f"{timing.rate:,.0f}",
        _ratio(vs_copy),
        _ratio(vs_single),
    ]


def verdict(result: Result) -> tuple[str, str]:
    """The pipeline's result against both targets, and the target's text."""
    target = f">= {COPY_RATIO:g}x COPY, >= {PER_ROW_RATIO:g}x per-row"
    total = result.total
    if total is None:
        return "ERROR", target
    if result.copy is None or result.per_row is None:
        return "-", target
    missed = []
    if total.rate < COPY_RATIO * result.copy.rate:
        missed.append("COPY")
    if total.rate < PER_ROW_RATIO * result.per_row.rate:
        missed.append("per-row")
    return ("FAIL (" + ", ".join(missed) + ")" if missed else "PASS"), target


def rss_verdict(report: dict[str, Any]) -> Verdict:
    """PASS when the big import finished under the RSS limit."""
    if "error" in report:
        return "ERROR"
    return "PASS" if report["rss_mb"] < RSS_LIMIT_MB else "FAIL"


def table(result: Result) -> str:
    """The import measure's own table, with what it means underneath."""
    lines: list[list[str]] = []
    copy, single = result.copy, result.per_row
    seconds = result.pipeline.get("seconds", {})
    for step in STEPS:
        if step in seconds:
            timing = Timing(f"pipeline: {step}", result.rows, seconds[step])
            lines.append([*_line(timing, None, None), "", ""])
    result_text, target = verdict(result)
    rss = result.pipeline.get("rss_mb")
    total = result.total
    if total is not None:
        total.name += f" (peak RSS {rss:,.0f} MB)"
        lines.append([*_line(total, copy, single), target, result_text])
    else:
        lines.append(["pipeline total", f"{result.rows:,}", "-", "-", "-", "-", target, "ERROR"])
    if copy is not None:
        lines.append([*_line(copy, copy, None), "baseline", ""])
    if result.copy_indexed is not None and total is not None:
        indexed = result.copy_indexed
        share = f"pipeline = {total.rate / indexed.rate:.2f}x this"
        lines.append([*_line(indexed, copy, None), "for reference", share])
    if single is not None:
        lines.append([*_line(single, None, single), "baseline", ""])
    if result.rss is not None:
        report = result.rss
        rows = report["file_rows"]
        name = f"pipeline, {rows:,} rows (peak RSS {report.get('rss_mb', 0):,.0f} MB)"
        big = Timing(name, rows, sum(report.get("seconds", {}).values()))
        cells = _line(big, None, None) if "error" not in report else [name, f"{rows:,}", *"----"]
        lines.append([*cells, f"peak RSS < {RSS_LIMIT_MB:g} MB", rss_verdict(report)])
    widths = [max(len(x[i]) for x in [list(HEADERS), *lines]) for i in range(len(HEADERS))]

    def show(cells: list[str]) -> str:
        right = {1, 2, 3, 4, 5}
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [show(list(HEADERS)), rule, *(show(x) for x in lines), rule]
    out += explanation(result)
    return "\n".join(out)


def explanation(result: Result) -> list[str]:
    """What each line measured, and what the run found on the way."""
    out = [
        f"File: {result.rows:,} rows, {dict(result.kinds)} by construction;"
        f" {result.existing:,} people held before the import.",
        "Pipeline: velocity.imports submit, map (the suggested mapping), propose, approve"
        " (another user, role operator), commit; one child process; peak RSS is the child's.",
        "COPY: psycopg COPY of the same rows into CREATE TABLE ... (LIKE crm_people INCLUDING"
        " DEFAULTS), no index, no constraint; values normalised before timing; median of"
        f" {COPY_REPEATS}.",
        "Per-row: velocity.contacts.create per row on a copy of the database taken before the"
        f" import; {dict(result.per_row_counts) or 'not run'}.",
    ]
    pipeline = result.pipeline
    if "error" in pipeline:
        out.append(f"Pipeline ERROR: {pipeline['error']}")
    elif pipeline:
        out.append(f"Outcomes: {pipeline.get('outcomes')}; committed: {pipeline.get('committed')}")
    if result.rss is not None and "error" in result.rss:
        out.append(f"RSS run ERROR: {result.rss['error']}")
    out += [f"Note: {note}" for note in result.notes]
    return out


def report_rows(result: Result) -> list[Row]:
    """The rows of ``benchmarks.run``'s table."""
    total = result.total
    if total is None:
        error = result.pipeline.get("error", "the pipeline did not run")
        return [Row("import", "info", verdict="ERROR", notes=[str(error)[:300]])]
    rows: list[Row] = []
    seconds = result.pipeline["seconds"]
    steps = ", ".join(f"{s} {seconds[s]:.1f}s" for s in STEPS)
    note = f"{result.rows:,}-row file; {steps}; peak RSS {result.pipeline['rss_mb']:.0f} MB"
    for baseline, name, ratio in (
        (result.copy, "import vs COPY", COPY_RATIO),
        (result.per_row, "import vs per-row create", PER_ROW_RATIO),
    ):
        if baseline is None:
            rows.append(Row(name, "info", verdict="ERROR", notes=["the baseline failed"]))
            continue
        row = rate_row(
            name, total.rows, total.seconds, baseline.rows, baseline.seconds, min_ratio=ratio
        )
        row.notes.append(note)
        rows.append(row)
    if result.rss is not None:
        rows.append(
            Row(
                "import peak RSS",
                "info",
                target=f"< {RSS_LIMIT_MB:g} MB",
                n=result.rss["file_rows"],
                verdict=rss_verdict(result.rss),
                notes=[f"{result.rss.get('rss_mb', 0):.0f} MB at {result.rss['file_rows']:,} rows"],
            )
        )
    return rows


def run_measure(server_url: str, rows: int, seed: int = 11) -> list[Row]:
    """The import measure for ``benchmarks.run``: ``rows`` rows over ``rows`` existing people."""
    args = parse(["--url", server_url, "--rows", str(rows), "--existing", str(rows)])
    args.seed = seed
    result = measure(args)
    print(table(result), flush=True)
    return report_rows(result)


def main(argv: list[str] | None = None) -> int:
    """Run the measure (or, with ``--child``, only the pipeline) and print the table."""
    args = parse(argv)
    if args.child:
        report = run_pipeline(args.url, args.child, args.rows)
        print(json.dumps(report), flush=True)
        return 1 if "error" in report else 0
    result = measure(args)
    print()
    print(table(result))
    failed = result.total is None or (result.rss is not None and "error" in result.rss)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
