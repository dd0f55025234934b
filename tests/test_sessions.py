"""Session tokens: hashed at rest, expire, can be revoked, and die with their user."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.world import World
from velocity_domain.errors import AuthenticationFailed, PermissionDenied, ValidationFailed
from velocity_domain.identity.entities import Session
from velocity_domain.services.identity.sessions import hash_token
from velocity_domain.testing import unit_of_work


def test_a_token_authenticates_into_its_users_principal(
    world: World,
) -> None:
    velocity, clock = world.velocity, world.clock
    w = world
    issued = velocity.sessions.issue(w.admin, w.agent_a.user_id)  # type: ignore[arg-type]
    clock.advance(minutes=3)
    principal = velocity.sessions.authenticate(issued.token)
    assert principal == w.agent_a
    assert issued.token not in repr(issued)
    with unit_of_work(velocity) as uow:
        stored = uow.identity.sessions.get(issued.session.key)
        every = uow.table(Session).list()
    assert stored.token_sha256 == hash_token(issued.token)
    assert issued.token not in {s.token_sha256 for s in every}
    assert stored.last_seen_at == clock.now()


def test_last_seen_is_written_at_most_once_a_minute(world: World) -> None:
    velocity, clock = world.velocity, world.clock
    issued = velocity.sessions.issue(world.admin, world.agent_a.user_id)  # type: ignore[arg-type]

    def seen() -> object:
        with unit_of_work(velocity, read_only=True) as uow:
            return uow.identity.sessions.get(issued.session.key)

    velocity.sessions.authenticate(issued.token)
    first = seen()
    assert first.last_seen_at == clock.now()  # type: ignore[attr-defined]
    clock.advance(seconds=59)
    velocity.sessions.authenticate(issued.token)
    assert seen() == first  # not written again: no new version
    clock.advance(seconds=1)
    velocity.sessions.authenticate(issued.token)
    later = seen()
    assert later.last_seen_at == clock.now()  # type: ignore[attr-defined]
    assert later.version == first.version + 1  # type: ignore[attr-defined]


def test_unknown_expired_revoked_and_deactivated_all_fail_alike(
    world: World,
) -> None:
    velocity, clock = world.velocity, world.clock
    w = world
    a, b = w.agent_a.user_id, w.agent_b.user_id
    assert a is not None
    assert b is not None
    short = velocity.sessions.issue(w.admin, a, ttl=timedelta(minutes=5))
    revoked = velocity.sessions.issue(w.admin, a)
    other = velocity.sessions.issue(w.admin, a)
    of_b = velocity.sessions.issue(w.admin, b)
    velocity.sessions.revoke(w.agent_a, revoked.session.key, reason="logout")
    clock.advance(minutes=10)
    failures = []
    for token in ["", "nonsense", short.token, revoked.token]:
        with pytest.raises(AuthenticationFailed) as err:
            velocity.sessions.authenticate(token)
        failures.append(str(err.value))
    assert set(failures) == {"authentication failed"}
    assert velocity.sessions.authenticate(other.token).user_id == a
    assert velocity.sessions.authenticate(of_b.token).user_id == b
    velocity.users.deactivate(w.admin, b, reason="left the company")
    with pytest.raises(AuthenticationFailed):
        velocity.sessions.authenticate(of_b.token)
    assert velocity.sessions.revoke_all(w.agent_a, a) == 2  # "other" and the expired "short"
    with pytest.raises(AuthenticationFailed):
        velocity.sessions.authenticate(other.token)


def test_only_the_owner_or_a_manager_revokes(world: World) -> None:
    velocity = world.velocity
    w = world
    assert w.agent_a.user_id is not None
    issued = velocity.sessions.issue(w.admin, w.agent_a.user_id)
    with pytest.raises(PermissionDenied):
        velocity.sessions.revoke(w.agent_b, issued.session.key)
    with pytest.raises(PermissionDenied):
        velocity.sessions.issue(w.agent_b, w.agent_a.user_id)
    with pytest.raises(ValidationFailed):
        velocity.sessions.issue(w.admin, w.agent_a.user_id, ttl=timedelta(0))
    velocity.sessions.revoke(w.admin, issued.session.key)


def test_expired_role_assignments_stop_granting(world: World) -> None:
    velocity, clock = world.velocity, world.clock
    w = world
    user = velocity.users.create(w.admin, email="temp@velocity.example", display_name="Temp")
    velocity.users.assign_role(
        w.admin, user.key, "analyst", expires_at=clock.now() + timedelta(hours=1)
    )
    issued = velocity.sessions.issue(w.admin, user.key)
    assert velocity.sessions.authenticate(issued.token).role_names == {"analyst"}
    clock.advance(hours=2)
    assert velocity.sessions.authenticate(issued.token).role_names == frozenset()
