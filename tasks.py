#!/usr/bin/env python3
"""Set up and run the project with nothing but Python 3.11+ and pip.

    python3 tasks.py quickstart [ARGS...]   run examples/quickstart.py
    python3 tasks.py test [PYTEST ARGS...]  run every check and the whole test suite
                                            (about 3 minutes on 2 cores; what CI runs)
    python3 tasks.py test --quick [ARGS...] ruff, mypy, import-linter and the tests that
                                            need no PostgreSQL (about a minute)
    python3 tasks.py bench [ARGS...]        measure the core paths against raw psycopg
                                            (--people N, --url URL, --only NAME,...,
                                            --reuse; see benchmarks/README.md)
    python3 tasks.py bench client-graph [ARGS...]
                                            the client graph benchmark: client 360, the
                                            summary list, QD and artifacts at 1,000,000
                                            people and 10,000,000 interactions
                                            (--people N, --reuse, --only NAME,...)
    python3 tasks.py bench http [ARGS...]   the HTTP load benchmark: 16 clients against the
                                            API under uvicorn, and the same calls made
                                            in-process, at 100,000 people (--people N,
                                            --seconds S, --reuse)
    python3 tasks.py build                  build the sdist and the wheel into dist/
    python3 tasks.py publish --repository-url URL [TWINE ARGS...]
                                            upload dist/ to a package index with twine
                                            (see docs/publishing.rst)

Each command but ``quickstart`` first makes ``.venv`` (once) and installs the
pinned development environment from ``requirements/dev.lock`` (again only when
the lock changes); ``quickstart`` makes ``.venv-quickstart`` with only the
runtime dependencies (``requirements/runtime.lock``, or ``postgres.lock`` with
``--url``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements" / "dev.lock"
STAMP = VENV / ".velocity-lock-sha256"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def _lock_digest() -> str:
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    return hashlib.sha256(LOCK.read_bytes() + pyproject).hexdigest()


def _run(cmd: list[str], **kwargs: object) -> int:
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT, **kwargs)  # type: ignore[call-overload]


def ensure_env() -> None:
    """Create the virtual environment and install the lock file when needed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be run by an older python3
        sys.exit(f"velocity_domain needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    digest = _lock_digest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    pip = [str(PY), "-m", "pip", "--disable-pip-version-check"]
    steps = [
        [*pip, "install", "--quiet", "--require-hashes", "-r", str(LOCK)],
        [*pip, "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", str(ROOT)],
    ]
    for step in steps:
        if _run(step) != 0:
            sys.exit("installing the development environment failed (see above)")
    STAMP.write_text(digest + "\n")


def quickstart(args: list[str]) -> int:
    """Run the main example in ``.venv-quickstart``, which holds only what it needs.

    That is the runtime dependencies (``requirements/runtime.lock``), and with
    ``--url`` the ``postgres`` extra's too (``requirements/postgres.lock``);
    the example imports the package from ``src/``, so nothing is built.
    """
    folder = ROOT / ".venv-quickstart"
    wants_postgres = any(a == "--url" or a.startswith("--url=") for a in args)
    python = folder / PY.relative_to(VENV)
    lock = ROOT / "requirements" / ("postgres.lock" if wants_postgres else "runtime.lock")
    if not python.exists():
        print(f"creating virtual environment in {folder}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    stamp = folder / f".velocity-{lock.stem}-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text().strip() != digest:
        pip = [str(python), "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
        if _run([*pip, "--require-hashes", "-r", str(lock)]) != 0:
            sys.exit(f"installing {lock.name} for the quickstart failed (see above)")
        stamp.write_text(digest + "\n")
    path = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    return _run([str(python), str(ROOT / "examples" / "quickstart.py"), *args], env=env)


def _report(results: list[tuple[str, int, float]], started: float) -> int:
    print("\nsummary:")
    for name, code, seconds in results:
        # pytest exits 5 when it collected no test: that is a failure here too.
        verdict = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"  {name:<16} {verdict:<18} {seconds:6.1f}s")
    print(f"  {'total':<16} {'':<18} {time.monotonic() - started:6.1f}s")
    failed = [name for name, code, _ in results if code != 0]
    if failed:
        print("failed: " + ", ".join(failed))
        return 1
    print("all checks passed")
    return 0


def test(args: list[str]) -> int:
    """Run the linters, the type checker, the architecture contract, pytest and the docs.

    The full run (what CI runs) takes about 3 minutes on a 2-core machine:
    pytest runs on two workers (pytest-xdist) while mypy and Sphinx run
    beside it, their output shown when they finish. ``--quick`` (about a
    minute) runs the linters, mypy and the tests that need no PostgreSQL;
    run the full suite before you push.
    """
    quick = "--quick" in args
    pytest_args = [a for a in args if a != "--quick"]
    started = time.monotonic()
    fast: list[tuple[str, list[str]]] = [
        ("ruff check", [str(BIN / "ruff"), "check", "."]),
        ("ruff format", [str(BIN / "ruff"), "format", "--check", "."]),
        ("import-linter", [str(BIN / "lint-imports")]),
    ]
    beside: list[tuple[str, list[str]]] = [
        ("mypy --strict", [str(PY), "-m", "mypy", "--strict", "src"]),
    ]
    if not quick:
        sphinx = [str(PY), "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
        beside.append(("sphinx -W", [*sphinx, "docs", "docs/_build/html"]))
    workers = ["-n", "2"] if not any(a.startswith(("-n", "--numprocesses")) for a in args) else []
    selection = ["-m", "not postgres"] if quick else []
    pytest_cmd = [str(PY), "-m", "pytest", *workers, *selection, *pytest_args]
    what = "the tests that need no PostgreSQL" if quick else "every test"
    total = len(fast) + len(beside) + 1
    results: list[tuple[str, int, float]] = []
    for step, (name, cmd) in enumerate(fast, start=1):
        print(f"[{step}/{total}] {name}", flush=True)
        begun = time.monotonic()
        code = _run(cmd)
        results.append((name, code, time.monotonic() - begun))
    with tempfile.TemporaryDirectory(prefix="velocity-checks-") as folder:
        running: list[tuple[str, subprocess.Popen[bytes], Path, float, threading.Thread]] = []
        ended: dict[str, float] = {}

        def note_end(name: str, process: subprocess.Popen[bytes]) -> None:
            process.wait()
            ended[name] = time.monotonic()

        for step, (name, cmd) in enumerate(beside, start=len(fast) + 1):
            log = Path(folder) / f"{step}.log"
            print(
                f"[{step}/{total}] {name}: started beside pytest, output when it ends", flush=True
            )
            with log.open("wb") as sink:
                process = subprocess.Popen(cmd, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
            # A thread notes when it ends, so the summary shows its own time, not pytest's.
            watcher = threading.Thread(target=note_end, args=(name, process))
            watcher.start()
            running.append((name, process, log, time.monotonic(), watcher))
        print(f"[{total}/{total}] pytest: {what}; progress in % on the right", flush=True)
        begun = time.monotonic()
        code = _run(pytest_cmd)
        results.append(("pytest", code, time.monotonic() - begun))
        for name, process, log, begun, watcher in running:
            watcher.join()
            code = process.wait()
            output = log.read_text(errors="replace").strip()
            print(f"\n--- {name} ({'ok' if code == 0 else f'exit {code}'})")
            if output:
                print(output)
            results.append((name, code, ended[name] - begun))
    return _report(results, started)


def bench(args: list[str]) -> int:
    """Run the benchmarks (benchmarks/run.py) and write docs/performance.rst from a full run.

    ``bench client-graph ARGS`` runs the client graph benchmark
    (benchmarks/client_graph.py) instead, and ``bench http ARGS`` the HTTP load
    benchmark (benchmarks/http_load.py); each prints its own table.
    """
    if args[:1] == ["client-graph"]:
        return _run([str(PY), "-m", "benchmarks.client_graph", *args[1:]])
    if args[:1] == ["http"]:
        return _run([str(PY), "-m", "benchmarks.http_load", *args[1:]])
    return _run([str(PY), "-m", "benchmarks.run", "--write-docs", *args])


DIST = ROOT / "dist"


def build_command(python: str, out_dir: Path) -> list[str]:
    """Return the command that builds the sdist and the wheel of this checkout into ``out_dir``.

    Run it from the repository root. It uses the pinned hatchling of the development
    environment (no build
    isolation, so a build needs no network); the release test runs the same command.
    """
    return [python, "-m", "hatchling", "build", "-t", "sdist", "-t", "wheel", "-d", str(out_dir)]


def build(args: list[str]) -> int:
    """Build the sdist and the wheel into ``dist/`` (emptied first), for ``publish``."""
    if args:
        print("build takes no arguments")
        return 2
    if DIST.exists():
        for old in DIST.iterdir():
            old.unlink()
    code = _run(build_command(str(PY), DIST))
    if code == 0:
        for made in sorted(DIST.iterdir()):
            print(f"built {made.relative_to(ROOT)}")
    return code


def publish(args: list[str]) -> int:
    """Upload what ``build`` left in ``dist/`` to the index given by ``--repository-url``."""
    if "--repository-url" not in args and not any(a.startswith("--repository-url=") for a in args):
        print("publish needs --repository-url URL (the upload URL of your private index)")
        return 2
    made = sorted(str(p) for p in DIST.glob("velocity_domain-*")) if DIST.exists() else []
    if not made:
        print("dist/ is empty: run python3 tasks.py build first")
        return 2
    return _run([str(PY), "-m", "twine", "upload", "--non-interactive", *args, *made])


def main(argv: list[str]) -> int:
    """Dispatch ``quickstart``, ``test``, ``bench``, ``build`` or ``publish``."""
    commands = {
        "quickstart": quickstart,
        "test": test,
        "bench": bench,
        "build": build,
        "publish": publish,
    }
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    if argv[0] != "quickstart":  # the quickstart makes its own, smaller environment
        ensure_env()
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
