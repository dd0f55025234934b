"""The HTTP API under load: requests per second and p99 over HTTP against the same calls in-process.

    python -m benchmarks.http_load [--people N] [--seconds S] [--reuse]
    python3 tasks.py bench http --people 100000 --seconds 30

In one run: a database of N people (default 100,000) with their client graph
(``client_graph_data``: 10 N interactions, leads, deals, QD, artifacts) is
created with COPY (or reused), and ``create_app(Velocity.from_url(...))`` is
served by uvicorn on 127.0.0.1 (a free port, default settings, one worker) in
a process of its own (``benchmarks.http_server``), so the load never shares
the server's interpreter.
Then, for each measure, ``--clients`` (16) concurrent clients call the API
for half of ``--seconds`` after a warm-up, and as many threads make the same
calls through the services in this process for as long:

- ``contacts``: ``GET /api/crm/contacts?limit=50`` and the pages after it,
  following ``Link: rel="next"`` (pages 1 to ``--pages`` in rotation), as the
  admin; in-process ``velocity.contacts.list(admin, limit=50, cursor=...)``;
- ``client360``: ``GET /api/crm/client-360/{client_id}`` of random clients,
  as the admin; in-process ``velocity.client_graph.client_360(admin, id)``
  (skipped, saying so, while the server's OpenAPI document has no such path).

The table gives each side's requests per second, p50 and p99, the ratios
(HTTP p99 over in-process p99; in-process rate over HTTP rate) and the
failed requests: a row FAILs when any request answered other than 2xx or
any call raised. The ratios are information, not targets.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import importlib.util
import itertools
import math
import os
import random
import re
import secrets
import select
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg

import velocity_domain
from benchmarks import client_graph, datagen, report
from benchmarks import client_graph_data as data
from benchmarks.measure import percentile
from benchmarks.run import DEFAULT_URL
from velocity_domain import Velocity
from velocity_domain.access.principal import Principal

DEFAULT_DB = "velocity_bench_http"
MEASURES = ("contacts", "client360")
PAGE = 50
CONTACTS_PATH = "/api/crm/contacts"
#: The client 360 route as its family declares it; any name of the path parameter is accepted.
CLIENT_360_PATH = re.compile(r"^/api/crm/client-360/\{[A-Za-z_]+\}$")
CLIENT_SAMPLE = 1000
ROOT = Path(__file__).resolve().parent.parent
#: Seconds the server process has to start (import, connect, bind) and to stop.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.http_load",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--people", type=int, default=100_000, help="people (interactions: 10x)")
    parser.add_argument("--url", default=DEFAULT_URL, help="the server to create the database on")
    parser.add_argument("--db", default=DEFAULT_DB, help="the benchmark database's name")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database if it holds the requested size"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=30.0,
        help="seconds of HTTP load, split evenly between the measures (in-process: as long)",
    )
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="untimed seconds before each measure's load"
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (and threads)")
    parser.add_argument("--pages", type=int, default=20, help="contact list pages in rotation")
    parser.add_argument("--only", help=f"comma-separated measures among: {', '.join(MEASURES)}")
    parser.add_argument("--seed", type=int, default=16, help="the data generator's seed")
    args = parser.parse_args(argv)
    chosen = MEASURES if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(chosen) - set(MEASURES))
    if unknown:
        parser.error(f"unknown measures {', '.join(unknown)}; choose among {', '.join(MEASURES)}")
    if args.people < 1000:
        parser.error("--people must be at least 1000")
    if args.seconds <= 0 or args.warmup < 0:
        parser.error("--seconds must be positive and --warmup not negative")
    if args.clients < 1 or args.pages < 1:
        parser.error("--clients and --pages must be at least 1")
    args.chosen = [n for n in MEASURES if n in chosen]
    return args


# --- the server, in a process of its own ------------------------------------------------------


@contextmanager
def server_process(url: str, cursor_key: str) -> Iterator[tuple[str, int]]:
    """Run ``benchmarks.http_server`` over ``url`` in a new process; yield its base URL and pid.

    The process imports this checkout's ``benchmarks`` and ``velocity_domain``
    (whatever the caller's path), gets the cursor key through its environment
    and is stopped with SIGTERM (then killed, if it lingers).
    """
    path = [str(ROOT), str(Path(velocity_domain.__file__).resolve().parents[1])]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    env = {**os.environ, "VELOCITY_CURSOR_KEY": cursor_key, "PYTHONPATH": os.pathsep.join(path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.http_server", url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not select.select([process.stdout], [], [], 0.1)[0]:
            if process.poll() is not None:
                raise RuntimeError(f"the server process ended (exit {process.returncode})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start within {START_TIMEOUT:.0f}s")
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user and system, every thread) process ``pid`` has used; None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_description() -> str:
    """What serves the app: uvicorn's version and the HTTP parser and loop its defaults pick."""
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    versions = {n: importlib.metadata.version(n) for n in ("uvicorn", "litestar", "httpx")}
    return (
        f"uvicorn {versions['uvicorn']} (defaults: {parser}, {loop} loop, one worker) serving"
        f" Litestar {versions['litestar']} in its own process; clients: httpx"
        f" {versions['httpx']} AsyncClient, one keep-alive connection and one admin session"
        " each, all in this process; both sides use Velocity.from_url's default pool"
    )


# --- timing -----------------------------------------------------------------------------------


@dataclass
class Tally:
    """The requests of one side of one measure: each one's start, end and whether it succeeded.

    Latencies are those of the requests started in the measured window. The
    rate counts the requests completed from the window's start until the last
    request ended (no request starts after the window), over that time.
    """

    window: tuple[float, float]
    calls: list[tuple[float, float, bool]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def latencies(self) -> list[float]:
        """Seconds of every request started in the window."""
        start, end = self.window
        return [ended - began for began, ended, _ in self.calls if start <= began < end]

    @property
    def rate(self) -> float:
        """Requests completed from the window's start on, per second until the last one ended."""
        start = self.window[0]
        ends = [ended for _, ended, _ in self.calls if ended >= start]
        return len(ends) / (max(ends) - start) if ends else 0.0

    @property
    def errors(self) -> int:
        """Failed requests, warm-up included."""
        return sum(not ok for _, _, ok in self.calls)

    def p(self, q: float) -> float:
        """Percentile ``q`` of the latencies, in seconds."""
        return percentile(self.latencies, q)


def _window(warmup: float, seconds: float) -> tuple[float, float]:
    start = time.perf_counter() + warmup
    return start, start + seconds


def threaded_load(
    call: Callable[[int], object], *, threads: int, warmup: float, seconds: float
) -> Tally:
    """``threads`` threads calling ``call(i)`` (``i`` counts across them) until the window ends."""
    turn = itertools.count()
    tally = Tally(_window(warmup, seconds))
    end = tally.window[1]

    def work(calls: list[tuple[float, float, bool]]) -> None:
        while (began := time.perf_counter()) < end:
            try:
                call(next(turn))
                ok = True
            except Exception as exc:  # a failed call is counted and shown, not fatal
                ok = False
                if len(tally.failures) < 5:
                    tally.failures.append(f"{type(exc).__name__}: {exc}"[:300])
            calls.append((began, time.perf_counter(), ok))

    per_thread: list[list[tuple[float, float, bool]]] = [[] for _ in range(threads)]
    workers = [threading.Thread(target=work, args=(calls,)) for calls in per_thread]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    tally.calls = [c for calls in per_thread for c in calls]
    return tally


async def _http_load(
    base_url: str, tokens: Sequence[str], paths: Sequence[str], warmup: float, seconds: float
) -> Tally:
    turn = itertools.count()
    tally = Tally(_window(warmup, seconds))
    end = tally.window[1]

    async def client(token: str, calls: list[tuple[float, float, bool]]) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
            while (began := time.perf_counter()) < end:
                path = paths[next(turn) % len(paths)]
                try:
                    response = await http.get(path)
                    ok = response.is_success
                    why = f"{response.status_code} {path}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, why = False, f"{type(exc).__name__} {path}: {exc}"
                calls.append((began, time.perf_counter(), ok))
                if not ok and len(tally.failures) < 5:
                    tally.failures.append(why[:300])

    per_client: list[list[tuple[float, float, bool]]] = [[] for _ in tokens]
    await asyncio.gather(*(client(t, c) for t, c in zip(tokens, per_client, strict=True)))
    tally.calls = [c for calls in per_client for c in calls]
    return tally


def http_load(
    base_url: str, tokens: Sequence[str], paths: Sequence[str], *, warmup: float, seconds: float
) -> tuple[Tally, float]:
    """One client per token, each GETting ``paths`` in turn; also this process's CPU seconds."""
    cpu = time.process_time()
    tally = asyncio.run(_http_load(base_url, tokens, paths, warmup, seconds))
    return tally, time.process_time() - cpu


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Result:
    """One line of the table: a measure over HTTP and in-process, or why it has no figures."""

    name: str
    http: Tally | None = None
    local: Tally | None = None
    verdict: str = "-"
    notes: list[str] = field(default_factory=list)


@dataclass
class Session:
    """What the measures share: the server, the in-process library and who calls."""

    base_url: str
    server_pid: int
    url: str
    velocity: Velocity
    admin: Principal
    agent: Principal
    tokens: list[str]
    agent_token: str
    paths: frozenset[str]
    args: argparse.Namespace

    def client(self, token: str) -> httpx.Client:
        """A plain client of the server, signed in with ``token`` (for the untimed reads)."""
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60)

    @property
    def seconds(self) -> float:
        """Each measure's share of ``--seconds`` (the same on each side)."""
        return float(self.args.seconds) / len(MEASURES)


def _compare(
    session: Session, name: str, paths: Sequence[str], call: Callable[[int], object]
) -> Result:
    """The same requests over HTTP, then in-process, each for the measure's share of time."""
    args = session.args
    datagen.progress(f"  {name}: HTTP, {args.clients} clients, {session.seconds:g}s")
    server_cpu = cpu_seconds(session.server_pid)
    http, cpu = http_load(
        session.base_url, session.tokens, paths, warmup=args.warmup, seconds=session.seconds
    )
    server_after = cpu_seconds(session.server_pid)
    datagen.progress(f"  {name}: in-process, {args.clients} threads, {session.seconds:g}s")
    local = threaded_load(call, threads=args.clients, warmup=args.warmup, seconds=session.seconds)
    result = Result(name, http, local)
    result.verdict = "PASS" if http.errors == 0 and local.errors == 0 else "FAIL"
    spent = args.warmup + session.seconds
    used = f"the clients' process {cpu:.1f}"
    if server_cpu is not None and server_after is not None:
        used = f"the server process {server_after - server_cpu:.1f}, {used}"
    result.notes.append(f"CPU seconds in the {spent:g}s of HTTP load: {used}")
    result.notes += [f"HTTP failure: {f}" for f in http.failures]
    result.notes += [f"in-process failure: {f}" for f in local.failures]
    return result


def page_ids(body: Any) -> list[str]:
    """The ids of a page as the API returns it (``{"items": [...], "next_cursor": ...}``)."""
    return [str(item["person_id"]) for item in body["items"]]


def contacts(session: Session) -> Result:
    """Contact list pages 1 to ``--pages`` in rotation (the admin), HTTP against in-process."""
    velocity, admin = session.velocity, session.admin
    cursors: list[str | None] = [None]
    local_pages: list[list[str]] = []
    while True:
        page = velocity.contacts.list(admin, limit=PAGE, cursor=cursors[-1])
        local_pages.append([str(p.person_id) for p in page.items])
        if page.next_cursor is None or len(cursors) == session.args.pages:
            break
        cursors.append(page.next_cursor)
    paths = [f"{CONTACTS_PATH}?limit={PAGE}"]
    http_pages: list[list[str]] = []
    with session.client(session.tokens[0]) as http:
        while True:
            response = http.get(paths[-1])
            response.raise_for_status()
            http_pages.append(page_ids(response.json()))
            following = response.links.get("next", {}).get("url")
            if following is None or len(paths) == session.args.pages:
                break
            paths.append(following)
    with session.client(session.agent_token) as http:
        agent_response = http.get(paths[0])
        agent_response.raise_for_status()
    agent_local = velocity.contacts.list(session.agent, limit=PAGE)
    same_agent = page_ids(agent_response.json()) == [str(p.person_id) for p in agent_local.items]

    def call(i: int) -> object:
        return velocity.contacts.list(admin, limit=PAGE, cursor=cursors[i % len(cursors)])

    result = _compare(session, f"contacts, pages 1-{len(paths)} of {PAGE} (admin)", paths, call)
    same = http_pages == local_pages
    result.notes.insert(
        0,
        f"checked first: HTTP and in-process pages 1-{len(paths)} (admin)"
        f" {'list the same people in the same order' if same else 'DIFFER'}; a sales agent's"
        f" first page {'is the same' if same_agent else 'DIFFERS'} over HTTP and in-process",
    )
    return result


def client_sample(url: str, seed: int) -> list[UUID]:
    """Random clients (the same ones for a seed and a database)."""
    with psycopg.connect(datagen.conninfo(url)) as conn:
        every = [r[0] for r in conn.execute("SELECT person_id FROM crm_people ORDER BY person_id")]
    return random.Random(seed).sample(every, min(CLIENT_SAMPLE, len(every)))


def client_360(session: Session) -> Result:
    """Client 360 of random clients (the admin), HTTP against in-process."""
    name = "client 360, random clients (admin)"
    route = next((p for p in sorted(session.paths) if CLIENT_360_PATH.match(p)), None)
    if route is None:
        datagen.progress("  the server has no client 360 route: that measure is skipped")
        skipped = Result(name, verdict="skipped")
        skipped.notes.append(
            "skipped: the server's OpenAPI document has no path /api/crm/client-360/{client_id}"
        )
        return skipped
    clients = client_sample(session.url, session.args.seed)
    paths = [re.sub(r"\{[^}]+\}", str(c), route) for c in clients]
    with session.client(session.tokens[0]) as http:
        response = http.get(paths[0])
        response.raise_for_status()
    velocity, admin = session.velocity, session.admin
    assert velocity.client_graph.client_360(admin, clients[0]).person.key == clients[0]
    assert str(clients[0]) in response.text, "the HTTP client 360 names another client"

    def call(i: int) -> object:
        return velocity.client_graph.client_360(admin, clients[i % len(clients)])

    return _compare(session, name, paths, call)


MEASURE_CALLS: dict[str, Callable[[Session], Result]] = {
    "contacts": contacts,
    "client360": client_360,
}


def guarded(name: str, session: Session) -> Result:
    """Run one measure; one that raises is an ``ERROR`` row (traceback on stderr)."""
    datagen.progress(f"measuring {name}")
    try:
        return MEASURE_CALLS[name](session)
    except Exception as exc:  # a broken path is a row of the table, not the end of the run
        traceback.print_exc()
        failed = Result(name, verdict="ERROR")
        failed.notes.append(f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
        return failed


@contextmanager
def session(args: argparse.Namespace, prepared: client_graph.Prepared) -> Iterator[Session]:
    """The server over the prepared database, the library in-process, and signed-in clients."""
    key = secrets.token_hex(32)  # the same on both sides, so a cursor means the same there
    with (
        Velocity.from_url(prepared.url, cursor_key=key) as velocity,
        server_process(prepared.url, key) as (base_url, server_pid),
    ):
        admin, _, agents = datagen.principals(velocity, prepared.staff)
        tokens = [
            velocity.sessions.issue(admin, prepared.staff.admin_id).token
            for _ in range(args.clients)
        ]
        agent_token = velocity.sessions.issue(admin, prepared.staff.agent_ids[0]).token
        document = httpx.get(f"{base_url}/openapi.json", timeout=60).raise_for_status().json()
        yield Session(
            base_url,
            server_pid,
            prepared.url,
            velocity,
            admin,
            agents[0],
            tokens,
            agent_token,
            frozenset(document.get("paths", {})),
            args,
        )


# --- the table --------------------------------------------------------------------------------

HEADERS = (
    "measure",
    "n HTTP",
    "HTTP req/s",
    "HTTP p50 / p99",
    "n in-process",
    "in-process req/s",
    "in-process p50 / p99",
    "p99 ratio",
    "rate ratio",
    "errors",
    "result",
)
LEGEND = (
    "p99 ratio: the HTTP p99 over the in-process p99; rate ratio: the in-process requests per"
    " second over the HTTP ones. Both are information (no target); a row FAILs when a request"
    " answered other than 2xx or a call raised (errors: HTTP + in-process, warm-up included)."
)


def _ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    ms = seconds * 1000
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def cells(result: Result) -> tuple[str, ...]:
    """The table cells of one result."""
    http, local = result.http, result.local
    if http is None or local is None:
        return (result.name, *("-",) * (len(HEADERS) - 2), result.verdict)
    return (
        result.name,
        f"{len(http.latencies):,}",
        f"{http.rate:,.0f}/s",
        f"{_ms(http.p(50))} / {_ms(http.p(99))} ms",
        f"{len(local.latencies):,}",
        f"{local.rate:,.0f}/s",
        f"{_ms(local.p(50))} / {_ms(local.p(99))} ms",
        f"{http.p(99) / local.p(99):.2f}x",
        f"{local.rate / http.rate:.2f}x" if http.rate else "-",
        f"{http.errors} + {local.errors}",
        result.verdict,
    )


def text_table(results: Sequence[Result]) -> str:
    """The table for the terminal, its legend and its notes."""
    notes: list[str] = []
    table: list[tuple[str, ...]] = []
    for result in results:
        row = list(cells(result))
        marks = []
        for note in result.notes:
            if note not in notes:
                notes.append(note)
            marks.append(f"[{notes.index(note) + 1}]")
        if marks:
            row[0] = f"{row[0]} {' '.join(marks)}"
        table.append(tuple(row))
    widths = [max(len(r[i]) for r in [HEADERS, *table]) for i in range(len(HEADERS))]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [line(HEADERS), rule, *(line(r) for r in table), rule, LEGEND]
    out += [f"[{n}] {note}" for n, note in enumerate(notes, 1)]
    return "\n".join(out)


def _load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    """Prepare the database, serve it, load it over HTTP and in-process; print the table."""
    args = parse(argv)
    shape = data.Shape.for_people(args.people)
    prepared = client_graph.prepare(args, shape)
    before = _load_average()
    with (
        session(args, prepared) as run,
        psycopg.connect(datagen.conninfo(prepared.url)) as conn,
    ):
        version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        results = [guarded(name, run) for name in args.chosen]
    print()
    print("\n".join(report.machine(version).lines()))
    print(f"Load average before the load (1, 5, 15 min): {before}")
    print(f"Data: {shape.describe()}")
    print("\n".join(prepared.lines))
    print(f"Server: {server_description()}")
    print(
        f"Load: {args.clients} concurrent clients (in-process: {args.clients} threads),"
        f" {args.warmup:g}s warm-up then {args.seconds / len(MEASURES):g}s per measure and side"
    )
    print()
    print(text_table(results))
    return 0 if all(r.verdict in ("PASS", "skipped") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
