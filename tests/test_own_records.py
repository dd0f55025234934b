"""Own records: a contact's owner sees it; a principal is a snapshot of its user."""

from __future__ import annotations

import uuid

import pytest

from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.errors import AuthenticationFailed, NotFound, ValidationFailed
from velocity_domain.workflow.entities import WritebackStatus


def _names(v: Velocity, principal: object) -> list[str]:
    return [p.full_name for p in v.contacts.list(principal, limit=100)]  # type: ignore[arg-type]


def test_an_agent_reads_back_the_contact_they_create(world: World) -> None:
    v, clock, w = world.velocity, world.clock, world
    mine = v.contacts.create(w.agent_a, full_name="Nisha Kapoor")
    assert mine.owner_user_id == w.agent_a.user_id
    assert v.contacts.get(w.agent_a, mine.key) == mine
    assert "Nisha Kapoor" in _names(v, w.agent_a)
    assert v.contacts.list(w.agent_a, search="nisha").items == (mine,)
    # ... and works with it before any lead or deal names it.
    touch = v.interactions.log(
        w.agent_a, person_id=mine.key, channel="call", happened_at=clock.now()
    )
    assert [i.key for i in v.interactions.timeline(w.agent_a, mine.key)] == [touch.key]
    lead = v.leads.create(w.agent_a, person_id=mine.key, source_system="referral")
    assert lead.assigned_user_id == w.agent_a.user_id
    # Another agent sees nothing of it, exactly as for an unknown person.
    with pytest.raises(NotFound):
        v.contacts.get(w.agent_b, mine.key)
    assert "Nisha Kapoor" not in _names(v, w.agent_b)
    with pytest.raises(ValidationFailed) as owned:
        v.opportunities.create(w.agent_b, person_id=mine.key)
    with pytest.raises(ValidationFailed) as unknown:
        v.opportunities.create(w.agent_b, person_id=uuid.uuid4())
    assert (owned.value.field, owned.value.reason) == (unknown.value.field, unknown.value.reason)


def test_the_owner_keeps_the_contact_when_a_deal_goes_to_someone_else(world: World) -> None:
    v, w = world.velocity, world
    mine = v.contacts.create(w.agent_a, full_name="Omar Sheikh")
    v.opportunities.create(w.admin, person_id=mine.key, assigned_user_id=w.agent_b.user_id)
    assert v.contacts.get(w.agent_a, mine.key).key == mine.key  # the record owner
    assert v.contacts.get(w.agent_b, mine.key).key == mine.key  # the deal's holder
    # The assignee filter still means "holds a lead or deal", not "owns".
    held_by_a = v.contacts.list(w.admin, assigned_user_id=w.agent_a.user_id, limit=100)
    assert mine.key not in {p.key for p in held_by_a}


def test_a_contact_created_by_someone_who_sees_everyone_has_no_owner(world: World) -> None:
    v, w = world.velocity, world
    pooled = v.contacts.create(w.admin, full_name="Priya Nair")
    assert pooled.owner_user_id is None
    with pytest.raises(NotFound):
        v.contacts.get(w.agent_a, pooled.key)
    # Nobody owns or holds them yet: an agent may open a lead and so take them on.
    v.leads.create(w.agent_a, person_id=pooled.key, source_system="walk-in")
    assert v.contacts.get(w.agent_a, pooled.key).key == pooled.key
    with pytest.raises(ValidationFailed):
        v.leads.create(w.agent_b, person_id=pooled.key, source_system="walk-in")


def test_a_contact_an_agent_proposes_is_theirs_once_applied(world: World) -> None:
    v, w = world.velocity, world
    operator = w.by_role["operator"]
    proposal = v.writebacks.propose(
        w.agent_a, target_table="crm_people", change_kind="create", fields={"full_name": "Ria Das"}
    )
    assert proposal.change_json["fields"]["owner_user_id"] == str(w.agent_a.user_id)
    assert proposal.status is WritebackStatus.APPROVED  # a person's own change: no review
    row = v.writebacks.execute(operator, proposal.key).row
    assert v.contacts.get(w.agent_a, row.key).owner_user_id == w.agent_a.user_id


# --- a principal is a snapshot ---------------------------------------------------------------


def test_a_deactivated_users_token_stops_at_once_but_a_held_principal_does_not(
    world: World,
) -> None:
    v, w = world.velocity, world
    assert w.agent_a.user_id is not None
    issued = v.sessions.issue(w.admin, w.agent_a.user_id)
    held = v.sessions.authenticate(issued.token)
    v.users.deactivate(w.admin, w.agent_a.user_id, reason="left the company")
    with pytest.raises(AuthenticationFailed):
        v.sessions.authenticate(issued.token)
    with pytest.raises(NotFound):
        v.users.principal_for(w.admin, w.agent_a.user_id)
    # Services trust the principal they are given (no read per call): a host that keeps
    # principals must drop them when it deactivates a user. Documented in docs/access.rst.
    assert "Asha Rao" in _names(v, held)
