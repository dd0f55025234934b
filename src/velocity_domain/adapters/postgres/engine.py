"""Creating the engine a Velocity uses, and checking the schema it finds."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext

from velocity_domain.adapters.postgres.connect import check_schema_name, engine_url
from velocity_domain.adapters.postgres.migrate import head_revision
from velocity_domain.errors import SchemaNotReady, StorageUnavailable

__all__ = ["check_revision", "create_engine"]


def create_engine(
    url: str | sa.URL, *, schema: str | None = None, pool_size: int = 5, max_overflow: int = 10
) -> sa.Engine:
    """Return a pooled psycopg 3 engine whose sessions speak UTC.

    With ``schema``, every canonical table is read and written in that
    PostgreSQL schema (``schema_translate_map``).
    """
    engine = sa.create_engine(
        engine_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        connect_args={"options": "-c timezone=UTC"},
    )
    schema = check_schema_name(schema)
    if schema:
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine


def check_revision(engine: sa.Engine, url: str | sa.URL, schema: str | None) -> None:
    """Raise ``SchemaNotReady`` unless the database is at this library's newest revision."""
    shown = engine_url(url).render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table_schema": schema})
            current = context.get_current_revision()
    except sa.exc.OperationalError as exc:
        raise StorageUnavailable(f"cannot reach PostgreSQL at {shown}: {exc.orig}") from exc
    head = head_revision()
    if current is None:
        raise SchemaNotReady(f"the database at {shown} has no velocity_domain schema", shown)
    if current != head:
        raise SchemaNotReady(
            f"the database at {shown} is at revision {current}, this library needs {head}", shown
        )
