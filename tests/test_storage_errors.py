"""Driver errors become the library's retryable errors, in one place per store.

On a real PostgreSQL server: a serialization failure (two SERIALIZABLE
transactions with a write skew) and a deadlock become
``SerializationFailure``; a session ended under the caller
(``pg_terminate_backend``) and a pool with no free connection become
``StorageUnavailable``; both are ``Retryable`` and distinct. Each SQLSTATE the
translation knows is also checked with a stand-in driver error. The
in-memory store raises ``StorageUnavailable`` when another thread's
transaction keeps it busy past its timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from velocity_domain import Velocity
from velocity_domain.adapters.memory.store import MemoryStore
from velocity_domain.adapters.postgres.engine import create_engine
from velocity_domain.adapters.postgres.store import PostgresStore, translate
from velocity_domain.crm.entities import Person
from velocity_domain.errors import (
    AlreadyExists,
    Retryable,
    SerializationFailure,
    StorageUnavailable,
    ValidationFailed,
    VelocityError,
)
from velocity_domain.kernel.tableinfo import table_info
from velocity_domain.testing import unit_of_work
from velocity_domain.uow import ENTITY_CLASSES

PEOPLE = table_info(Person)


def test_the_two_retryable_errors_are_distinct() -> None:
    assert issubclass(SerializationFailure, Retryable)
    assert issubclass(StorageUnavailable, Retryable)
    assert not issubclass(SerializationFailure, StorageUnavailable)
    assert not issubclass(StorageUnavailable, SerializationFailure)


# --- the translation, with stand-in driver errors -----------------------------------------------


@attrs.frozen
class _Diag:
    constraint_name: str | None = None
    column_name: str | None = None
    table_name: str | None = None


class _DriverError(Exception):
    """What psycopg raises: a message, a SQLSTATE and diagnostics."""

    def __init__(self, message: str, sqlstate: str | None, diag: _Diag | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.diag = diag or _Diag()


def _wrapped(
    kind: type[sa.exc.DBAPIError], sqlstate: str | None, diag: _Diag | None = None
) -> sa.exc.DBAPIError:
    return kind("SELECT 1", {}, _DriverError(f"driver says {sqlstate}", sqlstate, diag))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_wrapped(sa.exc.OperationalError, "40001"), SerializationFailure),
        (_wrapped(sa.exc.OperationalError, "40P01"), SerializationFailure),
        (_wrapped(sa.exc.OperationalError, "08006"), StorageUnavailable),
        (_wrapped(sa.exc.OperationalError, "57P01"), StorageUnavailable),
        (_wrapped(sa.exc.OperationalError, None), StorageUnavailable),
        (_wrapped(sa.exc.InterfaceError, None), StorageUnavailable),
        (sa.exc.TimeoutError("QueuePool limit of size 1 overflow 0 reached"), StorageUnavailable),
        (
            _wrapped(sa.exc.IntegrityError, "23505", _Diag(constraint_name="pk_crm_people")),
            AlreadyExists,
        ),
        (_wrapped(sa.exc.DataError, "22P02", _Diag(column_name="full_name")), ValidationFailed),
    ],
    ids=lambda v: getattr(v, "__name__", None) or type(v).__name__,
)
def test_each_driver_error_becomes_its_library_error(
    error: sa.exc.SQLAlchemyError, expected: type[VelocityError]
) -> None:
    translated = translate(error, PEOPLE, {"person_id": "p1"})
    assert type(translated) is expected
    assert translated.message


def test_a_connection_lost_while_committing_says_the_outcome_is_unknown() -> None:
    error = translate(_wrapped(sa.exc.OperationalError, "08006"), context="commit")
    assert isinstance(error, StorageUnavailable)
    assert "may or may not have happened" in str(error)
    error = translate(_wrapped(sa.exc.OperationalError, "40001"), context="commit")
    assert isinstance(error, SerializationFailure)
    assert "rolled back" in str(error)


def test_a_refused_value_names_its_column() -> None:
    error = translate(_wrapped(sa.exc.DataError, "22021", _Diag(column_name="full_name")), PEOPLE)
    assert isinstance(error, ValidationFailed)
    assert (error.field, error.entity) == ("full_name", "crm_people")


# --- the in-memory store ----------------------------------------------------------------------


def test_a_busy_memory_store_is_unavailable_after_its_timeout() -> None:
    store = MemoryStore(ENTITY_CLASSES, wait_timeout=0.2)
    tx = store.begin()
    failures: list[BaseException] = []

    def other() -> None:
        try:
            store.begin()
        except VelocityError as exc:
            failures.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(5)
    tx.rollback()
    assert [type(f) for f in failures] == [StorageUnavailable]
    store.begin().rollback()  # free again once the transaction ended


# --- a real PostgreSQL server -----------------------------------------------------------------


@pytest.fixture
def url(pg_url: URL) -> str:
    return pg_url.render_as_string(hide_password=False)


@pytest.fixture
def store(url: str) -> Iterator[PostgresStore]:
    pg = PostgresStore(create_engine(url), ENTITY_CLASSES)
    yield pg
    pg.close()


def _person(store: PostgresStore, name: str) -> Person:
    tx = store.begin()
    person = tx.table(Person).add(Person(full_name=name))
    tx.commit()
    return person


@pytest.mark.postgres
def test_a_write_skew_under_serializable_is_a_serialization_failure(url: str) -> None:
    engine = create_engine(url).execution_options(isolation_level="SERIALIZABLE")
    store = PostgresStore(engine, ENTITY_CLASSES)
    try:
        first, second = store.begin(), store.begin()
        # Each reads what the other writes, then both write: only one may commit.
        for tx in (first, second):
            tx.table(Person).count()
        first.table(Person).add(Person(full_name="Asha Rao"))
        second.table(Person).add(Person(full_name="Ravi Iyer"))
        first.commit()
        with pytest.raises(SerializationFailure) as err:
            second.commit()
        assert not isinstance(err.value, StorageUnavailable)
        assert "40001" in str(err.value)
    finally:
        store.close()


@pytest.mark.postgres
def test_a_deadlock_is_a_serialization_failure(store: PostgresStore) -> None:
    a, b = _person(store, "Asha Rao"), _person(store, "Ravi Iyer")
    first, second = store.begin(), store.begin()
    first.mutable(Person).update(attrs.evolve(a, full_name="Asha R."))
    second.mutable(Person).update(attrs.evolve(b, full_name="Ravi I."))
    outcomes: dict[str, Any] = {}

    def cross(name: str, tx: Any, person: Person) -> None:
        try:
            tx.mutable(Person).update(attrs.evolve(person, full_name=f"{name} wins"))
            outcomes[name] = "updated"
        except VelocityError as exc:
            outcomes[name] = exc

    thread = threading.Thread(target=cross, args=("first", first, b))
    thread.start()
    cross("second", second, a)
    thread.join(30)
    for tx in (first, second):
        tx.rollback()
    errors = [o for o in outcomes.values() if isinstance(o, VelocityError)]
    assert len(outcomes) == 2
    assert [type(e) for e in errors] == [SerializationFailure]
    assert "deadlock" in str(errors[0])


def _end_other_sessions(admin_engine: sa.Engine) -> int:
    """End every other session on this database, as an administrator or a restart would."""
    with admin_engine.connect() as admin:
        ended = admin.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    return int(ended)


@pytest.mark.postgres
def test_a_session_ended_under_a_unit_of_work_is_unavailable_and_a_retry_works(
    url: str, pg_engine: sa.Engine
) -> None:
    with Velocity.from_url(url) as velocity:
        with unit_of_work(velocity) as uow:
            uow.crm.people.count()
            assert _end_other_sessions(pg_engine) >= 1
            with pytest.raises(StorageUnavailable) as err:
                uow.crm.people.count()
        # Leaving the block rolled back on the dead connection without another error.
        assert not isinstance(err.value, SerializationFailure)
        assert "lost the connection" in str(err.value)
        with unit_of_work(velocity) as uow:  # the retry gets a new connection
            assert uow.crm.people.count() >= 0


@pytest.mark.postgres
def test_a_session_ended_before_commit_leaves_the_outcome_unknown(
    store: PostgresStore, pg_engine: sa.Engine
) -> None:
    tx = store.begin()
    tx.table(Person).add(Person(full_name="Asha Rao"))
    assert _end_other_sessions(pg_engine) >= 1
    with pytest.raises(StorageUnavailable) as err:
        tx.commit()
    assert "may or may not have happened" in str(err.value)


@pytest.mark.postgres
def test_a_pool_with_no_free_connection_is_unavailable(url: str) -> None:
    engine = sa.create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1),
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.2,
    )
    store = PostgresStore(engine, ENTITY_CLASSES)
    try:
        held = store.begin()
        with pytest.raises(StorageUnavailable) as err:
            store.begin()
        assert "no pooled connection came free" in str(err.value)
        held.rollback()
        store.begin().rollback()
    finally:
        store.close()
