"""Every operation, for every default role, on both stores: allowed or denied as the matrix says."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from tests.access_world import AccessWorld, build
from tests.permission_matrix import MATRIX
from velocity_domain import Velocity
from velocity_domain.access import Principal
from velocity_domain.access.operations import OPERATIONS
from velocity_domain.errors import PermissionDenied
from velocity_domain.kernel.clock import FixedClock

_serial = itertools.count()


def _user(v: Velocity, w: AccessWorld) -> Any:
    return v.users.create(w.admin, email=f"m{next(_serial)}@velocity.example", display_name="M")


Call = Callable[[Velocity, AccessWorld, Principal], Any]

CALLS: dict[str, Call] = {
    "identity.users.create": lambda v, w, p: v.users.create(
        p, email=f"c{next(_serial)}@velocity.example", display_name="C"
    ),
    "identity.users.deactivate": lambda v, w, p: v.users.deactivate(p, _user(v, w).key),
    "identity.users.get": lambda v, w, p: v.users.get(p, w.agent_b.user_id),
    "identity.users.list": lambda v, w, p: v.users.list(p),
    "identity.roles.assign": lambda v, w, p: v.users.assign_role(p, _user(v, w).key, "analyst"),
    "identity.roles.revoke": lambda v, w, p: v.users.revoke_role(
        p, v.users.assign_role(w.admin, _user(v, w).key, "analyst").key
    ),
    "identity.roles.list": lambda v, w, p: v.roles.list(p),
    "identity.roles.set_permissions": lambda v, w, p: v.roles.set_permissions(
        p,
        "analyst",
        next(r for r in v.roles.list(w.admin) if r.role_name == "analyst").permission_names,
    ),
    "identity.sessions.issue": lambda v, w, p: v.sessions.issue(p, w.agent_b.user_id),
    "identity.sessions.revoke": lambda v, w, p: v.sessions.revoke(
        p, v.sessions.issue(w.admin, w.agent_b.user_id).session.key
    ),
    "identity.sessions.revoke_all": lambda v, w, p: v.sessions.revoke_all(p, w.agent_b.user_id),
    "audit.events.list": lambda v, w, p: v.audit.list(p),
    "crm.contacts.get": lambda v, w, p: v.contacts.get(p, w.client_a.key),
    "crm.contacts.list": lambda v, w, p: v.contacts.list(p),
    "crm.interactions.timeline": lambda v, w, p: v.interactions.timeline(p, w.client_a.key),
    "crm.interactions.get": lambda v, w, p: v.interactions.get(p, w.chat.key),
}


def test_the_matrix_covers_every_registered_operation() -> None:
    assert set(MATRIX) == set(OPERATIONS)
    assert set(CALLS) == set(OPERATIONS)


def test_every_cell_of_the_matrix_holds(any_velocity: tuple[Velocity, FixedClock]) -> None:
    velocity, _ = any_velocity
    world = build(velocity)
    wrong: list[str] = []
    for operation, allowed in sorted(MATRIX.items()):
        for role, principal in sorted(world.by_role.items()):
            try:
                CALLS[operation](velocity, world, principal)
                outcome = "allowed"
            except PermissionDenied as err:
                assert err.operation == operation or err.operation is not None
                outcome = "denied"
            expected = "allowed" if role in allowed else "denied"
            if outcome != expected:
                wrong.append(f"{operation} for {role}: {outcome}, matrix says {expected}")
    assert wrong == []
