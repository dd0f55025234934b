"""Role assignments and role permissions through the services, on both stores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.world import World
from velocity_domain.errors import ConcurrencyConflict, NotFound


def test_a_users_assignments_in_force_and_revoking_one_of_theirs(world: World) -> None:
    velocity, admin, clock = world.velocity, world.admin, world.clock
    user = velocity.users.create(admin, email="roles@velocity.example", display_name="R")
    kept = velocity.users.assign_role(admin, user.key, "analyst")
    clock.advance(seconds=1)
    brief = velocity.users.assign_role(
        admin, user.key, "operator", expires_at=clock.now() + timedelta(hours=1)
    )
    gone = velocity.users.assign_role(admin, user.key, "sales_agent")
    velocity.users.revoke_role(admin, gone.key)
    clock.advance(minutes=1)
    in_force = velocity.users.role_assignments(admin, user.key)
    assert [a.key for a in in_force] == [kept.key, brief.key]
    clock.advance(hours=2)
    assert [a.key for a in velocity.users.role_assignments(admin, user.key)] == [kept.key]

    other = world.agent_b.user_id
    assert other is not None
    with pytest.raises(NotFound):
        velocity.users.revoke_role(admin, kept.key, user_id=other)
    assert velocity.users.role_assignments(admin, user.key)[0].revoked_at is None
    revoked = velocity.users.revoke_role(admin, kept.key, user_id=user.key)
    assert revoked.revoked_at == clock.now()
    assert velocity.users.role_assignments(admin, user.key) == ()


def test_set_permissions_checks_the_version_it_is_given(world: World) -> None:
    velocity, admin = world.velocity, world.admin
    analyst = next(r for r in velocity.roles.list(admin) if r.role_name == "analyst")
    wanted = ("crm.contacts.read",)
    with pytest.raises(ConcurrencyConflict):
        velocity.roles.set_permissions(
            admin, "analyst", wanted, expected_version=analyst.version + 1
        )
    changed = velocity.roles.set_permissions(
        admin, "analyst", wanted, expected_version=analyst.version
    )
    assert changed.permission_names == wanted
    assert changed.version == analyst.version + 1
