"""An agent sees only their own clients, by every read path; read_all lifts that."""

from __future__ import annotations

import pytest

from tests.support.world import World, build
from velocity_domain import Velocity
from velocity_domain.errors import NotFound
from velocity_domain.kernel.clock import FixedClock


def test_an_agent_cannot_see_another_agents_client_by_any_path(
    world: World,
) -> None:
    velocity = world.velocity
    w = world
    a, b = w.agent_a, w.agent_b
    assert [p.key for p in velocity.contacts.list(a)] == [w.client_a.key]
    assert [p.key for p in velocity.contacts.list(b)] == [w.client_b.key]
    assert velocity.contacts.get(a, w.client_a.key) == w.client_a
    for read in (
        lambda: velocity.contacts.get(b, w.client_a.key),
        lambda: velocity.interactions.timeline(b, w.client_a.key),
        lambda: velocity.interactions.get(b, w.chat.key),
    ):
        with pytest.raises(NotFound):
            read()
    assert len(velocity.interactions.timeline(a, w.client_a.key)) == 3
    assert velocity.contacts.list(b, search="asha").items == ()


def test_hidden_and_missing_records_look_the_same(
    world: World,
) -> None:
    velocity = world.velocity
    w = world
    with pytest.raises(NotFound) as hidden:
        velocity.contacts.get(w.agent_b, w.client_a.key)
    assert hidden.value.to_dict()["entity"] == "crm_people"
    assert "permission" not in str(hidden.value)


@pytest.mark.parametrize("role", ["sales_manager", "analyst", "operator", "oracle_agent", "admin"])
def test_read_all_roles_see_every_client(
    any_velocity: tuple[Velocity, FixedClock], role: str
) -> None:
    velocity, _ = any_velocity
    w = build(velocity)
    seen = {p.key for p in velocity.contacts.list(w.by_role[role])}
    assert seen == {w.client_a.key, w.client_b.key}
    assert velocity.interactions.get(w.by_role[role], w.chat.key).interaction == w.chat


def test_contacts_filter_by_assignee_within_visibility(
    world: World,
) -> None:
    velocity = world.velocity
    w = world
    manager = w.by_role["sales_manager"]
    by_a = velocity.contacts.list(manager, assigned_user_id=w.agent_a.user_id)
    by_b = velocity.contacts.list(manager, assigned_user_id=w.agent_b.user_id)
    assert [p.key for p in by_a] == [w.client_a.key]
    assert [p.key for p in by_b] == [w.client_b.key]
    assert velocity.contacts.list(w.agent_a, assigned_user_id=w.agent_b.user_id).items == ()
    later = velocity.contacts.list(manager, updated_from=w.client_a.updated_at)
    assert {p.key for p in later} >= {w.client_a.key}
