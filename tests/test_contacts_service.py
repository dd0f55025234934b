"""Contacts (create, update), accounts and their hierarchy, households and relationships."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.crm.entities import Lead, Person
from velocity_domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    DuplicateSuspected,
    NotFound,
    ValidationFailed,
    WritebackFailed,
)
from velocity_domain.kernel.query import Eq
from velocity_domain.testing import unit_of_work
from velocity_domain.workflow.entities import Writeback, WritebackStatus

Call = Callable[[Velocity, World], Any]


def _assigned(v: Velocity, user_id: uuid.UUID | None, name: str) -> Person:
    person = Person(full_name=name)
    with unit_of_work(v) as uow:
        uow.crm.people.add(person)
        uow.crm.leads.add(Lead(person_id=person.key, source_system="web", assigned_user_id=user_id))
        uow.commit()
    return person


# --- contacts ---------------------------------------------------------------------------


def test_create_normalises_and_audits(world: World) -> None:
    v, w = world.velocity, world
    person = v.contacts.create(
        w.agent_a,
        full_name="Smt. Meera  Iyer",
        primary_email=" Meera@Example.COM ",
        primary_phone="098311 22334",
        persona_labels=["investor"],
    )
    assert person.primary_email == "meera@example.com"
    assert person.primary_phone == "+919831122334"
    assert person.normalized_name == "meera iyer"
    assert person.persona_labels == ("investor",)
    assert v.contacts.get(w.admin, person.key) == person
    events = v.audit.list(w.admin, action="crm.contacts.create").items
    assert [e.target_ref for e in events] == [str(person.key)]
    assert events[0].actor_user_id == w.agent_a.user_id


def test_duplicate_email_or_phone_is_suspected(world: World) -> None:
    v, w = world.velocity, world
    first = v.contacts.create(w.admin, full_name="Meera Iyer", primary_email="meera@example.com")
    with pytest.raises(DuplicateSuspected) as err:
        v.contacts.create(w.admin, full_name="M Iyer", primary_email="MEERA@example.com")
    assert err.value.existing_ids == (first.key,)
    assert err.value.matched_on == "primary_email"
    with pytest.raises(DuplicateSuspected) as err:
        v.contacts.create(w.agent_a, full_name="Someone", primary_phone="98300 12345")
    assert err.value.existing_ids == (w.client_a.key,)
    assert err.value.matched_on == "primary_phone"
    assert len(v.audit.list(w.admin, action="crm.contacts.create").items) == 1


def test_allowed_duplicate_is_created_and_audited(world: World) -> None:
    v, w = world.velocity, world
    twin = v.contacts.create(
        w.admin,
        full_name="Asha R",
        primary_phone="+91 98300 12345",
        allow_duplicate=True,
        reason="a different Asha sharing a family phone",
    )
    event = v.audit.list(w.admin, action="crm.contacts.create").items[0]
    assert event.target_ref == str(twin.key)
    assert event.reason == "a different Asha sharing a family phone"
    assert event.details_json["duplicate_allowed"] is True
    assert event.details_json["matched_on"] == "primary_phone"
    assert event.details_json["existing_ids"] == [str(w.client_a.key)]


def test_update_changes_fields_within_visibility(world: World) -> None:
    v, w = world.velocity, world
    changed = v.contacts.update(
        w.agent_a, w.client_a.key, expected_version=1, full_name="Asha  Rao-Menon"
    )
    assert changed.version == 2
    assert changed.normalized_name == "asha rao menon"
    assert changed.primary_phone == w.client_a.primary_phone
    event = v.audit.list(w.admin, action="crm.contacts.update").items[0]
    assert event.before_json["full_name"] == "Asha Rao"
    assert event.after_json["full_name"] == "Asha  Rao-Menon"
    with pytest.raises(ConcurrencyConflict):
        v.contacts.update(w.agent_a, w.client_a.key, expected_version=1, full_name="Asha")
    with pytest.raises(NotFound):
        v.contacts.update(w.agent_b, w.client_a.key, expected_version=2, full_name="Asha")
    assert v.contacts.get(w.admin, w.client_a.key).version == 2


def test_update_checks_duplicates(world: World) -> None:
    v, w = world.velocity, world
    with pytest.raises(DuplicateSuspected) as err:
        v.contacts.update(
            w.admin, w.client_b.key, expected_version=1, primary_phone="+919830012345"
        )
    assert err.value.existing_ids == (w.client_a.key,)
    changed = v.contacts.update(
        w.admin,
        w.client_b.key,
        expected_version=1,
        primary_phone="9830012345",
        allow_duplicate=True,
    )
    assert changed.primary_phone == "+919830012345"
    event = v.audit.list(w.admin, action="crm.contacts.update").items[0]
    assert event.details_json["existing_ids"] == [str(w.client_a.key)]
    # changing another field of a person who shares a phone is no new duplicate
    again = v.contacts.update(
        w.admin, w.client_b.key, expected_version=2, linkedin_url="https://linkedin.com/in/ravi"
    )
    assert again.version == 3


# --- contacts through the writeback policy ----------------------------------------------


def _released_by_operator(v: Velocity, w: World, proposal: Writeback) -> Any:
    """Approve and execute an agent's proposal as the operator; return the execution."""
    operator = w.by_role["operator"]
    assert proposal.status is WritebackStatus.REVIEW_REQUIRED
    v.writebacks.approve(operator, proposal.key, comment="checked with the client")
    return v.writebacks.execute(operator, proposal.key)


def _people_with(v: Velocity, field: str, value: str) -> int:
    with unit_of_work(v) as uow:
        return uow.crm.people.count(Eq(field, value))


def test_an_agents_email_change_is_reviewed_then_normalised_like_an_update(
    world: World,
) -> None:
    v, w = world.velocity, world
    agent, operator = w.by_role["oracle_agent"], w.by_role["operator"]
    raw = "  Ravi.Sen@Example.COM "
    before = v.contacts.get(w.admin, w.client_b.key)
    proposal = v.writebacks.propose(
        agent,
        target_table="crm_people",
        change_kind="update",
        target_ref=w.client_b.key,
        base_version=before.version,
        fields={"primary_email": raw},
    )
    assert proposal.status is WritebackStatus.REVIEW_REQUIRED
    decisions = v.writebacks.get(operator, proposal.key).decisions
    assert [d.rule_name for d in decisions] == ["agent_contact_details"]
    assert v.contacts.get(w.admin, w.client_b.key) == before

    execution = _released_by_operator(v, w, proposal)
    after = v.contacts.get(w.admin, w.client_b.key)
    assert execution.applied
    assert execution.row == after
    assert (after.primary_email, after.version) == ("ravi.sen@example.com", before.version + 1)
    (event,) = v.audit.list(w.admin, action="crm.contacts.update").items
    assert event.target_ref == str(w.client_b.key)
    assert event.after_json["primary_email"] == "ravi.sen@example.com"

    # a person's own update of the same raw value goes straight on and normalises alike
    twin = v.contacts.create(w.admin, full_name="Ravi Sen Jr")
    direct = v.contacts.update(
        w.admin, twin.key, expected_version=1, primary_email=raw, allow_duplicate=True
    )
    assert direct.primary_email == after.primary_email


@pytest.mark.parametrize("duplicate_appears", ["before the proposal", "while it waits"])
def test_an_approved_create_of_a_duplicate_fails(world: World, duplicate_appears: str) -> None:
    v, w = world.velocity, world
    agent, operator = w.by_role["oracle_agent"], w.by_role["operator"]

    def existing() -> Person:
        return v.contacts.create(w.admin, full_name="Meera Iyer", primary_email="meera@example.com")

    proposal_args: dict[str, Any] = {
        "target_table": "crm_people",
        "change_kind": "create",
        "fields": {"full_name": "Meera  Iyer", "primary_email": "MEERA@example.com"},
    }
    if duplicate_appears == "before the proposal":
        # A proposal is tried against the data as it is when made: refused at once.
        first = existing()
        with pytest.raises(DuplicateSuspected) as caught:
            v.writebacks.propose(agent, **proposal_args)
        assert caught.value.existing_ids == (first.key,)
        assert v.writebacks.list(operator).items == ()
        assert _people_with(v, "primary_email", "meera@example.com") == 1
        return
    proposal = v.writebacks.propose(agent, **proposal_args)
    first = existing()
    with pytest.raises(WritebackFailed) as err:
        _released_by_operator(v, w, proposal)
    assert isinstance(err.value.__cause__, DuplicateSuspected)
    assert err.value.__cause__.existing_ids == (first.key,)
    failed = v.writebacks.get(operator, proposal.key).writeback
    assert failed.status is WritebackStatus.FAILED
    assert failed.failure_reason is not None
    assert failed.failure_reason.startswith("duplicate_suspected")
    # The proposer reads the failure: it says what matched, and names no record.
    assert "1 existing record(s) (same primary_email)" in failed.failure_reason
    assert str(first.key) not in failed.failure_reason
    assert _people_with(v, "primary_email", "meera@example.com") == 1
    assert len(v.audit.list(w.admin, action="crm.contacts.create").items) == 1


def test_an_approved_create_that_allows_its_duplicate_is_applied(
    world: World,
) -> None:
    v, w = world.velocity, world
    proposal = v.writebacks.propose(
        w.by_role["oracle_agent"],
        target_table="crm_people",
        change_kind="create",
        fields={"full_name": "Arjun Rao", "primary_phone": "98300 12345"},
        context={"allow_duplicate": True, "reason": "Asha's son shares the family phone"},
    )
    execution = _released_by_operator(v, w, proposal)
    assert isinstance(execution.row, Person)
    assert execution.row.primary_phone == w.client_a.primary_phone
    assert _people_with(v, "primary_phone", "+919830012345") == 2
    (event,) = v.audit.list(w.admin, action="crm.contacts.create").items
    assert event.target_ref == str(execution.row.key)
    assert event.reason == "Asha's son shares the family phone"
    assert event.details_json["existing_ids"] == [str(w.client_a.key)]


CONTACT_BAD: list[tuple[str, Call, str]] = [
    ("name wrong type", lambda v, w: v.contacts.create(w.admin, full_name=42), "full_name"),
    ("name empty", lambda v, w: v.contacts.create(w.admin, full_name="  "), "full_name"),
    ("name titles only", lambda v, w: v.contacts.create(w.admin, full_name="Mr."), "full_name"),
    ("name oversized", lambda v, w: v.contacts.create(w.admin, full_name="a" * 201), "full_name"),
    ("name control", lambda v, w: v.contacts.create(w.admin, full_name="A\x00B"), "full_name"),
    (
        "bad email",
        lambda v, w: v.contacts.create(w.admin, full_name="A B", primary_email="nope"),
        "primary_email",
    ),
    (
        "bad phone",
        lambda v, w: v.contacts.create(w.admin, full_name="A B", primary_phone="12"),
        "primary_phone",
    ),
    (
        "bad url",
        lambda v, w: v.contacts.create(w.admin, full_name="A B", linkedin_url="linkedin"),
        "linkedin_url",
    ),
    (
        "labels wrong type",
        lambda v, w: v.contacts.create(w.admin, full_name="A B", persona_labels="investor"),
        "persona_labels",
    ),
    (
        "source half given",
        lambda v, w: v.contacts.create(w.admin, full_name="A B", source_system="web"),
        "source_ref",
    ),
    (
        "allow_duplicate not bool",
        lambda v, w: v.contacts.create(w.admin, full_name="A B", allow_duplicate="yes"),
        "allow_duplicate",
    ),
    (
        "unknown field",
        lambda v, w: v.contacts.update(w.admin, w.client_a.key, expected_version=1, colour="red"),
        "colour",
    ),
    (
        "household via update",
        lambda v, w: v.contacts.update(
            w.admin, w.client_a.key, expected_version=1, household_id=uuid.uuid4()
        ),
        "household_id",
    ),
    (
        "no changes",
        lambda v, w: v.contacts.update(w.admin, w.client_a.key, expected_version=1),
        "changes",
    ),
    (
        "version wrong type",
        lambda v, w: v.contacts.update(
            w.admin, w.client_a.key, expected_version="1", full_name="X"
        ),
        "expected_version",
    ),
    (
        "version impossible",
        lambda v, w: v.contacts.update(w.admin, w.client_a.key, expected_version=0, full_name="X"),
        "expected_version",
    ),
    (
        "update oversized",
        lambda v, w: v.contacts.update(
            w.admin, w.client_a.key, expected_version=1, source_system="s" * 65, source_ref="r"
        ),
        "source_system",
    ),
    (
        "confidence impossible",
        lambda v, w: v.contacts.update(
            w.admin, w.client_a.key, expected_version=1, source_confidence=2
        ),
        "source_confidence",
    ),
]


@pytest.mark.parametrize(
    ("call", "field"), [c[1:] for c in CONTACT_BAD], ids=[c[0] for c in CONTACT_BAD]
)
def test_contact_bad_input(world: World, call: Call, field: str) -> None:
    v, w = world.velocity, world
    with pytest.raises(ValidationFailed) as err:
        call(v, w)
    assert err.value.field == field


def test_contact_update_of_unknown_person_is_not_found(world: World) -> None:
    v, w = world.velocity, world
    with pytest.raises(NotFound):
        v.contacts.update(w.admin, uuid.uuid4(), expected_version=1, full_name="X Y")


# --- accounts ---------------------------------------------------------------------------


def test_account_create_get_list_and_audit(world: World) -> None:
    v, w = world.velocity, world
    group = v.accounts.create(w.agent_a, account_name="Skyline Group", account_type="developer")
    arm = v.accounts.create(
        w.agent_a,
        account_name="Skyline Homes",
        account_type="developer",
        parent_account_id=group.key,
        metadata_json={"city": "Kolkata"},
    )
    v.accounts.create(w.admin, account_name="Prime Brokers", account_type="brokerage")
    assert v.accounts.get(w.by_role["analyst"], arm.key) == arm
    names = [a.account_name for a in v.accounts.list(w.admin)]
    assert names == ["Prime Brokers", "Skyline Group", "Skyline Homes"]
    assert [a.key for a in v.accounts.list(w.admin, parent_account_id=group.key)] == [arm.key]
    assert len(v.accounts.list(w.admin, account_type="brokerage").items) == 1
    assert len(v.accounts.list(w.admin, search="skyline").items) == 2
    events = v.audit.list(w.admin, action="crm.accounts.create").items
    assert {e.target_ref for e in events} == {str(group.key), str(arm.key)} | {events[0].target_ref}


def test_account_hierarchy_refuses_cycles(world: World) -> None:
    v, w = world.velocity, world
    a = v.accounts.create(w.admin, account_name="A")
    b = v.accounts.create(w.admin, account_name="B", parent_account_id=a.key)
    c = v.accounts.create(w.admin, account_name="C", parent_account_id=b.key)
    for parent in (a.key, c.key):
        with pytest.raises(ValidationFailed) as err:
            v.accounts.update(w.admin, a.key, expected_version=1, parent_account_id=parent)
        assert err.value.field == "parent_account_id"
    moved = v.accounts.update(w.admin, c.key, expected_version=1, parent_account_id=a.key)
    assert moved.parent_account_id == a.key
    assert moved.version == 2
    orphan = v.accounts.update(w.admin, c.key, expected_version=2, parent_account_id=None)
    assert orphan.parent_account_id is None
    event = v.audit.list(w.admin, action="crm.accounts.update").items[0]
    assert event.after_json == {"parent_account_id": None}
    with pytest.raises(ConcurrencyConflict):
        v.accounts.update(w.admin, c.key, expected_version=2, industry="x")


def test_an_approved_parent_that_closes_a_cycle_fails(world: World) -> None:
    v, w = world.velocity, world
    top = v.accounts.create(w.admin, account_name="Skyline Group")
    arm = v.accounts.create(w.admin, account_name="Skyline Homes", parent_account_id=top.key)
    cycle = {
        "target_table": "crm_accounts",
        "change_kind": "update",
        "target_ref": top.key,
        "base_version": 1,
        "fields": {"parent_account_id": arm.key},
    }
    with pytest.raises(ValidationFailed) as refused:
        v.writebacks.propose(w.by_role["oracle_agent"], **cycle)
    assert refused.value.field == "parent_account_id"

    # A parent that is fine when proposed but closes a cycle by the time it is executed.
    left = v.accounts.create(w.admin, account_name="Left")
    right = v.accounts.create(w.admin, account_name="Right")
    proposal = v.writebacks.propose(
        w.by_role["oracle_agent"],
        target_table="crm_accounts",
        change_kind="update",
        target_ref=left.key,
        base_version=1,
        fields={"parent_account_id": right.key},
    )
    right_now = v.accounts.update(
        w.admin, right.key, expected_version=1, parent_account_id=left.key
    )
    with pytest.raises(WritebackFailed) as err:
        _released_by_operator(v, w, proposal)
    assert "parent_account_id" in err.value.reason
    assert v.accounts.get(w.admin, left.key) == left
    assert v.accounts.get(w.admin, right.key) == right_now
    updates = v.audit.list(w.admin, action="crm.accounts.update").items
    assert [e.target_ref for e in updates] == [str(right.key)]


def _own_parent(v: Velocity, w: World) -> Any:
    account = v.accounts.create(w.admin, account_name="A")
    return v.accounts.update(
        w.admin, account.key, expected_version=1, parent_account_id=account.key
    )


ACCOUNT_BAD: list[tuple[str, Call, str]] = [
    ("name wrong type", lambda v, w: v.accounts.create(w.admin, account_name=None), "account_name"),
    ("name empty", lambda v, w: v.accounts.create(w.admin, account_name=""), "account_name"),
    (
        "name oversized",
        lambda v, w: v.accounts.create(w.admin, account_name="a" * 201),
        "account_name",
    ),
    ("name control", lambda v, w: v.accounts.create(w.admin, account_name="A\x07"), "account_name"),
    (
        "type impossible",
        lambda v, w: v.accounts.create(w.admin, account_name="A", account_type="bank"),
        "account_type",
    ),
    (
        "unknown parent",
        lambda v, w: v.accounts.create(w.admin, account_name="A", parent_account_id=uuid.uuid4()),
        "parent_account_id",
    ),
    (
        "parent wrong type",
        lambda v, w: v.accounts.create(w.admin, account_name="A", parent_account_id="x"),
        "parent_account_id",
    ),
    (
        "metadata not json",
        lambda v, w: v.accounts.create(w.admin, account_name="A", metadata_json={"a": {1, 2}}),
        "metadata_json",
    ),
    (
        "industry oversized",
        lambda v, w: v.accounts.create(w.admin, account_name="A", industry="i" * 101),
        "industry",
    ),
    (
        "list type impossible",
        lambda v, w: v.accounts.list(w.admin, account_type="bank"),
        "account_type",
    ),
    ("list limit impossible", lambda v, w: v.accounts.list(w.admin, limit=0), "limit"),
    (
        "update unknown field",
        lambda v, w: v.accounts.update(
            w.admin, v.accounts.create(w.admin, account_name="A").key, expected_version=1, x=1
        ),
        "x",
    ),
    (
        "update own parent",
        _own_parent,
        "parent_account_id",
    ),
    (
        "update unknown parent",
        lambda v, w: v.accounts.update(
            w.admin,
            v.accounts.create(w.admin, account_name="A").key,
            expected_version=1,
            parent_account_id=uuid.uuid4(),
        ),
        "parent_account_id",
    ),
]


@pytest.mark.parametrize(
    ("call", "field"), [c[1:] for c in ACCOUNT_BAD], ids=[c[0] for c in ACCOUNT_BAD]
)
def test_account_bad_input(world: World, call: Call, field: str) -> None:
    v, w = world.velocity, world
    with pytest.raises(ValidationFailed) as err:
        call(v, w)
    assert err.value.field == field


def test_unknown_account_is_not_found(world: World) -> None:
    v, w = world.velocity, world
    with pytest.raises(NotFound):
        v.accounts.get(w.admin, uuid.uuid4())
    with pytest.raises(NotFound):
        v.accounts.update(w.admin, uuid.uuid4(), expected_version=1, industry="x")


# --- households -------------------------------------------------------------------------


def test_household_members_and_head(world: World) -> None:
    v, w = world.velocity, world
    rel = v.relationships
    home = rel.create_household(w.agent_a, household_name="Rao family", notes="joint family")
    spouse = _assigned(v, w.agent_a.user_id, "Vikram Rao")
    # An empty household holds no client: open to whoever may write contacts.
    assert rel.get_household(w.agent_a, home.key).members == ()
    assert rel.add_member(w.agent_a, home.key, w.client_a.key).household_id == home.key
    rel.add_member(w.agent_a, home.key, spouse.key)
    assert rel.add_member(w.agent_a, home.key, spouse.key).version == 2  # already a member
    with pytest.raises(ValidationFailed) as err:
        rel.set_head(w.admin, home.key, w.client_b.key)
    assert err.value.field == "person_id"
    with pytest.raises(NotFound):
        rel.set_head(w.agent_a, home.key, w.client_b.key)
    headed = rel.set_head(w.agent_a, home.key, w.client_a.key)
    assert headed.head_person_id == w.client_a.key
    view = rel.get_household(w.agent_a, home.key)
    assert view.household == headed
    assert [m.key for m in view.members] == [w.client_a.key, spouse.key]
    with pytest.raises(NotFound):
        rel.get_household(w.agent_b, home.key)
    with pytest.raises(NotFound):
        rel.add_member(w.agent_b, home.key, w.client_a.key)
    left = rel.remove_member(w.agent_a, home.key, w.client_a.key)
    assert left.household_id is None
    view = rel.get_household(w.admin, home.key)
    assert view.household.head_person_id is None
    assert [m.key for m in view.members] == [spouse.key]
    assert len(v.audit.list(w.admin, action="crm.households.add_member").items) == 2
    assert len(v.audit.list(w.admin, action="crm.households.remove_member").items) == 1
    assert len(v.audit.list(w.admin, action="crm.households.set_head").items) == 2
    assert len(v.audit.list(w.admin, action="crm.households.create").items) == 1


def test_a_member_of_another_household_must_leave_first(world: World) -> None:
    v, w = world.velocity, world
    one = v.relationships.create_household(w.admin, household_name="One")
    two = v.relationships.create_household(w.admin, household_name="Two")
    v.relationships.add_member(w.admin, one.key, w.client_b.key)
    with pytest.raises(ValidationFailed) as err:
        v.relationships.add_member(w.admin, two.key, w.client_b.key)
    assert err.value.field == "person_id"
    with pytest.raises(ValidationFailed) as err:
        v.relationships.remove_member(w.admin, two.key, w.client_b.key)
    assert err.value.field == "person_id"


# --- relationships ----------------------------------------------------------------------


def test_relate_writes_both_directions(world: World) -> None:
    v, w = world.velocity, world
    rel = v.relationships
    child = _assigned(v, w.agent_a.user_id, "Kiran Rao")
    link = rel.relate(w.agent_a, w.client_a.key, child.key, "parent")
    mine = rel.relationships_of(w.agent_a, w.client_a.key)
    theirs = rel.relationships_of(w.agent_a, child.key)
    assert [(r.to_person_id, r.kind.value) for r in mine] == [(child.key, "parent")]
    assert [(r.to_person_id, r.kind.value) for r in theirs] == [(w.client_a.key, "child")]
    assert mine[0] == link
    for first, second, kind in [(w.client_a, child, "parent"), (child, w.client_a, "child")]:
        with pytest.raises(AlreadyExists):
            rel.relate(w.agent_a, first.key, second.key, kind)
    other = rel.relate(w.admin, w.client_a.key, child.key, "colleague")
    assert other.kind.value == "colleague"
    assert len(rel.relationships_of(w.admin, child.key)) == 2
    event = v.audit.list(w.admin, action="crm.relationships.relate").items[-1]
    assert event.target_ref == str(link.key)
    assert event.details_json["inverse_relationship_id"] == str(theirs[0].key)
    rel.unrelate(w.agent_a, link.key)
    assert [r.kind.value for r in rel.relationships_of(w.admin, child.key)] == ["colleague"]
    assert [r.kind.value for r in rel.relationships_of(w.admin, w.client_a.key)] == ["colleague"]
    assert len(v.audit.list(w.admin, action="crm.relationships.unrelate").items) == 1
    with pytest.raises(NotFound):
        rel.unrelate(w.admin, link.key)


def test_relationships_respect_visibility(world: World) -> None:
    v, w = world.velocity, world
    rel = v.relationships
    with pytest.raises(NotFound):
        rel.relate(w.agent_b, w.client_b.key, w.client_a.key, "sibling")
    link = rel.relate(w.admin, w.client_b.key, w.client_a.key, "referred_by")
    assert [r.kind.value for r in rel.relationships_of(w.admin, w.client_a.key)] == ["referrer"]
    assert rel.relationships_of(w.agent_b, w.client_b.key) == []  # the other side is hidden
    with pytest.raises(NotFound):
        rel.relationships_of(w.agent_b, w.client_a.key)
    with pytest.raises(NotFound):
        rel.unrelate(w.agent_b, link.key)


def _two(v: Velocity, w: World) -> tuple[uuid.UUID, uuid.UUID]:
    return w.client_a.key, w.client_b.key


RELATIONSHIP_BAD: list[tuple[str, Call, str]] = [
    (
        "household name empty",
        lambda v, w: v.relationships.create_household(w.admin, household_name=""),
        "household_name",
    ),
    (
        "household name wrong type",
        lambda v, w: v.relationships.create_household(w.admin, household_name=3),
        "household_name",
    ),
    (
        "household name oversized",
        lambda v, w: v.relationships.create_household(w.admin, household_name="h" * 201),
        "household_name",
    ),
    (
        "notes control",
        lambda v, w: v.relationships.create_household(w.admin, household_name="H", notes="a\x01"),
        "notes",
    ),
    (
        "household id wrong type",
        lambda v, w: v.relationships.add_member(w.admin, "h", w.client_a.key),
        "household_id",
    ),
    (
        "person id wrong type",
        lambda v, w: v.relationships.add_member(
            w.admin, v.relationships.create_household(w.admin, household_name="H").key, 7
        ),
        "person_id",
    ),
    (
        "self link",
        lambda v, w: v.relationships.relate(w.admin, w.client_a.key, w.client_a.key, "spouse"),
        "to_person_id",
    ),
    (
        "kind impossible",
        lambda v, w: v.relationships.relate(w.admin, *_two(v, w), "cousin"),
        "kind",
    ),
    (
        "since wrong type",
        lambda v, w: v.relationships.relate(w.admin, *_two(v, w), "spouse", since="2020"),
        "since",
    ),
    (
        "from wrong type",
        lambda v, w: v.relationships.relate(w.admin, "a", w.client_b.key, "spouse"),
        "from_person_id",
    ),
    (
        "relationship id wrong type",
        lambda v, w: v.relationships.unrelate(w.admin, "r"),
        "relationship_id",
    ),
]


@pytest.mark.parametrize(
    ("call", "field"), [c[1:] for c in RELATIONSHIP_BAD], ids=[c[0] for c in RELATIONSHIP_BAD]
)
def test_relationship_bad_input(world: World, call: Call, field: str) -> None:
    v, w = world.velocity, world
    with pytest.raises(ValidationFailed) as err:
        call(v, w)
    assert err.value.field == field


UNKNOWN: list[tuple[str, Call]] = [
    ("household", lambda v, w: v.relationships.add_member(w.admin, uuid.uuid4(), w.client_a.key)),
    (
        "member",
        lambda v, w: v.relationships.add_member(
            w.admin,
            v.relationships.create_household(w.admin, household_name="H").key,
            uuid.uuid4(),
        ),
    ),
    (
        "to person",
        lambda v, w: v.relationships.relate(w.admin, w.client_a.key, uuid.uuid4(), "spouse"),
    ),
    ("relationship", lambda v, w: v.relationships.unrelate(w.admin, uuid.uuid4())),
    ("person", lambda v, w: v.relationships.relationships_of(w.admin, uuid.uuid4())),
]


@pytest.mark.parametrize("call", [c[1] for c in UNKNOWN], ids=[c[0] for c in UNKNOWN])
def test_unknown_ids_are_not_found(world: World, call: Call) -> None:
    v, w = world.velocity, world
    with pytest.raises(NotFound):
        call(v, w)
