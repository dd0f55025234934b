"""Find or start a real PostgreSQL for the tests, and hand out isolated databases.

``VELOCITY_TEST_DATABASE_URL`` names a server to use (any database on it; the
user needs CREATEDB). Without it, a private server is started from the
``pgserver`` package in a temporary folder and stopped at the end of the run.
There is no third way: if neither works the run fails, saying how to fix it.

Under pytest-xdist the controller starts that private server once, before the
workers spawn, and hands them its URL in ``VELOCITY_TEST_SHARED_SERVER``; each
worker then makes its own databases on it (their names carry the pid).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from velocity_domain.access.catalogue import seed_rows
from velocity_domain.adapters.postgres.tables import metadata
from velocity_domain.identity.entities import Permission, Role
from velocity_domain.kernel.tableinfo import row_values, table_info

ENV_VAR = "VELOCITY_TEST_DATABASE_URL"
SHARED_VAR = "VELOCITY_TEST_SHARED_SERVER"

# A throwaway server need not survive a crash: no waiting for the disk on commit.
_THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

HOW_TO = (
    f"The PostgreSQL tests need a server. Either set {ENV_VAR} to a server's URL,"
    f" e.g. {ENV_VAR}=postgresql://postgres@127.0.0.1:5432/postgres (the user needs"
    " CREATEDB), or install the dev environment (which brings pgserver) with"
    " `python3 tasks.py test`."
)


class NoServerError(RuntimeError):
    """Raised when no PostgreSQL server could be found or started."""


def as_psycopg_url(url: str | URL) -> URL:
    """Return ``url`` with the SQLAlchemy psycopg 3 driver selected."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "postgresql":
        raise NoServerError(f"{ENV_VAR} must be a postgresql:// URL, got {parsed.drivername}")
    return parsed.set(drivername="postgresql+psycopg")


class PostgresServer:
    """A reachable PostgreSQL server and the means to make throwaway databases on it."""

    def __init__(self, admin_url: URL, description: str, stop: Callable[[], None]) -> None:
        self.admin_url = admin_url
        self.description = description
        self._stop = stop
        self._engine = sa.create_engine(
            admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
        )
        self._created: list[str] = []

    @classmethod
    def obtain(cls) -> PostgresServer:
        """Use the server named by the environment, or start a private one."""
        configured = os.environ.get(ENV_VAR, "").strip()
        shared = os.environ.get(SHARED_VAR, "").strip()
        if shared and not configured:
            url = as_psycopg_url(shared)
            server = cls(url, "the private pgserver started by the pytest-xdist controller", _no_op)
        elif configured:
            url = as_psycopg_url(configured)
            server = cls(url, f"{ENV_VAR} ({url.render_as_string(hide_password=True)})", _no_op)
        else:
            server = cls._start_private()
        server.check()
        return server

    @classmethod
    def _start_private(cls) -> PostgresServer:
        try:
            import pgserver  # noqa: PLC0415 - only needed when no URL is configured
        except ImportError as exc:
            raise NoServerError(f"pgserver is not installed ({exc}). {HOW_TO}") from exc
        folder = Path(tempfile.mkdtemp(prefix="velocity-pg-"))
        try:
            handle: Any = pgserver.get_server(folder, cleanup_mode="stop")
        except Exception as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise NoServerError(f"could not start a private PostgreSQL ({exc}). {HOW_TO}") from exc

        def stop() -> None:
            handle.cleanup()
            shutil.rmtree(folder, ignore_errors=True)

        url = as_psycopg_url(handle.get_uri())
        server = cls(url, f"private pgserver in {folder}", stop)
        with server._engine.connect() as conn:
            for name, value in _THROWAWAY_SETTINGS.items():
                conn.execute(sa.text(f"ALTER SYSTEM SET {name} = {value}"))
            conn.execute(sa.text("SELECT pg_reload_conf()"))
        return server

    def check(self) -> None:
        """Connect once, failing with instructions if the server does not answer."""
        try:
            with self._engine.connect() as conn:
                self.version = str(conn.execute(sa.text("show server_version")).scalar_one())
        except sa.exc.OperationalError as exc:
            raise NoServerError(f"cannot connect to {self.description}: {exc}. {HOW_TO}") from exc

    def url_for(self, database: str) -> URL:
        """Return the URL of ``database`` on this server."""
        return self.admin_url.set(database=database)

    def create_database(self, prefix: str, template: str | None = None) -> str:
        """Create a fresh database (optionally cloned from ``template``) and return its name."""
        name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
        clause = f" TEMPLATE {template}" if template else ""
        with self._engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}{clause}"))
            # A throwaway database need not wait for the disk on each commit.
            conn.execute(sa.text(f"ALTER DATABASE {name} SET synchronous_commit = off"))
        self._created.append(name)
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting anyone still attached to it."""
        with self._engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        if name in self._created:
            self._created.remove(name)

    def close(self) -> None:
        """Drop every database this harness made, then stop a private server."""
        try:
            for name in list(reversed(self._created)):
                self.drop_database(name)
        finally:
            self._engine.dispose()
            self._stop()


def _no_op() -> None:
    """Stop nothing: the server belongs to someone else."""


def empty_all_tables(engine: sa.Engine) -> None:
    """Bring the database back to a fresh migration: no rows but the seeded catalogue.

    DELETE, not TRUNCATE: the tables hold a handful of rows between tests, and
    TRUNCATE makes new files for 51 tables and their indexes (about 0.2 s a
    test against 2 ms).
    """
    deletes = "; ".join(f"DELETE FROM {t.name}" for t in reversed(metadata.sorted_tables))
    rows = seed_rows()
    with engine.begin() as conn:
        # The audit trail refuses deletes (revision 0006) and foreign keys would order them;
        # a test harness turns triggers (which enforce both) off for this transaction.
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text(deletes))
        for cls in (Permission, Role):
            info = table_info(cls)
            values = [row_values(r, info) for r in rows if isinstance(r, cls)]
            conn.execute(sa.insert(metadata.tables[info.name]), values)


def cut_off_transactions(engine: sa.Engine) -> int:
    """Terminate the other connections of the database that sit inside a transaction.

    How the crash tests cut off a writer half-way: called from within the
    writer's work (between two of its statements), it ends that connection
    on the server. Returns how many connections were terminated.
    """
    with engine.connect() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND state = 'idle in transaction'"
            )
        ).scalar()
        conn.commit()
    return int(killed or 0)


class Statements:
    """Every statement sent, in order: a ``before_cursor_execute`` listener for counting."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen.append(statement)
