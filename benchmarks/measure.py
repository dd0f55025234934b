"""Timing: interleaved library/raw repetitions, percentiles, and one result row per measure.

Only ratios are claims: the library call and its raw psycopg equivalent run
alternately, call by call (which one goes first alternates too), so both see
the same caches, the same autovacuum and the same noisy neighbours.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["latency", "rate", "ratio", "info"]
Verdict = Literal["PASS", "FAIL", "ERROR", "-"]


@dataclass(frozen=True)
class Budget:
    """How many repetitions a measure makes: ``reps``, unless ``seconds`` run out first.

    At least ``min_reps`` are always made, so a very slow path still yields a
    p50 and a (coarse) p99; the row reports how many were made.
    """

    reps: int = 200
    seconds: float = 60.0
    min_reps: int = 20
    warmup: int = 3


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of ``values``."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def timed(call: Callable[[int], object], i: int) -> float:
    """Seconds ``call(i)`` takes."""
    started = time.perf_counter()
    call(i)
    return time.perf_counter() - started


def interleaved(
    library: Callable[[int], object],
    raw: Callable[[int], object] | None,
    budget: Budget,
) -> tuple[list[float], list[float]]:
    """Time ``library(i)`` and ``raw(i)`` alternately; return both lists of seconds.

    Repetition ``i`` calls both with the same ``i`` (so both read the same row);
    even repetitions call the library first, odd ones the raw query first.
    """
    for i in range(budget.warmup):
        library(-1 - i)
        if raw is not None:
            raw(-1 - i)
    lib_times: list[float] = []
    raw_times: list[float] = []
    started = time.monotonic()
    for i in range(budget.reps):
        if i >= budget.min_reps and time.monotonic() - started > budget.seconds:
            break
        if raw is None:
            lib_times.append(timed(library, i))
        elif i % 2 == 0:
            lib_times.append(timed(library, i))
            raw_times.append(timed(raw, i))
        else:
            raw_times.append(timed(raw, i))
            lib_times.append(timed(library, i))
    return lib_times, raw_times


@dataclass
class Row:
    """One line of the results table."""

    name: str
    kind: Kind
    target: str = ""
    n: int = 0
    lib_p50: float | None = None  # seconds
    lib_p99: float | None = None
    raw_p50: float | None = None
    raw_p99: float | None = None
    lib_rate: float | None = None  # per second
    raw_rate: float | None = None
    ratio: float | None = None
    verdict: Verdict = "-"
    notes: list[str] = field(default_factory=list)

    @classmethod
    def error(cls, name: str, exc: BaseException) -> Row:
        """A row for a measure that raised."""
        text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return cls(name, "info", verdict="ERROR", notes=[text])


def latency_row(
    name: str, lib: list[float], raw: list[float], *, max_ratio: float | None, note: str = ""
) -> Row:
    """A page or lookup: PASS when the library's p99 is within ``max_ratio`` x the raw p50.

    With ``max_ratio=None`` the row only informs: the ratio is shown, nothing is judged.
    """
    row = Row(
        name,
        "latency",
        target="information" if max_ratio is None else f"p99 <= {max_ratio:g}x raw p50",
        n=len(lib),
        lib_p50=percentile(lib, 50),
        lib_p99=percentile(lib, 99),
        raw_p50=percentile(raw, 50),
        raw_p99=percentile(raw, 99),
    )
    assert row.lib_p99 is not None
    assert row.raw_p50 is not None
    row.ratio = row.lib_p99 / row.raw_p50
    if max_ratio is not None:
        row.verdict = "PASS" if row.ratio <= max_ratio else "FAIL"
    if note:
        row.notes.append(note)
    return row


def absolute_row(name: str, lib: list[float], *, max_p99: float) -> Row:
    """A measure without a baseline: PASS when the p99 is at most ``max_p99`` seconds."""
    row = Row(
        name,
        "latency",
        target=f"p99 <= {max_p99 * 1000:g} ms",
        n=len(lib),
        lib_p50=percentile(lib, 50),
        lib_p99=percentile(lib, 99),
    )
    assert row.lib_p99 is not None
    row.verdict = "PASS" if row.lib_p99 <= max_p99 else "FAIL"
    return row


def rate_row(
    name: str,
    lib_count: int,
    lib_seconds: float,
    raw_count: int,
    raw_seconds: float,
    *,
    min_ratio: float,
    min_rate: float | None = None,
) -> Row:
    """A throughput: PASS when the library's rate is ``min_ratio`` x raw (and ``min_rate``/s)."""
    lib_rate = lib_count / lib_seconds if lib_seconds else math.nan
    raw_rate = raw_count / raw_seconds if raw_seconds else math.nan
    ratio = lib_rate / raw_rate
    target = f">= {min_ratio:g}x raw"
    ok = ratio >= min_ratio
    if min_rate is not None:
        target = f">= {min_rate:,.0f}/s and {target}"
        ok = ok and lib_rate >= min_rate
    return Row(
        name,
        "rate",
        target=target,
        n=lib_count,
        lib_rate=lib_rate,
        raw_rate=raw_rate,
        ratio=ratio,
        verdict="PASS" if ok else "FAIL",
    )
