"""Creating the engine a Velocity uses, and checking the schema it finds.

Starting is cheap: the schema's revision is compared with
:data:`SCHEMA_REVISION`, a constant a test keeps equal to the newest
migration, so no Alembic script is loaded to open a store.
"""

from __future__ import annotations

import sqlalchemy as sa

from velocity_domain.adapters.postgres.connect import check_schema_name, engine_url
from velocity_domain.adapters.postgres.store import translate
from velocity_domain.errors import SchemaNotReady

__all__ = ["SCHEMA_REVISION", "check_revision", "create_engine", "stored_revision"]

#: The revision of the newest migration shipped with this version of the library.
SCHEMA_REVISION = "0011"


def create_engine(
    url: str | sa.URL,
    *,
    schema: str | None = None,
    pool_size: int = 5,
    max_overflow: int = 10,
    pre_ping: bool = False,
) -> sa.Engine:
    """Return a pooled psycopg 3 engine whose sessions speak UTC.

    With ``schema``, every canonical table is read and written in that
    PostgreSQL schema (``schema_translate_map``). ``pre_ping`` tests each
    connection with a round trip when it leaves the pool (worth it where
    connections are often cut, at the price of that round trip per unit of work).
    """
    engine = sa.create_engine(
        engine_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        connect_args={"options": "-c timezone=UTC"},
    )
    schema = check_schema_name(schema)
    if schema:
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine


def stored_revision(connection: sa.Connection, schema: str | None) -> str | None:
    """Return the revision recorded in the database (``None``: never migrated), in two reads."""
    table = f'"{schema}".alembic_version' if schema else "alembic_version"
    found = connection.exec_driver_sql("SELECT to_regclass(%(t)s)", {"t": table}).scalar()
    if found is None:
        return None
    # The schema name was checked to be a plain identifier (check_schema_name).
    query = f"SELECT version_num FROM {table}"  # noqa: S608
    versions = connection.exec_driver_sql(query).scalars().all()
    return str(versions[0]) if len(versions) == 1 else None


def check_revision(engine: sa.Engine, url: str | sa.URL, schema: str | None) -> None:
    """Raise ``SchemaNotReady`` unless the database is at this library's newest revision."""
    shown = engine_url(url).render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            current = stored_revision(conn, schema)
    except sa.exc.SQLAlchemyError as exc:
        raise translate(exc, context=f"connect to {shown}") from exc
    if current is None:
        raise SchemaNotReady(f"the database at {shown} has no velocity_domain schema", shown)
    if current != SCHEMA_REVISION:
        raise SchemaNotReady(
            f"the database at {shown} is at revision {current},"
            f" this library needs {SCHEMA_REVISION}",
            shown,
        )
