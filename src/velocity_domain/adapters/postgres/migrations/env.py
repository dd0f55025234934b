"""Alembic environment for the canonical schema (run through ``migrate``)."""

from __future__ import annotations

from alembic import context

from velocity_domain.adapters.postgres.tables import metadata

config = context.config
schema: str | None = config.attributes.get("schema")


def _schema_statements() -> list[str]:
    if not schema:
        return []
    return [f'CREATE SCHEMA IF NOT EXISTS "{schema}"', f'SET search_path TO "{schema}"']


def run_offline() -> None:
    """Render the migrations as SQL text (``velocity-domain db upgrade --sql``)."""
    context.configure(
        dialect_name="postgresql",
        target_metadata=metadata,
        literal_binds=True,
        version_table_schema=schema,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        for statement in _schema_statements():
            context.execute(statement)
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the connection the caller opened."""
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through velocity_domain.adapters.postgres.migrate")
    for statement in _schema_statements():
        connection.exec_driver_sql(statement)
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
