"""Apply, inspect and undo the schema with the Alembic migrations shipped in this package.

The command line (``velocity-domain db ...``) and the tests call these
functions; a host may call them too, for example at deploy time.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from velocity_domain.adapters.postgres.connect import check_schema_name, engine_url
from velocity_domain.adapters.postgres.store import translate
from velocity_domain.errors import ValidationFailed

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "downgrade",
    "drop_schema",
    "head_revision",
    "upgrade",
    "upgrade_sql",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(
    connection: sa.Connection | None = None,
    *,
    schema: str | None = None,
    stdout: TextIO | None = None,
) -> Config:
    """Return an Alembic ``Config`` for the packaged migrations.

    ``connection`` is handed to ``env.py`` (online mode); ``schema`` puts every
    table, and Alembic's version table, in that PostgreSQL schema.
    """
    stream = stdout or io.StringIO()
    config = Config(stdout=stream, output_buffer=stream)
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["schema"] = check_schema_name(schema)
    return config


@contextmanager
def _connect(url: str | URL) -> Iterator[sa.Connection]:
    target = engine_url(url)
    engine = sa.create_engine(target, poolclass=sa.NullPool)
    try:
        try:
            conn = engine.connect()
        except sa.exc.SQLAlchemyError as exc:  # a wrong host, user or password: one line
            shown = target.render_as_string(hide_password=True)
            raise translate(exc, context=f"connect to {shown}") from exc
        with conn, conn.begin():
            yield conn
    finally:
        engine.dispose()


def upgrade(url: str | URL, *, revision: str = "head", schema: str | None = None) -> None:
    """Migrate the database at ``url`` up to ``revision`` (re-running is harmless)."""
    with _connect(url) as conn:
        command.upgrade(alembic_config(conn, schema=schema), revision)


def downgrade(url: str | URL, *, revision: str, schema: str | None = None) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``base`` removes every table)."""
    with _connect(url) as conn:
        command.downgrade(alembic_config(conn, schema=schema), revision)


def drop_schema(url: str | URL, schema: str) -> None:
    """Drop ``schema`` and everything in it: undo ``upgrade(url, schema=schema)`` at once.

    For throwaway schemas (an example's run, a test): the schema must be
    named, so the search path's default one is never dropped by accident.
    """
    name = check_schema_name(schema)
    if name is None:
        raise ValidationFailed("schema", "must name the schema to drop")
    with _connect(url) as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def upgrade_sql(*, revision: str = "head", schema: str | None = None) -> str:
    """Return the DDL that ``upgrade`` would run on an empty database, for a DBA to review."""
    out = io.StringIO()
    command.upgrade(alembic_config(None, schema=schema, stdout=out), revision, sql=True)
    return out.getvalue()


def current_revision(url: str | URL, *, schema: str | None = None) -> str | None:
    """Return the revision the database is at, or ``None`` if it was never migrated."""
    with _connect(url) as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table_schema": check_schema_name(schema)}
        )
        return context.get_current_revision()


def head_revision() -> str:
    """Return the newest revision shipped with this version of the library."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head
