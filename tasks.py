#!/usr/bin/env python3
"""Set up and run the project with nothing but Python 3.11+ and pip.

    python3 tasks.py quickstart [ARGS...]   run examples/quickstart.py
    python3 tasks.py test [PYTEST ARGS...]  run every check and the whole test suite
    python3 tasks.py bench [ARGS...]        measure the core paths against raw psycopg
                                            (--people N, --url URL, --only NAME,...,
                                            --reuse; see benchmarks/README.md)
    python3 tasks.py build                  build the sdist and the wheel into dist/
    python3 tasks.py publish --repository-url URL [TWINE ARGS...]
                                            upload dist/ to a package index with twine
                                            (see docs/publishing.rst)

Each command first makes ``.venv`` (once) and installs the pinned development
environment from ``requirements/dev.lock`` (again only when the lock changes).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
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
    """Run the main example."""
    return _run([str(PY), str(ROOT / "examples" / "quickstart.py"), *args])


def test(args: list[str]) -> int:
    """Run the linters, the type checker, the architecture contract, pytest and the docs."""
    checks: list[tuple[str, list[str]]] = [
        ("ruff check", [str(BIN / "ruff"), "check", "."]),
        ("ruff format", [str(BIN / "ruff"), "format", "--check", "."]),
        ("mypy --strict", [str(PY), "-m", "mypy", "--strict", "src"]),
        ("import-linter", [str(BIN / "lint-imports")]),
        ("pytest", [str(PY), "-m", "pytest", *args]),
        (
            "sphinx -W",
            [
                str(PY),
                "-m",
                "sphinx",
                "-W",
                "--keep-going",
                "-q",
                "-b",
                "html",
                "docs",
                "docs/_build/html",
            ],
        ),
    ]
    results: list[tuple[str, int, float]] = []
    for name, cmd in checks:
        started = time.monotonic()
        code = _run(cmd)
        results.append((name, code, time.monotonic() - started))
    print("\nsummary:")
    for name, code, seconds in results:
        # pytest exits 5 when it collected no test: that is a failure here too.
        verdict = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"  {name:<16} {verdict:<18} {seconds:6.1f}s")
    failed = [name for name, code, _ in results if code != 0]
    if failed:
        print("failed: " + ", ".join(failed))
        return 1
    print("all checks passed")
    return 0


def bench(args: list[str]) -> int:
    """Run the benchmarks (benchmarks/run.py) and write docs/performance.rst from a full run."""
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
    ensure_env()
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
