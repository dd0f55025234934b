"""Connecting a Velocity to PostgreSQL: unmigrated databases, named schemas, pools."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tests.support.pg_harness import PostgresServer
from velocity_domain import Principal, Velocity
from velocity_domain.adapters.postgres import migrate
from velocity_domain.crm.entities import Person
from velocity_domain.errors import (
    InvalidCursor,
    NotConfigured,
    SchemaNotReady,
    StorageUnavailable,
    ValidationFailed,
)
from velocity_domain.kernel.pagination import CURSOR_KEY_ENV
from velocity_domain.testing import unit_of_work

pytestmark = pytest.mark.postgres


@pytest.fixture
def empty_url(pg_server: PostgresServer) -> Iterator[str]:
    name = pg_server.create_database("velocity_conn")
    yield pg_server.url_for(name).render_as_string(hide_password=False)
    pg_server.drop_database(name)


def test_an_unmigrated_database_is_refused_with_the_command_to_run(empty_url: str) -> None:
    with pytest.raises(SchemaNotReady) as err:
        Velocity.from_url(empty_url)
    assert "has no velocity_domain schema" in str(err.value)
    assert "velocity-domain db upgrade --url" in str(err.value)
    assert "postgresql+psycopg://" in str(err.value)


def test_a_named_schema_keeps_every_row_inside_it(empty_url: str) -> None:
    migrate.upgrade(empty_url, schema="crm_core")
    with pytest.raises(SchemaNotReady):
        Velocity.from_url(empty_url)  # the default schema has no tables
    person = Person(full_name="Asha Rao")
    with Velocity.from_url(empty_url, schema="crm_core") as velocity:
        with unit_of_work(velocity) as uow:
            uow.crm.people.add(person)
            uow.commit()
        with unit_of_work(velocity) as uow:
            assert uow.crm.people.get(person.key) == person
    engine = sa.create_engine(empty_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT full_name FROM crm_core.crm_people")).scalars().all()
    engine.dispose()
    assert names == ["Asha Rao"]


def test_bad_urls_and_schema_names_are_refused(empty_url: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        Velocity.from_url("mysql://localhost/crm")
    assert err.value.field == "url"
    with pytest.raises(ValidationFailed) as err:
        Velocity.from_url(empty_url, schema="Bad-Name")
    assert err.value.field == "schema"


def test_an_unreachable_server_is_reported_as_unavailable() -> None:
    with pytest.raises(StorageUnavailable, match="cannot reach PostgreSQL"):
        Velocity.from_url("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_without_a_cursor_key_from_the_host_the_store_is_not_opened(
    pg_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_url.render_as_string(hide_password=False)
    monkeypatch.delenv(CURSOR_KEY_ENV, raising=False)
    with pytest.raises(NotConfigured) as err:
        Velocity.from_url(url)
    assert "cursor_key=" in str(err.value)
    assert CURSOR_KEY_ENV in str(err.value)
    with pytest.raises(ValidationFailed) as short:
        Velocity.from_url(url, cursor_key="too short")
    assert short.value.field == "cursor_key"
    monkeypatch.setenv(CURSOR_KEY_ENV, "short")
    with pytest.raises(ValidationFailed) as short:
        Velocity.from_url(url)
    assert short.value.field == CURSOR_KEY_ENV


def test_processes_sharing_the_key_accept_each_others_cursors_and_no_one_else_can(
    pg_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_url.render_as_string(hide_password=False)
    office = Principal.system("front-office")
    monkeypatch.setenv(CURSOR_KEY_ENV, "the host's secret, from its vault")
    with Velocity.from_url(url) as first:
        for name in ("Asha Rao", "Ravi Sen"):
            first.contacts.create(office, full_name=name)
        cursor = first.contacts.list(office, limit=1).next_cursor
    assert cursor is not None
    with Velocity.from_url(url, cursor_key=b"the host's secret, from its vault") as second:
        assert len(second.contacts.list(office, limit=1, cursor=cursor)) == 1
    with (
        Velocity.from_url(url, cursor_key="another key, another host") as stranger,
        pytest.raises(InvalidCursor),
    ):
        stranger.contacts.list(office, limit=1, cursor=cursor)
