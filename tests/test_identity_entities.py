"""Cross-field rules of the identity entities: each bad input names the field at fault."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from velocity_domain.errors import ValidationFailed
from velocity_domain.identity.entities import (
    ActorKind,
    AuditEvent,
    Permission,
    Role,
    RoleAssignment,
    ScopeType,
    Session,
    User,
    UserKind,
    UserStatus,
)

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
TOKEN_HASH = hashlib.sha256(b"an opaque random token").hexdigest()


def _fails(cls: type[Any], field: str, **kwargs: Any) -> None:
    with pytest.raises(ValidationFailed) as info:
        cls(**kwargs)
    assert info.value.field == field
    assert info.value.entity == cls.table_name


# core_users


def test_a_user_and_an_agent_build_with_a_normalised_email() -> None:
    user = User(email=" Asha.Rao@Example.COM ", display_name="Asha Rao", phone="098300 12345")
    assert (user.email, user.phone, user.status) == (
        "asha.rao@example.com",
        "+919830012345",
        UserStatus.ACTIVE,
    )
    oracle = User(email="oracle@agents.example.com", display_name="Oracle", user_kind="agent")
    assert oracle.user_kind is UserKind.AGENT


def test_a_user_needs_a_valid_email() -> None:
    _fails(User, "email", email="not an email", display_name="Asha")
    _fails(User, "email", email=None, display_name="Asha")


def test_deactivated_at_is_set_exactly_when_deactivated() -> None:
    base = {"email": "a@example.com", "display_name": "Asha"}
    _fails(User, "deactivated_at", status=UserStatus.DEACTIVATED, **base)
    _fails(User, "deactivated_at", deactivated_at=T0, **base)
    assert User(status="deactivated", deactivated_at=T0, **base).deactivated_at == T0


def test_the_legacy_source_pair_goes_together() -> None:
    base = {"email": "a@example.com", "display_name": "Asha"}
    _fails(User, "source_ref", source_system="users_and_roles", **base)
    _fails(User, "source_ref", source_ref="42", **base)
    assert User(source_system="users_and_roles", source_ref="42", **base).source_ref == "42"


# core_roles and core_permissions


def test_a_role_name_is_a_slug() -> None:
    role = Role(role_name="sales_agent", is_system=True, permission_names=["crm.contacts.read"])
    assert role.permission_names == ("crm.contacts.read",)
    for bad in ("Sales Agent", "sales-agent", "SALES_AGENT", "_agent"):
        _fails(Role, "role_name", role_name=bad)


def test_a_role_refuses_a_permission_granted_twice() -> None:
    _fails(
        Role,
        "permission_names",
        role_name="analyst",
        permission_names=("audit.read", "audit.read"),
    )


def test_a_permission_name_is_derived_from_family_and_action() -> None:
    perm = Permission(route_family="intel.artifacts", action="read_sensitive", is_sensitive=True)
    assert perm.permission_name == "intel.artifacts.read_sensitive"


def test_a_permission_action_is_one_word() -> None:
    _fails(Permission, "action", route_family="crm", action="contacts.read")
    _fails(Permission, "action", route_family="crm.contacts", action="read all")
    _fails(Permission, "route_family", route_family="crm contacts", action="read")


# core_role_assignments


def test_a_global_assignment_has_no_scope_ref_and_a_scoped_one_has() -> None:
    base = {"user_id": uuid4(), "role_id": uuid4(), "granted_at": T0}
    assert RoleAssignment(**base).scope_type is ScopeType.GLOBAL
    assert RoleAssignment(scope_type="project", scope_ref=uuid4(), **base).scope_ref
    _fails(RoleAssignment, "scope_ref", scope_ref=uuid4(), **base)
    _fails(RoleAssignment, "scope_ref", scope_type=ScopeType.ACCOUNT, **base)


def test_an_assignment_expires_and_is_revoked_after_it_is_granted() -> None:
    base = {"user_id": uuid4(), "role_id": uuid4(), "granted_at": T0}
    _fails(RoleAssignment, "expires_at", expires_at=T0, **base)
    _fails(RoleAssignment, "expires_at", expires_at=T0 - HOUR, **base)
    _fails(RoleAssignment, "revoked_at", revoked_at=T0 - HOUR, **base)
    assert RoleAssignment(expires_at=T0 + HOUR, revoked_at=T0, **base).revoked_at == T0


def test_only_a_revoked_assignment_names_who_revoked_it() -> None:
    base = {"user_id": uuid4(), "role_id": uuid4(), "granted_at": T0}
    _fails(RoleAssignment, "revoked_by_user_id", revoked_by_user_id=uuid4(), **base)


# core_sessions


def test_a_session_stores_a_sha256_digest_not_a_token() -> None:
    base = {"user_id": uuid4(), "issued_at": T0, "expires_at": T0 + HOUR}
    assert Session(token_sha256=TOKEN_HASH, **base).token_sha256 == TOKEN_HASH
    for bad in ("an opaque random token", TOKEN_HASH.upper(), TOKEN_HASH[:-1], TOKEN_HASH + "0"):
        _fails(Session, "token_sha256", token_sha256=bad, **base)


def test_a_session_expires_after_it_is_issued() -> None:
    base = {"user_id": uuid4(), "token_sha256": TOKEN_HASH, "issued_at": T0}
    _fails(Session, "expires_at", expires_at=T0, **base)
    _fails(Session, "expires_at", expires_at=T0 - HOUR, **base)


def test_session_times_follow_issue_and_a_reason_needs_a_revocation() -> None:
    base = {"user_id": uuid4(), "token_sha256": TOKEN_HASH, "issued_at": T0}
    base["expires_at"] = T0 + HOUR
    _fails(Session, "last_seen_at", last_seen_at=T0 - HOUR, **base)
    _fails(Session, "revoked_at", revoked_at=T0 - HOUR, **base)
    _fails(Session, "revoked_reason", revoked_reason="user_deactivated", **base)
    revoked = Session(revoked_at=T0, revoked_reason="user_deactivated", **base)
    assert revoked.revoked_reason == "user_deactivated"


# core_audit_events


def test_a_system_actor_has_no_user_and_a_person_or_agent_has_one() -> None:
    base = {"action": "crm.contacts.create", "target_domain": "crm", "target_ref": "x"}
    assert AuditEvent(actor_kind=ActorKind.SYSTEM, **base).actor_user_id is None
    assert AuditEvent(actor_kind="agent", actor_user_id=uuid4(), **base).actor_user_id
    _fails(AuditEvent, "actor_user_id", actor_kind=ActorKind.HUMAN, **base)
    _fails(AuditEvent, "actor_user_id", actor_kind=ActorKind.SYSTEM, actor_user_id=uuid4(), **base)


def test_an_audit_event_holds_only_json_in_before_and_after() -> None:
    base = {"actor_kind": ActorKind.SYSTEM, "action": "crm.contacts.update"}
    event = AuditEvent(
        target_domain="crm", before_json={"stage": "new"}, after_json={"stage": "won"}, **base
    )
    assert event.after_json == {"stage": "won"}
    _fails(AuditEvent, "after_json", target_domain="crm", after_json={"at": T0}, **base)
