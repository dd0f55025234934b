"""contacts.create_many: many contacts in one governed, audited call; bad rows refused alone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.crm.entities import Person
from velocity_domain.errors import PermissionDenied, ValidationFailed
from velocity_domain.governance.policy import FieldRule
from velocity_domain.identity.entities import AuditEvent
from velocity_domain.kernel.query import Eq
from velocity_domain.services.crm.contacts import MAX_BULK
from velocity_domain.testing import count, seed
from velocity_domain.workflow.entities import PolicyOutcome, Writeback, WritebackStatus


def _created_events(v: Velocity) -> int:
    return count(v, AuditEvent, Eq("action", "crm.contacts.create"))


def test_good_rows_land_and_each_is_audited(world: World) -> None:
    v, w = world.velocity, world
    before_people, before_events = count(v, Person), _created_events(v)
    rows = [
        {"full_name": f"Bulk Person {i}", "primary_phone": f"98300 1{i:04d}"} for i in range(120)
    ]
    result = v.contacts.create_many(w.admin, rows)
    assert [p.full_name for p in result.created] == [r["full_name"] for r in rows]
    assert result.refused == ()
    assert result.proposed == ()
    assert result.created[7].primary_phone == "+919830010007"
    assert count(v, Person) == before_people + 120
    assert _created_events(v) == before_events + 120
    listed = v.contacts.list(w.admin, search="bulk person 11", limit=50)
    assert {p.full_name for p in listed} >= {"Bulk Person 11", "Bulk Person 110"}


def test_each_bad_row_is_refused_with_its_field_and_the_rest_land(
    world: World,
) -> None:
    v, w = world.velocity, world
    seed(v, Person(full_name="Stored", primary_email="taken@example.com"))
    seed(v, Person(full_name="Imported", source_system="hubspot", source_ref="hs-1"))
    rows: list[Any] = [
        {"full_name": "Good One", "primary_email": "one@example.com"},
        {"full_name": "Bad Email", "primary_email": "not-an-email"},
        {"full_name": "Clash", "primary_email": "taken@example.com"},
        {"full_name": "Good Two", "primary_email": "two@example.com"},
        {"full_name": "Twin Of Two", "primary_email": "TWO@example.com"},
        {"primary_email": "nameless@example.com"},
        {"full_name": "Typo", "primary_emial": "x@example.com"},
        "not a row",
        {"full_name": "Same Ref", "source_system": "hubspot", "source_ref": "hs-1"},
        {"full_name": "New Ref", "source_system": "hubspot", "source_ref": "hs-2"},
        {"full_name": "Ref Twin", "source_system": "hubspot", "source_ref": "hs-2"},
        {"full_name": "Other System", "source_system": "salesforce", "source_ref": "hs-1"},
    ]
    result = v.contacts.create_many(w.admin, rows)
    assert [p.full_name for p in result.created] == [
        "Good One",
        "Good Two",
        "New Ref",
        "Other System",
    ]
    refused = {r.index: (r.field, r.code) for r in result.refused}
    assert refused == {
        1: ("primary_email", "validation_failed"),
        2: ("primary_email", "duplicate_suspected"),
        4: ("primary_email", "duplicate_suspected"),
        5: ("full_name", "validation_failed"),
        6: ("primary_emial", "validation_failed"),
        7: ("row", "validation_failed"),
        8: ("source_ref", "already_exists"),
        10: ("source_ref", "already_exists"),
    }
    # The reason never names the stored record (the caller may not see it).
    stored = [str(p.key) for p in v.contacts.list(w.admin, search="taken@")]
    assert stored
    assert not any(stored[0] in r.reason for r in result.refused)


def test_allow_duplicate_keeps_shared_contact_points(world: World) -> None:
    v, w = world.velocity, world
    seed(v, Person(full_name="Family Phone", primary_phone="9830099999"))
    rows = [
        {"full_name": "Son", "primary_phone": "9830099999"},
        {"full_name": "Daughter", "primary_phone": "+91 98300 99999"},
    ]
    assert len(v.contacts.create_many(w.admin, rows).refused) == 2
    kept = v.contacts.create_many(w.admin, rows, allow_duplicate=True, reason="one family phone")
    assert [p.full_name for p in kept.created] == ["Son", "Daughter"]


def test_rows_the_policy_reviews_become_proposals(world: World) -> None:
    v, w = world.velocity, world
    v.governance.policy.add(
        FieldRule(
            "vip_by_hand",
            lambda change, _: "a VIP" if "vip" in change.fields.get("persona_labels", ()) else None,
            outcome=PolicyOutcome.REVIEW_REQUIRED,
        )
    )
    rows = [
        {"full_name": "Needs Review", "persona_labels": ["vip"]},
        {"full_name": "No Details"},
    ]
    result = v.contacts.create_many(w.admin, rows)
    assert [p.full_name for p in result.created] == ["No Details"]
    [(index, writeback_id)] = result.proposed
    assert index == 0
    stored = v.writebacks.get(w.admin, writeback_id).writeback
    assert isinstance(stored, Writeback)
    assert stored.status is WritebackStatus.REVIEW_REQUIRED
    assert count(v, Person, Eq("full_name", "Needs Review")) == 0


def test_rows_the_policy_denies_are_refused_alone(world: World) -> None:
    v, w = world.velocity, world
    v.governance.policy.add(
        FieldRule(
            "no_test_people",
            lambda change, _: "test data" if change.fields.get("full_name") == "Test" else None,
            outcome=PolicyOutcome.DENY,
        )
    )
    result = v.contacts.create_many(w.admin, [{"full_name": "Test"}, {"full_name": "Real"}])
    assert [p.full_name for p in result.created] == ["Real"]
    [refused] = result.refused
    assert (refused.index, refused.code) == (0, "policy_denied")
    assert "no_test_people" in refused.reason


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ("full_name", "rows"),
        ({"full_name": "A Mapping"}, "rows"),
        (42, "rows"),
        ([{"full_name": f"P{i}"} for i in range(MAX_BULK + 1)], "rows"),
    ],
)
def test_a_batch_that_is_no_list_of_rows_is_refused(world: World, rows: Any, field: str) -> None:
    v, w = world.velocity, world
    before = count(v, Person)
    with pytest.raises(ValidationFailed) as err:
        v.contacts.create_many(w.admin, rows)
    assert err.value.field == field
    assert count(v, Person) == before


def test_bulk_needs_the_write_permission(world: World) -> None:
    v, w = world.velocity, world
    with pytest.raises(PermissionDenied):
        v.contacts.create_many(w.by_role["analyst"], [{"full_name": "Nobody"}])


def test_row_values_get_the_checks_of_create(world: World) -> None:
    v, w = world.velocity, world
    rows: list[Any] = [
        {"full_name": "Labels As Text", "persona_labels": "buyer"},
        {"full_name": "Lone \ud800 Surrogate"},
        {"full_name": 42},
        {"full_name": "Fine", "persona_labels": ["buyer"]},
    ]
    result = v.contacts.create_many(w.admin, rows)
    assert [(p.full_name, p.persona_labels) for p in result.created] == [("Fine", ("buyer",))]
    assert [(r.index, r.field) for r in result.refused] == [
        (0, "persona_labels"),
        (1, "full_name"),
        (2, "full_name"),
    ]
