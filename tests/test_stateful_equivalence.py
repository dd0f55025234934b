"""The in-memory store and PostgreSQL give identical answers to the same random work.

A hypothesis state machine applies one random sequence of adds (new and
duplicate keys, dangling references), updates with right and stale
versions, reads, counts, paged lists with cursors, commits and rollbacks to
both stores at once, and requires every outcome (values, errors and their
facts, cursors) to be the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import attrs
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy.engine import URL

from tests.support.pg_harness import empty_all_tables
from velocity_domain import Velocity
from velocity_domain.crm.entities import Person, Relationship, RelationshipKind
from velocity_domain.errors import VelocityError
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.query import Contains, Query, asc, desc
from velocity_domain.testing import store_of, unit_of_work
from velocity_domain.uow import UnitOfWork

pytestmark = pytest.mark.postgres

NAMES = st.sampled_from(
    ["Asha Rao", "asha rao", "Ravi Sen", "Émile Roy", "Zoya", "Bina Das", "Kabir"]
)
START = datetime(2030, 1, 1, tzinfo=UTC)


def outcome(work: Callable[[], Any]) -> tuple[str, Any]:
    """Run ``work``; return its value, or the error's class and facts."""
    try:
        return ("ok", work())
    except VelocityError as err:
        return ("error", type(err).__name__, err.to_dict())


#: Both stores sign cursors with one key, so their pages (cursors included) compare equal.
CURSOR_KEY = b"one key for both stores of this test"


class StoresAgree(RuleBasedStateMachine):
    """Drive both stores with the same steps; every answer must match."""

    postgres: Velocity | None = None
    pg_engine: sa.Engine | None = None
    runs = 0

    people = Bundle("people")

    def __init__(self) -> None:
        super().__init__()
        type(self).runs += 1
        assert self.pg_engine is not None
        assert self.postgres is not None
        with self.pg_engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM crm_relationships; DELETE FROM crm_people"))
        self.clock = FixedClock(START)
        store_of(self.postgres).clock = self.clock  # the same clock for both stores
        memory = Velocity.in_memory(clock=self.clock, cursor_key=CURSOR_KEY)
        self.stores = (memory, self.postgres)
        self.uows: tuple[UnitOfWork, ...] | None = None
        self.cursors: dict[str, str] = {}

    def both(self, work: Callable[[UnitOfWork], Any]) -> Any:
        assert self.uows is not None
        results = [outcome(lambda u=u: work(u)) for u in self.uows]
        assert results[0] == results[1]
        return results[0]

    @initialize()
    def open_first(self) -> None:
        self.begin()

    @precondition(lambda self: self.uows is None)
    @rule()
    def begin(self) -> None:
        self.uows = tuple(unit_of_work(v) for v in self.stores)
        for u in self.uows:
            u.__enter__()

    def _close(self, finish: Callable[[UnitOfWork], None]) -> None:
        self.both(finish)
        assert self.uows is not None
        for u in self.uows:
            u.__exit__(None, None, None)
        self.uows = None
        self.cursors.clear()

    @precondition(lambda self: self.uows is not None)
    @rule()
    def commit(self) -> None:
        self._close(lambda u: u.commit())

    @precondition(lambda self: self.uows is not None)
    @rule()
    def rollback(self) -> None:
        self._close(lambda u: u.rollback())

    @precondition(lambda self: self.uows is not None)
    @rule(target=people, name=NAMES, labelled=st.booleans())
    def add_person(self, name: str, labelled: bool) -> UUID:
        person = Person(full_name=name, persona_labels=("buyer",) if labelled else ())
        self.both(lambda u: u.crm.people.add(person))
        return person.key

    @precondition(lambda self: self.uows is not None)
    @rule(key=people)
    def add_duplicate(self, key: UUID) -> None:
        copy = Person(person_id=key, full_name="Copy")
        self.both(lambda u: u.crm.people.add(copy))

    @precondition(lambda self: self.uows is not None)
    @rule(a=people, b=people, dangling=st.booleans())
    def relate(self, a: UUID, b: UUID, dangling: bool) -> None:
        if a == b:
            return
        link = Relationship(
            from_person_id=a,
            to_person_id=new_id() if dangling else b,
            kind=RelationshipKind.SIBLING,
        )
        self.both(lambda u: u.crm.relationships.add(link))

    @precondition(lambda self: self.uows is not None)
    @rule(key=people, name=NAMES, stale=st.booleans())
    def update(self, key: UUID, name: str, stale: bool) -> None:
        def work(u: UnitOfWork) -> Person:
            current = u.crm.people.get(key)
            expected = current.version - 1 if stale else current.version
            return u.crm.people.update(
                attrs.evolve(current, full_name=name), expected_version=expected
            )

        self.both(work)

    @precondition(lambda self: self.uows is not None)
    @rule(key=consumes(people))
    def get(self, key: UUID) -> None:
        self.both(lambda u: u.crm.people.find(key))

    @precondition(lambda self: self.uows is not None)
    @rule(
        limit=st.integers(1, 4), newest=st.booleans(), search=st.sampled_from([None, "ASHA", "o"])
    )
    def list_page(self, limit: int, newest: bool, search: str | None) -> None:
        order = (desc("created_at"),) if newest else (asc("normalized_name"),)
        where = () if search is None else (Contains(("full_name",), search),)
        name = f"{newest}-{search}-{limit}"
        query = Query(where, order, limit, self.cursors.get(name))
        result = self.both(lambda u: u.crm.people.list(query))
        if result[0] == "ok" and result[1].next_cursor:
            self.cursors[name] = result[1].next_cursor
        else:
            self.cursors.pop(name, None)

    @precondition(lambda self: self.uows is not None)
    @rule()
    def count(self) -> None:
        self.both(lambda u: (u.crm.people.count(), u.crm.relationships.count()))

    @rule(minutes=st.integers(0, 90))
    def tick(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)

    @invariant()
    def nothing_leaks_between_units(self) -> None:
        if self.uows is None:
            results = []
            for velocity in self.stores:
                with unit_of_work(velocity) as u:
                    results.append(list(u.crm.people.list(Query(limit=500))))
            assert results[0] == results[1]

    def teardown(self) -> None:
        if self.uows is not None:
            for u in self.uows:
                u.__exit__(None, None, None)


@pytest.fixture
def machine(pg_url: URL, pg_engine: sa.Engine) -> Iterator[type[StoresAgree]]:
    empty_all_tables(pg_engine)
    url = pg_url.render_as_string(hide_password=False)
    with Velocity.from_url(url, pool_size=2, cursor_key=CURSOR_KEY) as postgres:
        StoresAgree.postgres = postgres
        StoresAgree.pg_engine = pg_engine
        yield StoresAgree
    StoresAgree.postgres = None
    StoresAgree.pg_engine = None


def test_memory_and_postgres_agree_on_random_work(machine: type[StoresAgree]) -> None:
    machine.TestCase.settings = settings(
        max_examples=200,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    machine.runs = 0
    machine.TestCase().runTest()
    assert machine.runs >= 200
