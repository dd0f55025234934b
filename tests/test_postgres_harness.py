"""The harness gives each module a real, isolated PostgreSQL database."""

from __future__ import annotations

import sqlalchemy as sa

from tests.support.pg_harness import PostgresServer


def test_a_table_round_trips_on_the_real_server(pg_engine: sa.Engine) -> None:
    with pg_engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE probe (id int PRIMARY KEY, note text NOT NULL)"))
        conn.execute(sa.text("INSERT INTO probe VALUES (1, 'hello'), (2, 'world')"))
    with pg_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, note FROM probe ORDER BY id")).all()
        server_version = conn.execute(sa.text("show server_version_num")).scalar_one()
    assert [tuple(r) for r in rows] == [(1, "hello"), (2, "world")]
    assert int(server_version) >= 140000


def test_databases_cloned_from_the_template_are_isolated(
    pg_server: PostgresServer, pg_template: str
) -> None:
    first = pg_server.create_database("velocity_iso", template=pg_template)
    second = pg_server.create_database("velocity_iso", template=pg_template)
    try:
        a = sa.create_engine(pg_server.url_for(first), poolclass=sa.NullPool)
        b = sa.create_engine(pg_server.url_for(second), poolclass=sa.NullPool)
        with a.begin() as conn:
            conn.execute(sa.text("CREATE TABLE only_in_first (x int)"))
        with b.connect() as conn:
            found = conn.execute(sa.text("SELECT to_regclass('only_in_first')")).scalar_one()
        assert found is None
    finally:
        pg_server.drop_database(first)
        pg_server.drop_database(second)
    with pg_server._engine.connect() as conn:
        names = set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())
    assert first not in names
    assert second not in names
