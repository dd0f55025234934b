"""The repository contract: what every store must do, tested once for all of them.

Subclass :class:`RepositoryContract` and provide a ``velocity`` fixture over
an empty store (see :mod:`velocity_domain.testing`). No test here asks which
store it runs on; a store that passes behaves like the built-in ones.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from velocity_domain.crm.entities import (
    Account,
    AccountType,
    Lead,
    Opportunity,
    Person,
    PropertyInterest,
    PropertyInterestStatus,
    Relationship,
    RelationshipKind,
)
from velocity_domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    ConstraintViolation,
    InvalidCursor,
    NotFound,
    UnitOfWorkError,
    ValidationFailed,
)
from velocity_domain.intel.entities import (
    Channel,
    Interaction,
    QdTimeseriesPoint,
    SignalSource,
)
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.query import (
    Contains,
    Eq,
    HasLabel,
    In,
    IsNull,
    Query,
    Range,
    asc,
    desc,
)
from velocity_domain.testing.client_graph_contract import ClientGraphContract
from velocity_domain.testing.samples import SampleWorld
from velocity_domain.testing.seeding import unit_of_work
from velocity_domain.velocity import Velocity

__all__ = ["RepositoryContract"]

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def _later_than_now() -> datetime:
    """A clock start after every default ``created_at`` a test may make."""
    return (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)


def _commit(velocity: Velocity, *rows: Any) -> None:
    with unit_of_work(velocity) as uow:
        for row in rows:
            uow.table(type(row)).add(row)
        uow.commit()


class RepositoryContract(ClientGraphContract):
    """Every behaviour the storage ports promise, as pytest tests (the client graph's too)."""

    @pytest.fixture
    def clock(self) -> FixedClock:
        """The clock the store under test must use for ``updated_at``."""
        return FixedClock(_later_than_now())

    @pytest.fixture
    def velocity(self, clock: FixedClock) -> Iterator[Velocity]:
        """Override: yield a Velocity over an empty store that uses ``clock``."""
        raise NotImplementedError("subclass RepositoryContract and provide a velocity fixture")

    # -- every table --------------------------------------------------------

    def test_every_table_stores_and_returns_its_rows(self, velocity: Velocity) -> None:
        world = SampleWorld.build()
        with unit_of_work(velocity) as uow:
            for row in world.rows:
                uow.table(type(row)).add(row)
            uow.commit()
        with unit_of_work(velocity) as uow:
            for row in world.rows:
                assert uow.table(type(row)).get(row.key) == row

    # -- reading and writing one row -----------------------------------------

    def test_get_missing_raises_not_found_and_find_gives_none(self, velocity: Velocity) -> None:
        missing = new_id()
        with unit_of_work(velocity) as uow:
            with pytest.raises(NotFound) as err:
                uow.crm.people.get(missing)
            assert (err.value.entity, err.value.key) == ("crm_people", missing)
            assert uow.crm.people.find(missing) is None

    def test_get_many_returns_only_existing_rows(self, velocity: Velocity) -> None:
        a, b = Person(full_name="Asha Rao"), Person(full_name="Ravi Sen")
        _commit(velocity, a, b)
        with unit_of_work(velocity) as uow:
            found = uow.crm.people.get_many([b.key, new_id(), a.key, b.key])
        assert dict(found) == {b.key: b, a.key: a}

    def test_a_duplicate_key_is_refused_and_fails_the_unit_of_work(
        self, velocity: Velocity
    ) -> None:
        person = Person(full_name="Asha Rao")
        _commit(velocity, person)
        with unit_of_work(velocity) as uow:
            with pytest.raises(AlreadyExists) as err:
                uow.crm.people.add(person)
            assert err.value.constraint == "pk_crm_people"
            assert err.value.key == {"person_id": person.key}
            with pytest.raises(UnitOfWorkError, match="broke a storage rule"):
                uow.crm.people.count()
            with pytest.raises(UnitOfWorkError):
                uow.commit()
        with unit_of_work(velocity) as uow:
            assert uow.crm.people.count() == 1

    def test_source_keys_are_unique(self, velocity: Velocity) -> None:
        first = Person(full_name="Asha Rao", source_system="legacy", source_ref="L-1")
        _commit(velocity, first)
        again = Person(full_name="Asha R.", source_system="legacy", source_ref="L-1")
        other = Person(full_name="Asha", source_system="legacy", source_ref="L-2")
        with unit_of_work(velocity) as uow, pytest.raises(AlreadyExists) as err:
            uow.crm.people.add(again)
        assert err.value.constraint == "uq_crm_people_source_system_source_ref"
        assert err.value.key == {"source_system": "legacy", "source_ref": "L-1"}
        _commit(velocity, other)

    def test_a_reference_to_a_missing_row_is_refused(self, velocity: Velocity) -> None:
        lead = Lead(person_id=new_id(), source_system="web")
        with unit_of_work(velocity) as uow, pytest.raises(ConstraintViolation) as err:
            uow.crm.leads.add(lead)
        assert err.value.constraint == "fk_crm_leads_person_id"
        assert "names no row of crm_people" in err.value.reason

    def test_rows_of_the_wrong_class_are_refused(self, velocity: Velocity) -> None:
        with unit_of_work(velocity) as uow, pytest.raises(ValidationFailed):
            uow.crm.people.add(Account(account_name="Not a person"))  # type: ignore[arg-type]

    # -- optimistic concurrency --------------------------------------------

    def test_update_bumps_version_keeps_created_at_and_stamps_updated_at(
        self, velocity: Velocity, clock: FixedClock
    ) -> None:
        person = Person(full_name="Asha Rao", created_at=T0, updated_at=T0)
        _commit(velocity, person)
        later = clock.advance(minutes=5)
        with unit_of_work(velocity) as uow:
            stored = uow.crm.people.update(attrs.evolve(person, full_name="Asha Sen"))
            uow.commit()
        assert (stored.version, stored.full_name, stored.normalized_name) == (
            2,
            "Asha Sen",
            "asha sen",
        )
        assert stored.created_at == T0
        assert stored.updated_at == later
        with unit_of_work(velocity) as uow:
            assert uow.crm.people.get(person.key) == stored

    def test_a_stale_update_names_both_versions_and_changes_nothing(
        self, velocity: Velocity
    ) -> None:
        person = Person(full_name="Asha Rao")
        _commit(velocity, person)
        with unit_of_work(velocity) as uow:
            uow.crm.people.update(attrs.evolve(person, full_name="First Writer"))
            uow.commit()
        with unit_of_work(velocity) as uow:
            with pytest.raises(ConcurrencyConflict) as err:
                uow.crm.people.update(attrs.evolve(person, full_name="Second Writer"))
            assert (err.value.expected_version, err.value.actual_version) == (1, 2)
            assert err.value.entity == "crm_people"
            assert uow.crm.people.get(person.key).full_name == "First Writer"

    def test_expected_version_can_be_given_explicitly(self, velocity: Velocity) -> None:
        person = Person(full_name="Asha Rao")
        _commit(velocity, person)
        with unit_of_work(velocity) as uow:
            with pytest.raises(ConcurrencyConflict):
                uow.crm.people.update(person, expected_version=7)
            stored = uow.crm.people.update(person, expected_version=1)
        assert stored.version == 2

    def test_updating_a_missing_row_raises_not_found(self, velocity: Velocity) -> None:
        with unit_of_work(velocity) as uow, pytest.raises(NotFound):
            uow.crm.people.update(Person(full_name="Nobody"))

    def test_concurrent_updates_from_two_threads_let_exactly_one_win(
        self, velocity: Velocity
    ) -> None:
        person = Person(full_name="Asha Rao")
        _commit(velocity, person)
        outcomes: list[str] = []
        barrier = threading.Barrier(2)

        def writer(name: str) -> None:
            barrier.wait()
            try:
                with unit_of_work(velocity) as uow:
                    uow.crm.people.update(attrs.evolve(person, full_name=name))
                    uow.commit()
                outcomes.append("won")
            except ConcurrencyConflict:
                outcomes.append("conflict")

        threads = [threading.Thread(target=writer, args=(n,)) for n in ("One Writer", "Two Writer")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(outcomes) == ["conflict", "won"]
        with unit_of_work(velocity) as uow:
            assert uow.crm.people.get(person.key).version == 2

    # -- append-only and deletion --------------------------------------------

    def test_evidence_tables_offer_no_update(self, velocity: Velocity) -> None:
        with unit_of_work(velocity) as uow:
            person = uow.crm.people.add(Person(full_name="Asha Rao"))
            call = uow.intel.interactions.add(
                Interaction(person_id=person.key, channel=Channel.CALL, happened_at=T0)
            )
            with pytest.raises(ValidationFailed):
                uow.intel.interactions.update(call)  # type: ignore[attr-defined]

    def test_only_deletable_rows_can_be_deleted(self, velocity: Velocity) -> None:
        a, b = Person(full_name="Asha Rao"), Person(full_name="Ravi Rao")
        link = Relationship(from_person_id=a.key, to_person_id=b.key, kind=RelationshipKind.SPOUSE)
        _commit(velocity, a, b, link)
        with unit_of_work(velocity) as uow:
            with pytest.raises(ConstraintViolation):
                uow.crm.people.delete(a.key)
            with pytest.raises(ConcurrencyConflict):
                uow.crm.relationships.delete(link.key, expected_version=3)
            uow.crm.relationships.delete(link.key, expected_version=1)
            with pytest.raises(NotFound):
                uow.crm.relationships.delete(link.key)
            uow.commit()
        with unit_of_work(velocity) as uow:
            assert uow.crm.relationships.find(link.key) is None
            assert uow.crm.people.count() == 2

    def test_update_many_sets_rows_still_at_their_version(
        self, velocity: Velocity, clock: FixedClock
    ) -> None:
        people = [Person(full_name=f"Person {i}", primary_email=f"p{i}@x.in") for i in range(70)]
        with unit_of_work(velocity) as uow:
            uow.crm.people.add_many(people)  # enough rows to take the bulk path
            uow.commit()
        stale, missing = people[1], new_id()
        with unit_of_work(velocity) as uow:
            changes = [
                (people[0].key, 1, {"full_name": "Asha Rao", "normalized_name": "asha rao"}),
                (stale.key, 7, {"primary_phone": "+919830012345"}),
                (missing, 1, {"primary_phone": "+919830012345"}),
                (people[2].key, 1, {"primary_phone": "+919830012346"}),
            ]
            assert uow.crm.people.update_many(changes) == {people[0].key, people[2].key}
            with pytest.raises(ValidationFailed):
                uow.crm.people.update_many([(people[3].key, 1, {"version": 4})])
        with unit_of_work(velocity) as uow:
            assert uow.crm.people.get(people[0].key).version == 1  # rolled back
            changes = [(people[0].key, 1, {"full_name": "Asha Rao", "normalized_name": "asha rao"})]
            uow.crm.people.update_many(changes)
            uow.commit()
        with unit_of_work(velocity) as uow:
            found = uow.crm.people.get(people[0].key)
            assert (found.full_name, found.normalized_name, found.version) == (
                "Asha Rao",
                "asha rao",
                2,
            )
            assert found.updated_at == clock.now()
            assert uow.crm.people.count(Eq("normalized_name", "asha rao")) == 1

    def test_where_in_finds_every_row_with_one_of_the_values(self, velocity: Velocity) -> None:
        people = [
            Person(full_name=f"Person {i}", primary_email=f"p{i % 40}@x.in") for i in range(80)
        ]
        with unit_of_work(velocity) as uow:
            uow.crm.people.add_many(people)
            uow.commit()
        wanted = [f"p{i}@x.in" for i in range(0, 40, 3)] + ["nobody@x.in"] * 2
        with unit_of_work(velocity) as uow:
            found = uow.crm.people.where_in("primary_email", wanted)
            named = uow.crm.people.where_in("primary_email", wanted, Eq("full_name", "Person 3"))
            assert uow.crm.people.where_in("primary_email", []) == []
            with pytest.raises(ValidationFailed):
                uow.crm.people.where_in("primary_email", [f"{i}" for i in range(10_001)])
        expected = {p.key for p in people if p.primary_email in wanted}
        assert len(found) == len(expected) == 28
        assert {p.key for p in found} == expected
        assert [p.full_name for p in named] == ["Person 3"]

    def test_remove_unreferenced_spares_rows_changed_or_pointed_to(
        self, velocity: Velocity
    ) -> None:
        a, b, c = (Person(full_name=n) for n in ("Asha Rao", "Ravi Rao", "Meera Iyer"))
        link = Relationship(from_person_id=a.key, to_person_id=b.key, kind=RelationshipKind.SPOUSE)
        _commit(velocity, a, b, c, link)
        with unit_of_work(velocity) as uow:
            uow.crm.people.update(attrs.evolve(c, full_name="Meera Iyer Rao"))
            uow.commit()
        with unit_of_work(velocity) as uow:
            keys = [(a.key, 1), (b.key, 1), (c.key, 1)]
            assert uow.crm.people.remove_unreferenced(keys) == set()
            uow.crm.relationships.delete(link.key)
            assert uow.crm.people.remove_unreferenced(keys) == {a.key, b.key}
            uow.commit()
        with unit_of_work(velocity) as uow:
            assert [p.key for p in uow.crm.people.list().items] == [c.key]

    def test_count_by_groups_the_matching_rows_by_a_field(self, velocity: Velocity) -> None:
        a, b = Person(full_name="Asha Rao"), Person(full_name="Ravi Rao")
        talks = [
            Interaction(person_id=p.key, channel=c, happened_at=T0)
            for p, c in (
                (a, Channel.CALL),
                (a, Channel.CALL),
                (a, Channel.EMAIL),
                (b, Channel.CALL),
            )
        ]
        _commit(velocity, a, b, *talks)
        with unit_of_work(velocity) as uow:
            table = uow.intel.interactions
            mine = table.count_by("channel", Eq("person_id", a.key))
            assert mine == {Channel.CALL: 2, Channel.EMAIL: 1}
            assert table.count_by("person_id") == {a.key: 3, b.key: 1}
            assert table.count_by("channel", In("person_id", ())) == {}
            with pytest.raises(ValidationFailed):
                table.count_by("no_such_field")

    def test_relink_moves_references_still_holding_the_old_id(
        self, velocity: Velocity, clock: FixedClock
    ) -> None:
        a, b, c = (Person(full_name=n) for n in ("Asha Rao", "Asha R", "Ravi Rao"))
        lead = Lead(person_id=b.key, source_system="web")
        other = Lead(person_id=c.key, source_system="web")
        talk = Interaction(person_id=b.key, channel=Channel.CALL, happened_at=T0)
        _commit(velocity, a, b, c, lead, other, talk)
        with unit_of_work(velocity) as uow:
            moves = [(lead.key, b.key, a.key), (other.key, b.key, a.key)]
            assert uow.crm.leads.relink("person_id", moves) == {lead.key}
            # Append-only evidence takes this one change too, and keeps no version.
            done = uow.intel.interactions.relink("person_id", [(talk.key, b.key, a.key)])
            assert done == {talk.key}
            with pytest.raises(ValidationFailed):
                uow.crm.leads.relink("source_system", [(lead.key, b.key, a.key)])
            uow.commit()
        with unit_of_work(velocity) as uow:
            moved = uow.crm.leads.get(lead.key)
            assert (moved.person_id, moved.version, moved.updated_at) == (a.key, 2, clock.now())
            assert uow.crm.leads.get(other.key).person_id == c.key
            assert uow.intel.interactions.get(talk.key).person_id == a.key

    # -- units of work -------------------------------------------------------

    def test_leaving_without_commit_rolls_back_adds_updates_and_deletes(
        self, velocity: Velocity
    ) -> None:
        a, b = Person(full_name="Asha Rao"), Person(full_name="Ravi Rao")
        link = Relationship(from_person_id=a.key, to_person_id=b.key, kind=RelationshipKind.SIBLING)
        _commit(velocity, a, b, link)
        with unit_of_work(velocity) as uow:
            uow.crm.people.add(Person(full_name="Temporary Person"))
            uow.crm.people.update(attrs.evolve(a, full_name="Changed Name"))
            uow.crm.relationships.delete(link.key)
        with unit_of_work(velocity) as uow:
            assert uow.crm.people.count() == 2
            assert uow.crm.people.get(a.key) == a
            assert uow.crm.relationships.get(link.key) == link

    def test_an_exception_in_the_block_rolls_back(self, velocity: Velocity) -> None:
        with pytest.raises(RuntimeError), unit_of_work(velocity) as uow:
            uow.crm.people.add(Person(full_name="Asha Rao"))
            raise RuntimeError("boom")
        with unit_of_work(velocity) as uow:
            assert uow.crm.people.count() == 0

    def test_explicit_rollback_ends_the_unit_of_work(self, velocity: Velocity) -> None:
        with unit_of_work(velocity) as uow:
            uow.crm.people.add(Person(full_name="Asha Rao"))
            uow.rollback()
            with pytest.raises(UnitOfWorkError, match="rolled back"):
                uow.crm.people.count()
        with unit_of_work(velocity) as uow:
            assert uow.crm.people.count() == 0

    def test_units_of_work_do_not_nest_and_are_used_once(self, velocity: Velocity) -> None:
        uow = unit_of_work(velocity)
        with pytest.raises(UnitOfWorkError, match="not open"):
            _ = uow.crm
        with uow:
            with pytest.raises(UnitOfWorkError, match="do not nest"), unit_of_work(velocity):
                pass
            uow.commit()
            with pytest.raises(UnitOfWorkError, match="committed"):
                uow.commit()
        with pytest.raises(UnitOfWorkError), uow:
            pass
        with unit_of_work(velocity) as fresh:
            assert fresh.crm.people.count() == 0

    def test_returned_documents_are_copies(self, velocity: Velocity) -> None:
        account = Account(account_name="Skyline", metadata_json={"tier": "gold"})
        _commit(velocity, account)
        with unit_of_work(velocity) as uow:
            uow.crm.accounts.get(account.key).metadata_json["tier"] = "changed"
            assert uow.crm.accounts.get(account.key).metadata_json == {"tier": "gold"}

    # -- listing, filters and pagination -----------------------------------

    def test_pages_follow_the_order_without_gaps_or_repeats(self, velocity: Velocity) -> None:
        names = [
            "Meera Iyer",
            "Asha Rao",
            "Zoya Khan",
            "Ravi Sen",
            "Bina Das",
            "Kabir Roy",
            "Asha Rao",
        ]
        people = [Person(full_name=n) for n in names]
        _commit(velocity, *people)
        seen: list[Person] = []
        cursor = None
        with unit_of_work(velocity) as uow:
            while True:
                page = uow.crm.people.list(
                    Query(order_by=(asc("normalized_name"),), limit=3, cursor=cursor)
                )
                assert len(page) <= 3
                seen.extend(page)
                cursor = page.next_cursor
                if cursor is None:
                    break
        expected = sorted(people, key=lambda p: (p.normalized_name, p.key))
        assert seen == expected

    def test_descending_orders_and_exact_page_boundaries(self, velocity: Velocity) -> None:
        person = Person(full_name="Asha Rao")
        moments = [T0 + timedelta(hours=h) for h in (3, 1, 2, 2, 5, 4)]
        calls = [
            Interaction(person_id=person.key, channel=Channel.CALL, happened_at=m) for m in moments
        ]
        _commit(velocity, person, *calls)
        with unit_of_work(velocity) as uow:
            first = uow.intel.timeline(person.key, limit=6)
            assert first.next_cursor is None
            order = [(i.happened_at, i.key) for i in first]
            assert order == sorted(order, reverse=True)
            pages = [uow.intel.timeline(person.key, limit=2)]
            while pages[-1].next_cursor:
                pages.append(uow.intel.timeline(person.key, limit=2, cursor=pages[-1].next_cursor))
        assert [len(p) for p in pages] == [2, 2, 2]
        assert [i for p in pages for i in p] == list(first)

    def test_a_cursor_only_continues_its_own_listing(self, velocity: Velocity) -> None:
        _commit(velocity, *(Person(full_name=f"Person {c}") for c in "ABCD"))
        with unit_of_work(velocity) as uow:
            page = uow.crm.contact_list(limit=2)
            assert page.next_cursor is not None
            with pytest.raises(InvalidCursor):
                uow.crm.contact_list(limit=2, cursor=page.next_cursor, newest_first=True)
            with pytest.raises(InvalidCursor):
                uow.crm.contact_list(limit=2, cursor=page.next_cursor, search="person")
            with pytest.raises(InvalidCursor):
                uow.crm.contact_list(limit=2, cursor=page.next_cursor[:-3] + "AAA")

    def test_text_sorts_by_code_point_in_every_store(self, velocity: Velocity) -> None:
        names = ["beta", "Zeta", "Émile", "alpha", "Alpha", "zeta"]
        _commit(velocity, *(Account(account_name=n) for n in names))
        with unit_of_work(velocity) as uow:
            listed = [a.account_name for a in uow.crm.account_list(limit=10)]
        assert listed == sorted(names)

    def test_filters_mean_the_same_in_every_store(self, velocity: Velocity) -> None:
        a = Person(
            full_name="Asha Rao", primary_email="asha@example.com", persona_labels=("buyer",)
        )
        b = Person(
            full_name="Ravi Sen",
            persona_labels=("investor", "buyer"),
            source_confidence=Decimal("0.5"),
        )
        c = Person(full_name="Émile Roy", primary_phone="+919830012345")
        _commit(velocity, a, b, c)

        def keys(*where: Any) -> set[Any]:
            with unit_of_work(velocity) as uow:
                return {p.key for p in uow.crm.people.list(Query(where=where))}

        assert keys(Eq("full_name", "Ravi Sen")) == {b.key}
        assert keys(Eq("primary_email", None)) == {b.key, c.key}
        assert keys(IsNull("primary_phone", is_null=False)) == {c.key}
        assert keys(In("person_id", [a.key, c.key, new_id()])) == {a.key, c.key}
        assert keys(In("person_id", [])) == set()
        assert keys(HasLabel("persona_labels", "buyer")) == {a.key, b.key}
        assert keys(Range("source_confidence", gte=Decimal("0.4"))) == {b.key}
        assert keys(Range("normalized_name", gte="b", lt="s")) == {b.key, c.key}
        assert keys(Contains(("full_name",), "RAO")) == {a.key}
        assert keys(Contains(("full_name",), "émile")) == set()  # only ASCII case folds
        assert keys(Contains(("full_name", "primary_phone"), "9830")) == {c.key}
        assert keys(Eq("full_name", "Ravi Sen"), HasLabel("persona_labels", "investor")) == {b.key}
        with unit_of_work(velocity) as uow:
            assert uow.crm.people.count(HasLabel("persona_labels", "buyer")) == 2

    def test_queries_naming_unknown_or_nullable_sort_fields_are_refused(
        self, velocity: Velocity
    ) -> None:
        with unit_of_work(velocity) as uow:
            with pytest.raises(ValidationFailed) as err:
                uow.crm.people.list(Query(where=(Eq("no_such_field", 1),)))
            assert err.value.field == "where"
            with pytest.raises(ValidationFailed) as err:
                uow.crm.people.list(Query(order_by=(desc("primary_email"),)))
            assert err.value.field == "order_by"

    # -- the read methods of spec section 10 --------------------------------

    def test_contact_list_searches_names_emails_and_phones(self, velocity: Velocity) -> None:
        a = Person(full_name="Smt. Ásha Rao", primary_email="asha.rao@example.com")
        b = Person(full_name="Ravi Sen", primary_phone="9830012345", persona_labels=("investor",))
        c = Person(full_name="Kabir Roy", source_system="legacy", source_ref="7")
        _commit(velocity, a, b, c)
        with unit_of_work(velocity) as uow:
            crm = uow.crm
            assert [p.key for p in crm.contact_list(search="asha")] == [a.key]
            assert [p.key for p in crm.contact_list(search="ASHA RAO")] == [a.key]
            assert [p.key for p in crm.contact_list(search="98300 12345")] == [b.key]
            assert [p.key for p in crm.contact_list(search="rao@example")] == [a.key]
            assert [p.key for p in crm.contact_list(persona_label="investor")] == [b.key]
            assert [p.key for p in crm.contact_list(source_system="legacy")] == [c.key]
            assert [p.key for p in crm.contact_list(person_ids=[c.key, a.key])] == [a.key, c.key]
            assert [p.full_name for p in crm.contact_list()] == [
                "Smt. Ásha Rao",
                "Kabir Roy",
                "Ravi Sen",
            ]

    def test_contact_list_time_ranges_and_newest_first(self, velocity: Velocity) -> None:
        people = [
            Person(
                full_name=f"Person {i}",
                created_at=T0 + timedelta(days=i),
                updated_at=T0 + timedelta(days=i),
            )
            for i in range(4)
        ]
        _commit(velocity, *people)
        with unit_of_work(velocity) as uow:
            newest = uow.crm.contact_list(newest_first=True)
            ranged = uow.crm.contact_list(
                created_from=T0 + timedelta(days=1), created_to=T0 + timedelta(days=3)
            )
        assert [p.key for p in newest] == [p.key for p in reversed(people)]
        assert {p.key for p in ranged} == {people[1].key, people[2].key}

    def test_account_list_filters_by_type_parent_and_name(self, velocity: Velocity) -> None:
        parent = Account(account_name="Skyline Group", account_type=AccountType.COMPANY)
        child = Account(
            account_name="Skyline Homes",
            account_type=AccountType.DEVELOPER,
            parent_account_id=parent.key,
        )
        other = Account(account_name="Harbor Realty", account_type=AccountType.BROKERAGE)
        _commit(velocity, parent, child, other)
        with unit_of_work(velocity) as uow:
            crm = uow.crm
            assert [a.key for a in crm.account_list(search="skyline")] == [parent.key, child.key]
            assert [a.key for a in crm.account_list(account_type="developer")] == [child.key]
            assert [a.key for a in crm.account_list(parent_account_id=parent.key)] == [child.key]

    def test_timeline_filters_by_channel_and_time(self, velocity: Velocity) -> None:
        person, other = Person(full_name="Asha Rao"), Person(full_name="Ravi Sen")
        rows = [
            Interaction(person_id=person.key, channel=Channel.CALL, happened_at=T0),
            Interaction(
                person_id=person.key, channel=Channel.WHATSAPP, happened_at=T0 + timedelta(hours=1)
            ),
            Interaction(
                person_id=person.key, channel=Channel.EMAIL, happened_at=T0 + timedelta(hours=2)
            ),
            Interaction(person_id=other.key, channel=Channel.CALL, happened_at=T0),
        ]
        _commit(velocity, person, other, *rows)
        with unit_of_work(velocity) as uow:
            intel = uow.intel
            assert [i.key for i in intel.timeline(person.key)] == [
                rows[2].key,
                rows[1].key,
                rows[0].key,
            ]
            calls_and_chats = intel.timeline(person.key, channels=["call", Channel.WHATSAPP])
            assert [i.key for i in calls_and_chats] == [rows[1].key, rows[0].key]
            window = intel.timeline(
                person.key, since=T0 + timedelta(minutes=30), until=T0 + timedelta(hours=2)
            )
            assert [i.key for i in window] == [rows[1].key]

    def test_qd_history_is_newest_first(self, velocity: Velocity) -> None:
        person = Person(full_name="Asha Rao")
        points = [
            QdTimeseriesPoint(
                person_id=person.key,
                signal_source=SignalSource.CALL,
                timestamp=T0 + timedelta(days=d),
                value=Decimal(d),
            )
            for d in (2, 0, 1)
        ]
        _commit(velocity, person, *points)
        with unit_of_work(velocity) as uow:
            history = uow.intel.qd_history(person.key)
        assert [p.value for p in history] == [Decimal(2), Decimal(1), Decimal(0)]

    def test_property_interests_of_a_client(self, velocity: Velocity) -> None:
        person, other = Person(full_name="Asha Rao"), Person(full_name="Ravi Sen")
        active = PropertyInterest(
            person_id=person.key, configuration="3BHK", created_at=T0, updated_at=T0
        )
        closed = PropertyInterest(
            person_id=person.key,
            configuration="2BHK",
            status=PropertyInterestStatus.CLOSED,
            created_at=T0 + timedelta(hours=1),
            updated_at=T0 + timedelta(hours=1),
        )
        _commit(velocity, person, other, active, closed, PropertyInterest(person_id=other.key))
        with unit_of_work(velocity) as uow:
            crm = uow.crm
            assert [i.key for i in crm.property_interests_of(person.key)] == [
                closed.key,
                active.key,
            ]
            assert [i.key for i in crm.property_interests_of(person.key, status="active")] == [
                active.key
            ]

    def test_opportunities_keep_money_exact(self, velocity: Velocity) -> None:
        person = Person(full_name="Asha Rao")
        deal = Opportunity(
            person_id=person.key, value=Decimal("12500000.50"), probability=Decimal("0.35")
        )
        _commit(velocity, person, deal)
        with unit_of_work(velocity) as uow:
            stored = uow.crm.opportunities.get(deal.key)
        assert stored.value == Decimal("12500000.50")
        assert stored.probability == Decimal("0.35")
        assert stored == deal
