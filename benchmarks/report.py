"""The results table, as text for the terminal and as reStructuredText for docs/performance.rst."""

from __future__ import annotations

import math
import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.measure import Row

ROOT = Path(__file__).resolve().parent.parent
DOCS_PAGE = ROOT / "docs" / "performance.rst"
HEADERS = ("measure", "n", "library", "raw psycopg", "ratio", "target", "result")

HOW_TO_RUN = """\
``python3 tasks.py bench`` creates a database ``velocity_bench`` on the server at
``--url`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``; the user needs
``CREATEDB``), migrates it with the library's own migrations, creates an admin,
an operator and five sales agents through ``velocity.users``, and streams
1,000,000 people, 300,000 leads, 100,000 opportunities and 5,000,000
interactions into it with COPY (a few minutes). ``--people N`` scales every
table; ``--reuse`` keeps a database that already holds the requested size
(checked by row counts); ``--only list,search,...`` runs some measures (``list``,
``deep``, ``assigned``, ``agent``, ``search``, ``get``, ``timeline``, ``create``,
``writeback``, ``memory``, ``startup``, ``import``). Each measure calls the library and the
raw psycopg 3 query that does the same work alternately, call by call, in the
same run, so only the ratios are claims; absolute times depend on the machine.
The raw search baseline may use ``pg_trgm`` GIN indexes, which the benchmark
builds in its own database for that measure only (and drops after it). The
``import`` measure imports a HubSpot-like CSV file (``--import-rows``, default
100,000, against as many people) through ``velocity.imports`` and compares its
rows per second with a plain COPY of the same rows and with ``contacts.create``
per row, in a database of its own. The run rewrites this page;
``benchmarks/README.md`` describes every measure."""


@dataclass(frozen=True)
class Machine:
    """Where and when the figures were taken."""

    date: str
    cpu: str
    cores: int
    postgres: str
    python: str
    system: str
    library: str
    load: str

    def lines(self) -> list[str]:
        """The description, one item a line."""
        return [
            f"Date: {self.date}",
            f"Machine: {self.cpu}, {self.cores} cores; {self.system}",
            f"PostgreSQL {self.postgres}; Python {self.python}",
            f"Library: {self.library}",
            f"Load average when the table was printed (1, 5, 15 min): {self.load}",
        ]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _library_revision() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(  # noqa: PLW1510 - a missing git is reported as unknown
            ["git", *args], cwd=ROOT, capture_output=True, text=True
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    dirty = git("status", "--porcelain", "--", "src")
    return f"velocity_domain at {commit}" + (" with uncommitted changes in src/" if dirty else "")


def machine(postgres_version: str) -> Machine:
    """Describe this machine and run."""
    return Machine(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cpu=_cpu_model(),
        cores=os.cpu_count() or 0,
        postgres=postgres_version,
        python=platform.python_version(),
        system=platform.platform(terse=True),
        library=_library_revision(),
        load=", ".join(f"{x:.2f}" for x in os.getloadavg()),
    )


def _ms(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    ms = seconds * 1000
    if ms >= 100:
        return f"{ms:,.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    return f"{ms:.2f}"


def _rate(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.0f}/s"


def cells(row: Row) -> tuple[str, ...]:
    """The table cells of one row."""
    timed = row.lib_p50 is not None or row.raw_p50 is not None
    if row.kind == "latency" or (row.kind == "info" and timed):
        lib = "-" if row.lib_p50 is None else f"p50 {_ms(row.lib_p50)} / p99 {_ms(row.lib_p99)} ms"
        raw = "-" if row.raw_p50 is None else f"p50 {_ms(row.raw_p50)} / p99 {_ms(row.raw_p99)} ms"
    elif row.kind in ("rate", "ratio"):
        lib, raw = _rate(row.lib_rate), _rate(row.raw_rate)
        if row.kind == "ratio":
            lib, raw = f"{lib} (full)", f"{raw} (empty)"
    else:
        lib = raw = "-"
    ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
    return (row.name, str(row.n or "-"), lib, raw, ratio, row.target or "-", row.verdict)


def _notes(rows: list[Row]) -> tuple[list[tuple[str, ...]], list[str]]:
    """The rows' cells with a [n] mark on every row that has notes, and the notes (once each)."""
    table: list[tuple[str, ...]] = []
    notes: list[str] = []
    for row in rows:
        values = list(cells(row))
        if row.notes:
            marks = []
            for note in row.notes:
                if note not in notes:
                    notes.append(note)
                marks.append(f"[{notes.index(note) + 1}]")
            values[0] = f"{values[0]} {' '.join(marks)}"
        table.append(tuple(values))
    return table, notes


LEGEND = (
    "ratio: for latencies, the library's p99 over the raw query's p50 (the targets' measure);"
    " for rates, the library's rate over the raw rate."
)


def text_table(rows: list[Row]) -> str:
    """The table for the terminal, with its notes."""
    table, notes = _notes(rows)
    widths = [max(len(r[i]) for r in [HEADERS, *table]) for i in range(len(HEADERS))]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(
            v.ljust(w) if i != 1 else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [line(HEADERS), rule, *(line(r) for r in table), rule, LEGEND]
    out += [f"[{n}] {note}" for n, note in enumerate(notes, 1)]
    passed = sum(r.verdict == "PASS" for r in rows)
    judged = sum(r.verdict in ("PASS", "FAIL", "ERROR") for r in rows)
    out.append(f"{passed} of {judged} targets met")
    return "\n".join(out)


def _rst_cell(text: str) -> str:
    return text.replace("*", "\\*").replace("|", "\\|").replace("`", "'") or "-"


def rst_page(rows: list[Row], about: Machine, sizes: str, extra: list[str]) -> str:
    """docs/performance.rst with the results of this run."""
    table, notes = _notes(rows)
    out = [
        ".. This page is written by ``python3 tasks.py bench`` (benchmarks/run.py); edit that.",
        "",
        "Performance",
        "===========",
        "",
        "How every core path of the library compares with raw psycopg 3 doing the same",
        "work on the same PostgreSQL, measured in the same run.",
        "",
        "How to run",
        "----------",
        "",
        HOW_TO_RUN,
        "",
        "Latest figures",
        "--------------",
        "",
        *(f"- {line}" for line in about.lines()),
        f"- Data: {sizes}",
        *(f"- {line}" for line in extra),
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
    ]
    for values in [HEADERS, *table]:
        out.append(f"   * - {_rst_cell(values[0])}")
        out.extend(f"     - {_rst_cell(v)}" for v in values[1:])
    out += ["", LEGEND, ""]
    out += [f"{n}. {_rst_cell(note)}" for n, note in enumerate(notes, 1)]
    return "\n".join(out).rstrip() + "\n"


def write_docs(text: str) -> Path:
    """Write the page; return its path."""
    DOCS_PAGE.write_text(text, encoding="utf-8")
    return DOCS_PAGE
