"""Both stores start with the same permission catalogue and default roles."""

from __future__ import annotations

from velocity_domain import Velocity
from velocity_domain.access.catalogue import DEFAULT_ROLES, PERMISSION_NAMES, seed_rows
from velocity_domain.identity.entities import Permission, Role
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.kernel.query import Query, asc
from velocity_domain.testing import unit_of_work


def test_the_store_holds_exactly_the_catalogue(any_velocity: tuple[Velocity, FixedClock]) -> None:
    velocity, _ = any_velocity
    with unit_of_work(velocity) as uow:
        permissions = list(
            uow.table(Permission).list(Query(order_by=[asc("permission_name")], limit=500))
        )
        roles = list(uow.table(Role).list(Query(order_by=[asc("role_name")], limit=500)))
    expected = seed_rows()
    assert permissions == sorted(
        (r for r in expected if isinstance(r, Permission)), key=lambda p: p.permission_name
    )
    assert roles == sorted((r for r in expected if isinstance(r, Role)), key=lambda r: r.role_name)
    assert {p.permission_name for p in permissions} == PERMISSION_NAMES


def test_least_privilege_in_the_default_roles() -> None:
    grants = {name: set(spec.permissions) for name, spec in DEFAULT_ROLES.items()}
    assert grants["admin"] == set(PERMISSION_NAMES)
    assert "workflow.writebacks.approve" not in grants["oracle_agent"]
    assert not {p for p in grants["oracle_agent"] if p.endswith(".write") and p.startswith("crm.")}
    assert "intel.artifacts.read_sensitive" not in grants["analyst"]
    assert not {p for p in grants["analyst"] if not p.endswith(("read", "read_all"))}
    assert "crm.contacts.read_all" not in grants["sales_agent"]
    assert "workflow.writebacks.approve" in grants["operator"]
