"""The indexed in-memory store answers exactly as a brute-force evaluation does.

A hypothesis state machine writes people and leads (adds, updates of indexed
and sorted fields, commits and rollbacks) and runs random queries (every
filter, ``Among`` and ``Contains`` included; ascending, descending and mixed
orders; small limits; cursors followed to the end), each answered one way
the planner knows after another, and compares pages, cursors and counts with
a brute force over the test's own copy of the rows. Other tests count the
rows a read looks at, to show that an index answered and not a scan.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock
from uuid import UUID

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from velocity_domain import Velocity
from velocity_domain.adapters.memory import ordered
from velocity_domain.adapters.memory.evaluate import (
    Ordering,
    compare_keys,
    matches,
    sort_key,
    sort_rows,
)
from velocity_domain.adapters.memory.store import MemoryStore
from velocity_domain.crm.entities import Lead, LeadStatus, Person
from velocity_domain.errors import ConstraintViolation, ValidationFailed
from velocity_domain.identity.entities import User
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.query import (
    Among,
    Contains,
    Eq,
    Filter,
    HasLabel,
    In,
    IsNull,
    Query,
    Range,
    SortKey,
    Source,
    asc,
    desc,
    plain,
    prepare,
)
from velocity_domain.kernel.tableinfo import table_info
from velocity_domain.testing import store_of, unit_of_work
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import AgentRun, Branch, WorkflowAction

START = datetime(2030, 1, 1, tzinfo=UTC)
NAMES = ["Asha Rao", "asha rao", "Ravi Sen", "Émile Roy", "Zoya", "Bina Das", "Kabir", "Rao Asha"]
EMAILS = [None, "asha@example.com", "ravi.sen@example.org", "zoya@mail.example"]
PHONES = [None, "+919830012345", "9830099999", "+14155550100"]
LABELS = [(), ("buyer",), ("investor", "buyer"), ("investor",)]
SOURCES = [None, "legacy", "web"]
NEEDLES = ["", "a", "AS", "sha", "rao", "@ex", "9830", "+91", "é", "É", "\x00", "zz", "o r"]
SEARCHED = ["normalized_name", "primary_email", "primary_phone", "full_name", "source_system"]
ORDERS = [
    (),
    (asc("normalized_name"),),
    (desc("normalized_name"),),
    (desc("created_at"),),
    (asc("full_name"), desc("created_at")),
    (desc("version"), asc("normalized_name")),
    (desc("person_id"),),
    (asc("updated_at"), desc("full_name")),
]
WAYS = [None, "gather", "keys", "text", "scan"]
STATUSES = [LeadStatus.OPEN, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED]


def _brute_values(model: dict[str, dict[UUID, Entity]], source: Source) -> set[Any]:
    rows = model[source.table].values()
    found = (plain(getattr(r, source.column)) for r in rows if matches(r, source.where))
    return {v for v in found if v is not None}


def brute(model: dict[str, dict[UUID, Entity]], table: str, where: tuple[Filter, ...]) -> list[Any]:
    """Return the rows of ``table`` that match ``where``, the slow and obvious way."""
    allowed = {
        i: set().union(*(_brute_values(model, s) for s in f.sources))
        for i, f in enumerate(where)
        if isinstance(f, Among)
    }
    return [r for r in model[table].values() if matches(r, where, allowed)]


@st.composite
def person_filters(
    draw: st.DrawFn,
    keys: list[UUID],
    users: list[UUID],
    names: list[str],
    moments: list[datetime],
) -> Filter:
    kinds = ["eq", "in", "range", "null", "label", "contains", "contains", "among", "among"]
    kind = draw(st.sampled_from(kinds))
    if kind == "eq":
        field, values = draw(
            st.sampled_from(
                [
                    ("full_name", NAMES),
                    ("source_system", SOURCES),
                    ("primary_email", EMAILS),
                    ("persona_labels", LABELS),
                    ("version", [1, 2, 3]),
                ]
            )
        )
        return Eq(field, draw(st.sampled_from(values)))
    if kind == "in":
        if draw(st.booleans()) and keys:
            chosen = draw(st.lists(st.sampled_from(keys), max_size=4))
            return In("person_id", [*chosen, new_id()])
        return In("source_system", draw(st.lists(st.sampled_from(SOURCES), max_size=3)))
    if kind == "range":
        # Bounds are often values rows hold, so inclusive and exclusive bounds differ.
        field = draw(st.sampled_from(["normalized_name", "created_at", "source_confidence"]))
        bounds: list[Any] = [None, Decimal("0.1"), Decimal("0.3")]
        if field == "normalized_name":
            bounds = [None, "b", "r", *names]
        elif field == "created_at":
            bounds = [None, START + timedelta(minutes=30), *moments]
        low, high = draw(st.sampled_from(bounds)), draw(st.sampled_from(bounds))
        if draw(st.booleans()):
            return Range(field, gte=low, lt=high)
        return Range(field, gt=low, lte=high)
    if kind == "null":
        return IsNull(
            draw(st.sampled_from(["primary_email", "primary_phone"])), draw(st.booleans())
        )
    if kind == "label":
        return HasLabel("persona_labels", draw(st.sampled_from(["buyer", "investor", "none"])))
    if kind == "contains":
        fields = draw(st.lists(st.sampled_from(SEARCHED), min_size=1, max_size=3))
        return Contains(fields, draw(st.sampled_from(NEEDLES)))
    return draw(among(users))


@st.composite
def among(draw: st.DrawFn, users: list[UUID]) -> Among:
    user = draw(st.sampled_from([*users, new_id()]))
    statuses = draw(st.lists(st.sampled_from(STATUSES), max_size=2))
    sources = [
        Source("crm_leads", "person_id", (Eq("assigned_user_id", user),)),
        Source("crm_leads", "person_id", (Eq("assigned_user_id", user), In("status", statuses))),
        Source("crm_leads", "person_id", (In("status", statuses),)),
        Source("crm_leads", "person_id", (IsNull("assigned_user_id"),)),
        Source("crm_leads", "person_id", (Range("created_at", gte=START + timedelta(minutes=30)),)),
        Source("crm_opportunities", "person_id", (Eq("assigned_user_id", user),)),
    ]
    kind = draw(st.sampled_from(["key", "key", "key", "other", "none"]))
    if kind == "other":
        source = Source("crm_leads", "source_system", (Eq("assigned_user_id", user),))
        return Among("source_system", (source,))
    if kind == "none":
        return Among("person_id")
    return Among("person_id", draw(st.lists(st.sampled_from(sources), min_size=1, max_size=2)))


class IndexedStoreAgrees(RuleBasedStateMachine):
    """Drive one in-memory store; every page, cursor and count must match the brute force."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(START)
        self.velocity = Velocity.in_memory(clock=self.clock)
        store = store_of(self.velocity)
        assert isinstance(store, MemoryStore)
        self.store = store
        self.users = [
            User(email=f"agent{i}@example.com", display_name=f"Agent {i}") for i in (1, 2)
        ]
        with unit_of_work(self.velocity) as uow:
            uow.table(User).add_many(self.users)
            uow.commit()
        self.committed: dict[str, dict[UUID, Entity]] = {
            "crm_people": {},
            "crm_leads": {},
            "crm_opportunities": {},
        }
        self.model = {name: dict(rows) for name, rows in self.committed.items()}
        self.uow: UnitOfWork | None = None
        self.serial = 0
        self.recent: list[tuple[tuple[Filter, ...], tuple[SortKey, ...]]] = []

    @initialize(data=st.data(), count=st.integers(0, 20))
    def open_first(self, data: st.DataObject, count: int) -> None:
        self.begin()
        self.add_crowd(data, count)

    @precondition(lambda self: self.uow is None)
    @rule()
    def begin(self) -> None:
        self.uow = unit_of_work(self.velocity)
        self.uow.__enter__()
        self.model = {name: dict(rows) for name, rows in self.committed.items()}

    @precondition(lambda self: self.uow is not None)
    @rule(keep=st.booleans())
    def finish(self, keep: bool) -> None:
        assert self.uow is not None
        if keep:
            self.uow.commit()
            self.committed = {name: dict(rows) for name, rows in self.model.items()}
        self.uow.__exit__(None, None, None)  # without commit, this rolls back
        self.uow = None
        self.model = {name: dict(rows) for name, rows in self.committed.items()}

    def _source(self, system: str | None) -> dict[str, Any]:
        self.serial += 1
        return {
            "source_system": system,
            "source_ref": None if system is None else f"r{self.serial}",
        }

    @precondition(lambda self: self.uow is not None)
    @rule(
        name=st.sampled_from(NAMES),
        email=st.sampled_from(EMAILS),
        phone=st.sampled_from(PHONES),
        labels=st.sampled_from(LABELS),
        system=st.sampled_from(SOURCES),
        confidence=st.sampled_from([None, Decimal("0.1"), Decimal("0.5")]),
    )
    def add_person(
        self,
        name: str,
        email: str | None,
        phone: str | None,
        labels: tuple[str, ...],
        system: str | None,
        confidence: Decimal | None,
    ) -> None:
        assert self.uow is not None
        now = self.clock.now()
        person = Person(
            full_name=name,
            primary_email=email,
            primary_phone=phone,
            persona_labels=labels,
            source_confidence=confidence,
            created_at=now,
            updated_at=now,
            **self._source(system),
        )
        self.model["crm_people"][person.key] = self.uow.crm.people.add(person)

    @precondition(lambda self: self.uow is not None)
    @rule(data=st.data(), count=st.integers(1, 10))
    def add_crowd(self, data: st.DataObject, count: int) -> None:
        """Add several people at once, some with a lead."""
        for _ in range(count):
            self.add_person(
                data.draw(st.sampled_from(NAMES)),
                data.draw(st.sampled_from(EMAILS)),
                data.draw(st.sampled_from(PHONES)),
                data.draw(st.sampled_from(LABELS)),
                data.draw(st.sampled_from(SOURCES)),
                data.draw(st.sampled_from([None, Decimal("0.1"), Decimal("0.5")])),
            )
            if data.draw(st.booleans()):
                self.add_lead(data, data.draw(st.sampled_from(STATUSES)))

    @precondition(lambda self: self.uow is not None)
    @rule(
        data=st.data(),
        name=st.sampled_from(NAMES),
        email=st.sampled_from(EMAILS),
        phone=st.sampled_from(PHONES),
        labels=st.sampled_from(LABELS),
        system=st.sampled_from(SOURCES),
    )
    def update_person(
        self,
        data: st.DataObject,
        name: str,
        email: str | None,
        phone: str | None,
        labels: tuple[str, ...],
        system: str | None,
    ) -> None:
        assert self.uow is not None
        if not self.model["crm_people"]:
            return
        key = data.draw(st.sampled_from(sorted(self.model["crm_people"])))
        current = self.model["crm_people"][key]
        changed = attrs.evolve(
            current,
            full_name=name,
            primary_email=email,
            primary_phone=phone,
            persona_labels=labels,
            **self._source(system),
        )
        self.model["crm_people"][key] = self.uow.crm.people.update(changed)

    @precondition(lambda self: self.uow is not None)
    @rule(data=st.data(), status=st.sampled_from(STATUSES))
    def add_lead(self, data: st.DataObject, status: LeadStatus) -> None:
        assert self.uow is not None
        people = sorted(self.model["crm_people"])
        if not people:
            return
        user = data.draw(st.sampled_from([None, *(u.key for u in self.users)]))
        lead = Lead(
            person_id=data.draw(st.sampled_from(people)),
            source_system=data.draw(st.sampled_from(["legacy", "web", "walk-in"])),
            status=status,
            assigned_user_id=user,
            created_at=self.clock.now(),
            updated_at=self.clock.now(),
        )
        self.model["crm_leads"][lead.key] = self.uow.crm.leads.add(lead)

    @precondition(lambda self: self.uow is not None)
    @rule(data=st.data())
    def update_lead(self, data: st.DataObject) -> None:
        assert self.uow is not None
        if not self.model["crm_leads"]:
            return
        key = data.draw(st.sampled_from(sorted(self.model["crm_leads"])))
        current = self.model["crm_leads"][key]
        changed = attrs.evolve(
            current,
            assigned_user_id=data.draw(st.sampled_from([None, *(u.key for u in self.users)])),
            status=data.draw(st.sampled_from(STATUSES)),
        )
        self.model["crm_leads"][key] = self.uow.crm.leads.update(changed)

    @rule(minutes=st.integers(0, 20))
    def tick(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)

    @precondition(lambda self: self.uow is not None)
    @rule(
        data=st.data(),
        order=st.sampled_from(ORDERS),
        limit=st.integers(1, 4),
        way=st.sampled_from(WAYS),
    )
    def query(
        self, data: st.DataObject, order: tuple[SortKey, ...], limit: int, way: str | None
    ) -> None:
        keys = sorted(self.model["crm_people"])
        names = [p.normalized_name for p in self.model["crm_people"].values()]
        moments = [p.created_at for p in self.model["crm_people"].values()]
        users = [u.key for u in self.users]
        filters = person_filters(keys, users, names, moments)
        where = tuple(data.draw(st.lists(filters, max_size=2)))
        self.recent = [(where, order), *self.recent[:4]]
        self.check(where, order, limit, way)

    @precondition(lambda self: self.uow is not None and self.recent)
    @rule(data=st.data(), limit=st.integers(1, 4), way=st.sampled_from(WAYS))
    def query_again(self, data: st.DataObject, limit: int, way: str | None) -> None:
        """Ask a recent question again: its indexes were built before the writes since."""
        where, order = data.draw(st.sampled_from(self.recent))
        self.check(where, order, limit, way)

    def check(
        self, where: tuple[Filter, ...], order: tuple[SortKey, ...], limit: int, way: str | None
    ) -> None:
        """Page through the answer (each page, each cursor) and count it, ``way`` forced."""
        assert self.uow is not None
        info = table_info(Person)
        prepared = prepare(info.name, info.optional, info.key_field, Query(where, order))
        expected = sort_rows(brute(self.model, info.name, prepared.where), prepared.order_by)
        self.store.planner.prefer = way
        try:
            assert self.uow.crm.people.count(*where) == len(expected)
            seen: list[Person] = []
            cursor = None
            while True:
                page = self.uow.crm.people.list(Query(where, order, limit, cursor))
                seen.extend(page)
                if len(seen) < len(expected):
                    last = sort_key(page.items[-1], prepared.order_by)
                    assert page.next_cursor == self.store.codec.encode(prepared.scope, last)
                else:
                    assert page.next_cursor is None
                assert seen == expected[: len(seen)]
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert seen == expected
        finally:
            self.store.planner.prefer = None

    def teardown(self) -> None:
        if self.uow is not None:
            self.uow.__exit__(None, None, None)


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of four rows, so a few dozen rows make many blocks to split and merge."""
    monkeypatch.setattr(ordered, "_LOAD", 4)


@pytest.mark.usefixtures("small_blocks")
def test_the_indexed_store_answers_like_a_brute_force() -> None:
    run_state_machine_as_test(
        IndexedStoreAgrees,
        settings=settings(
            max_examples=150,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


WRITES = st.lists(
    st.tuples(
        st.sampled_from(["add", "email", "name", "rollback"]),
        st.integers(0, 10_000),
        st.sampled_from(["asha", "ravi", "zoya", "meera", "kabir"]),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    writes=WRITES,
    needle=st.sampled_from(["a", "asha", "ra", "@x", "zoya.", "ee"]),
    load=st.sampled_from([4, 16, 1024]),
    patches=st.sampled_from([2, 64]),
)
def test_block_texts_and_fingerprints_follow_every_write(
    writes: list[tuple[str, int, str]], needle: str, load: int, patches: int
) -> None:
    """Writes patch a block's cached texts and key fingerprints; each read must still agree."""
    with (
        mock.patch.object(ordered, "_LOAD", load),
        mock.patch.object(ordered, "_PATCHES", patches),
        Velocity.in_memory() as velocity,
    ):
        store = store_of(velocity)
        assert isinstance(store, MemoryStore)
        start = [
            Person(full_name=f"{n} {i}", primary_email=f"{n}{i}@x.example")
            for i, n in enumerate(["asha", "ravi", "zoya", "meera", "kabir"] * 8)
        ]
        with unit_of_work(velocity) as uow:
            uow.crm.people.add_many(start)
            uow.commit()
        committed = {p.key: p for p in start}
        model = dict(committed)
        searched = Contains(("normalized_name", "primary_email"), needle)
        uow = unit_of_work(velocity)
        uow.__enter__()

        def agree(touched: Person | None = None) -> None:
            keys = sorted(model)[::3]
            exact: list[Filter] = []
            if touched is not None:  # a needle only the row just written holds
                exact = [Contains(("primary_email",), touched.primary_email or "")]
            for where, order, way in (
                ((searched,), (asc("normalized_name"),), "text"),
                *(((f,), (asc("normalized_name"),), "text") for f in exact),
                ((In("person_id", keys),), (desc("created_at"),), "keys"),
                ((In("person_id", keys), searched), (asc("full_name"),), "keys"),
            ):
                store.planner.prefer = way
                page = uow.crm.people.list(Query(where, order, limit=500))
                store.planner.prefer = None
                expected = sort_rows(
                    brute({"crm_people": model}, "crm_people", where), [*order, asc("person_id")]
                )
                assert list(page) == expected, (where, way)
            assert uow.crm.people.count(searched) == len(
                brute({"crm_people": model}, "crm_people", (searched,))
            )

        agree()  # builds the texts and the fingerprints
        for kind, pick, name in writes:
            if kind == "rollback":
                uow.__exit__(None, None, None)
                model = dict(committed)
                uow = unit_of_work(velocity)
                uow.__enter__()
            elif kind == "add":
                added = Person(
                    full_name=f"{name} new{pick}", primary_email=f"{name}{pick}@x.example"
                )
                model[added.key] = uow.crm.people.add(added)
                agree(added)
                continue
            else:
                current = model[sorted(model)[pick % len(model)]]
                if kind == "email":  # same sort keys, new text
                    changed = attrs.evolve(current, primary_email=f"{name}.{pick}@x.example")
                else:  # the name order moves the row
                    changed = attrs.evolve(current, full_name=f"{name} moved{pick}")
                model[current.key] = uow.crm.people.update(changed)
                agree(model[current.key])
                continue
            agree()
        uow.__exit__(None, None, None)


# -- orderings ----------------------------------------------------------------

COLUMN_VALUES = [
    st.integers(-3, 3),
    st.text(alphabet="aAbé", max_size=3),
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2020, 1, 3), timezones=st.just(UTC)
    ),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2020, 1, 9)),
    st.decimals(min_value=-2, max_value=2, places=2),
    st.sampled_from([UUID(int=n) for n in (1, 2, 2**70, 2**127)]),
    st.booleans(),
]


@given(data=st.data(), columns=st.lists(st.sampled_from(COLUMN_VALUES), min_size=1, max_size=3))
def test_sortable_tuples_order_exactly_as_compare_keys(
    data: st.DataObject, columns: list[st.SearchStrategy[Any]]
) -> None:
    order = [SortKey(f"f{i}", data.draw(st.booleans())) for i in range(len(columns))]
    rows = data.draw(st.lists(st.tuples(*columns), max_size=8))
    by_compare = sorted(rows, key=functools.cmp_to_key(lambda a, b: compare_keys(a, b, order)))
    by_tuple = sorted(rows, key=Ordering(order).of_values)
    assert [Ordering(order).of_values(r) for r in by_tuple] == [
        Ordering(order).of_values(r) for r in by_compare
    ]
    for a in rows:
        for b in rows:
            ta, tb = Ordering(order).of_values(a), Ordering(order).of_values(b)
            assert (ta < tb) == (compare_keys(a, b, order) < 0)
            assert (ta == tb) == (compare_keys(a, b, order) == 0)


RANGE_NAMES = ["a", "ab", "b", "ba", "c"]
RANGE_MOMENTS = [START + timedelta(minutes=m) for m in range(4)]


def _ranges(values: list[Any]) -> Iterator[dict[str, Any]]:
    for kind in ("gte", "gt", "lte", "lt"):
        for value in values:
            yield {kind: value}
    for low, high in (("gte", "lte"), ("gt", "lt"), ("gte", "lt"), ("gt", "lte")):
        for a in values:
            for b in values:
                yield {low: a, high: b}


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("on_time", [False, True])
def test_a_range_on_the_first_sort_key_bounds_the_walk(
    way: str | None, descending: bool, on_time: bool
) -> None:
    # every name and moment more than once, so a bound often equals a row's value
    people = [
        Person(full_name=name, created_at=moment, updated_at=moment)
        for name, moment in zip(RANGE_NAMES * 3, RANGE_MOMENTS * 3, strict=False)
    ]
    field = "created_at" if on_time else "normalized_name"
    values: list[Any] = (
        [*RANGE_MOMENTS, START - timedelta(days=1)] if on_time else [*RANGE_NAMES, "aa", "bb"]
    )
    order = (SortKey(field, descending),)
    model = {"crm_people": {p.key: p for p in people}}
    info = table_info(Person)
    with Velocity.in_memory() as velocity:
        store = store_of(velocity)
        assert isinstance(store, MemoryStore)
        with unit_of_work(velocity) as uow:
            uow.crm.people.add_many(people)
            store.planner.prefer = way
            for bounds in _ranges(values):
                query = Query((Range(field, **bounds),), order, limit=500)
                found = [p.key for p in uow.crm.people.list(query)]
                prepared = prepare(info.name, info.optional, info.key_field, query)
                expected = sort_rows(brute(model, info.name, prepared.where), prepared.order_by)
                assert found == [p.key for p in expected], bounds


# -- an index answers, not a scan -----------------------------------------------

COUNT = 1200


@pytest.fixture
def populated() -> Iterator[tuple[Velocity, MemoryStore, list[Person], list[User]]]:
    """A store with COUNT people, a few of them special, and leads for four agents."""
    velocity = Velocity.in_memory()
    store = store_of(velocity)
    assert isinstance(store, MemoryStore)
    users = [User(email=f"agent{i}@example.com", display_name=f"Agent {i}") for i in range(4)]
    people = [
        Person(
            full_name=f"Person {i:04d} Common",
            primary_email=f"p{i}@example.com",
            source_system="rare" if i % 300 == 7 else "bulk",
            source_ref=str(i),
        )
        for i in range(COUNT)
    ]
    people[500] = attrs.evolve(people[500], full_name="Zebediah Quux")
    leads = [
        Lead(person_id=people[i].key, source_system="web", assigned_user_id=users[i // 10 % 4].key)
        for i in range(0, COUNT, 10)
    ]
    with unit_of_work(velocity) as uow:
        uow.table(User).add_many(users)
        uow.crm.people.add_many(people)
        uow.crm.leads.add_many(leads)
        uow.commit()
    yield velocity, store, people, users
    velocity.close()


def _examined(store: MemoryStore) -> int:
    return store.stats.rows_examined


def test_a_get_reads_one_row(populated: tuple[Velocity, MemoryStore, list[Person], Any]) -> None:
    velocity, store, people, _ = populated
    with unit_of_work(velocity) as uow:
        before = _examined(store)
        assert uow.crm.people.get(people[900].key) == people[900]
        assert _examined(store) - before == 1


def test_an_eq_page_reads_only_the_rows_it_names(
    populated: tuple[Velocity, MemoryStore, list[Person], Any],
) -> None:
    velocity, store, people, _ = populated
    with unit_of_work(velocity) as uow:
        uow.crm.people.list(Query((Eq("source_system", "rare"),)))  # builds the index
        before = _examined(store)
        page = uow.crm.people.list(Query((Eq("source_system", "rare"),), (asc("full_name"),)))
        assert [p.key for p in page] == [people[i].key for i in (7, 307, 607, 907)]
        assert _examined(store) - before <= 4


@pytest.mark.parametrize("way", [None, "gather", "keys"])
def test_an_among_page_reads_the_sources_and_their_rows(
    populated: tuple[Velocity, MemoryStore, list[Person], list[User]], way: str | None
) -> None:
    velocity, store, people, users = populated
    visible = Among(
        "person_id",
        (
            Source("crm_leads", "person_id", (Eq("assigned_user_id", users[1].key),)),
            Source("crm_opportunities", "person_id", (Eq("assigned_user_id", users[1].key),)),
        ),
    )
    query = Query((visible,), (desc("normalized_name"),), limit=3)
    with unit_of_work(velocity) as uow:
        uow.crm.people.list(query)  # builds the indexes
        store.planner.prefer = way
        before = _examined(store)
        page = uow.crm.people.list(query)
        store.planner.prefer = None
        theirs = sorted((people[i] for i in range(10, COUNT, 40)), key=lambda p: p.normalized_name)
        assert [p.key for p in page] == [p.key for p in theirs[::-1][:3]]
        # the agent's 30 leads (of 120) and at most the 30 people they name (of 1,200)
        assert _examined(store) - before <= 60


def test_a_selective_search_reads_only_the_rows_that_hold_the_text(
    populated: tuple[Velocity, MemoryStore, list[Person], Any],
) -> None:
    velocity, store, people, _ = populated
    with unit_of_work(velocity) as uow:
        before = _examined(store)
        assert [p.key for p in uow.crm.contact_list(search="quux")] == [people[500].key]
        assert uow.crm.people.count(Contains(("normalized_name",), "QUUX")) == 1
        assert _examined(store) - before <= 2


def test_a_deep_cursor_page_resumes_at_its_place(
    populated: tuple[Velocity, MemoryStore, list[Person], Any],
) -> None:
    velocity, store, people, _ = populated
    with unit_of_work(velocity) as uow:
        cursor = None
        for _ in range(60):
            cursor = uow.crm.contact_list(limit=10, cursor=cursor).next_cursor
        before = _examined(store)
        page = uow.crm.contact_list(limit=10, cursor=cursor)
        in_order = sorted(people, key=lambda p: (p.normalized_name, p.key))
        assert [p.key for p in page] == [p.key for p in in_order[600:610]]
        assert _examined(store) - before <= 11


def test_a_count_by_an_indexed_field_reads_no_rows(
    populated: tuple[Velocity, MemoryStore, list[Person], Any],
) -> None:
    velocity, store, _, _ = populated
    with unit_of_work(velocity) as uow:
        uow.crm.people.count(Eq("source_system", "bulk"))
        before = _examined(store)
        assert uow.crm.people.count(Eq("source_system", "bulk")) == COUNT - 4
        assert _examined(store) - before == 0


# -- Among's edges, writes inside a transaction, composite references -----------


def test_among_with_no_source_matches_nothing_and_null_never_matches() -> None:
    with Velocity.in_memory() as velocity, unit_of_work(velocity) as uow:
        someone = uow.crm.people.add(Person(full_name="Asha Rao"))
        uow.crm.leads.add(Lead(person_id=someone.key, source_system="web"))
        assert list(uow.crm.people.list(Query((Among("person_id"),)))) == []
        assert uow.crm.people.count(Among("person_id")) == 0
        unassigned = Source("crm_leads", "assigned_user_id", (Eq("source_system", "web"),))
        assert uow.crm.people.count(Among("household_id", (unassigned,))) == 0


@pytest.mark.parametrize(
    "source",
    [
        Source("no_such_table", "person_id"),
        Source("crm_leads", "no_such_column"),
        Source("crm_leads", "person_id", (Eq("no_such_field", 1),)),
        Source("crm_leads", "person_id", (Contains(("source_system",), "w"),)),  # type: ignore[arg-type]
    ],
)
def test_a_bad_source_is_refused(source: Source) -> None:
    with (
        Velocity.in_memory() as velocity,
        unit_of_work(velocity) as uow,
        pytest.raises(ValidationFailed),
    ):
        uow.crm.people.list(Query((Among("person_id", (source,)),)))


def test_reads_see_the_transactions_own_writes_and_rollback_restores_the_indexes() -> None:
    with Velocity.in_memory() as velocity:
        agent = User(email="agent@example.com", display_name="Agent")
        asha = Person(full_name="Asha Rao")
        with unit_of_work(velocity) as uow:
            uow.table(User).add(agent)
            uow.crm.people.add(asha)
            uow.commit()
        mine = Among(
            "person_id", (Source("crm_leads", "person_id", (Eq("assigned_user_id", agent.key),)),)
        )
        by_name = Query((Contains(("normalized_name",), "ravi"),), (asc("normalized_name"),))
        with unit_of_work(velocity) as uow:
            assert uow.crm.people.count(mine) == 0
            assert list(uow.crm.people.list(by_name)) == []
            ravi = uow.crm.people.add(Person(full_name="Ravi Sen"))
            uow.crm.leads.add(
                Lead(person_id=asha.key, source_system="web", assigned_user_id=agent.key)
            )
            assert [p.key for p in uow.crm.people.list(Query((mine,)))] == [asha.key]
            assert [p.key for p in uow.crm.people.list(by_name)] == [ravi.key]
            renamed = uow.crm.people.update(attrs.evolve(asha, full_name="Ravi Asha"))
            assert [p.key for p in uow.crm.people.list(by_name)] == [renamed.key, ravi.key]
        with unit_of_work(velocity) as uow:
            assert uow.crm.people.count(mine) == 0
            assert list(uow.crm.people.list(by_name)) == []
            assert [p.full_name for p in uow.crm.contact_list()] == ["Asha Rao"]


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("way", WAYS)
def test_an_update_that_keeps_index_values_is_seen_by_every_way(way: str | None) -> None:
    with Velocity.in_memory() as velocity:
        store = store_of(velocity)
        assert isinstance(store, MemoryStore)
        people = [
            Person(full_name=f"Person {i}", primary_email=f"old{i}@example.com") for i in range(12)
        ]
        people[5] = attrs.evolve(people[5], source_system="solo", source_ref="5")
        alone = Query((Eq("source_system", "solo"),))
        by_source = Query((Eq("source_system", None),), (desc("created_at"),), limit=20)
        renamed = Query(
            (Eq("source_system", None), Contains(("primary_email",), "NEW")), (desc("created_at"),)
        )
        store.planner.prefer = way
        with unit_of_work(velocity) as uow:
            uow.crm.people.add_many(people)
            uow.commit()
        with unit_of_work(velocity) as uow:
            assert list(uow.crm.people.list(renamed)) == []  # builds the indexes and texts
            assert len(uow.crm.people.list(by_source)) == 11
            assert list(uow.crm.people.list(alone)) == [people[5]]
            changed = uow.crm.people.update(
                attrs.evolve(people[4], primary_email="new4@example.com")
            )
            alone_changed = uow.crm.people.update(attrs.evolve(people[5], full_name="Solo"))
            assert list(uow.crm.people.list(renamed)) == [changed]
            assert changed in uow.crm.people.list(by_source)
            assert list(uow.crm.people.list(alone)) == [alone_changed]
            assert uow.crm.people.count(*renamed.where) == 1
        with unit_of_work(velocity) as uow:
            assert list(uow.crm.people.list(renamed)) == []
            assert people[4] in uow.crm.people.list(by_source)
            assert list(uow.crm.people.list(alone)) == [people[5]]
        store.planner.prefer = None


def test_composite_references_are_checked_by_index_and_rolled_back() -> None:
    with Velocity.in_memory() as velocity:
        run, other = AgentRun(agent_name="planner"), AgentRun(agent_name="critic")
        with unit_of_work(velocity) as uow:
            uow.table(AgentRun).add_many([run, other])
            uow.commit()
        branch = Branch(agent_run_id=run.key, label="A")
        with unit_of_work(velocity) as uow:
            uow.table(Branch).add(branch)
            step = WorkflowAction(
                agent_run_id=run.key, branch_id=branch.key, sequence=1, action_type="call"
            )
            uow.table(WorkflowAction).add(step)
        with unit_of_work(velocity) as uow, pytest.raises(ConstraintViolation):
            uow.table(WorkflowAction).add(
                WorkflowAction(
                    agent_run_id=run.key, branch_id=branch.key, sequence=1, action_type="call"
                )
            )
        with unit_of_work(velocity) as uow:
            uow.table(Branch).add(branch)
            with pytest.raises(ConstraintViolation):
                uow.table(WorkflowAction).add(
                    WorkflowAction(
                        agent_run_id=other.key, branch_id=branch.key, sequence=1, action_type="x"
                    )
                )
