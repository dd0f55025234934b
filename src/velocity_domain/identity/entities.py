"""Identity and access entities: one attrs class per ``core_*`` table.

Users are the principals (people, and automated agents such as Oracle); roles
bundle named permissions from the permission catalogue; role assignments give
a user a role, globally or scoped to an account or project, until it expires
or is revoked; sessions hold only the SHA-256 of a login token; audit events
are the append-only trail of who did what to which record.

>>> perm = Permission(route_family="crm.contacts", action="read")
>>> perm.permission_name
'crm.contacts.read'
>>> User(email=" Asha.Rao@Example.COM ", display_name="Asha Rao").email
'asha.rao@example.com'
"""

import enum
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import attrs

from velocity_domain.kernel.constraints import Unique
from velocity_domain.kernel.fields import (
    boolean,
    choice,
    email,
    id_field,
    json_field,
    labels,
    phone,
    ref,
    sha256_hex,
    text,
    timestamp,
)
from velocity_domain.kernel.model import (
    Entity,
    VersionedEntity,
    check_not_before,
    check_only_when,
    check_set_exactly_when,
    check_source_pair,
)

__all__ = [
    "ActorKind",
    "AuditEvent",
    "Permission",
    "Role",
    "RoleAssignment",
    "ScopeType",
    "Session",
    "User",
    "UserKind",
    "UserStatus",
]

# The longest permission name: a 64-character route family, a dot, a 63-character action.
_PERMISSION_NAME_MAX = 128
# A route family is dot-separated words (crm.contacts), an action one word (read); a
# permission name is the family, a dot and the action (crm.contacts.read).
_WORD = r"[^\s.]+"
_ROUTE_FAMILY = rf"{_WORD}(?:\.{_WORD})*"
_PERMISSION_NAME = rf"{_WORD}(?:\.{_WORD})+"


class UserKind(enum.StrEnum):
    """Whether a principal is a person or an automated agent (such as Oracle)."""

    HUMAN = "human"
    AGENT = "agent"


class UserStatus(enum.StrEnum):
    """Whether a user may sign in; users are deactivated, never deleted."""

    ACTIVE = "active"
    DEACTIVATED = "deactivated"


class ScopeType(enum.StrEnum):
    """How far a role assignment reaches: everywhere, one account, or one project."""

    GLOBAL = "global"
    ACCOUNT = "account"
    PROJECT = "project"


class ActorKind(enum.StrEnum):
    """Who performed an audited action: a person, an agent, or the system itself."""

    HUMAN = "human"
    AGENT = "agent"
    SYSTEM = "system"


@attrs.frozen(kw_only=True)
class User(VersionedEntity):
    """A principal who can act in the CRM, human or agent (``core_users``).

    ``source_system``/``source_ref`` name the legacy ``users_and_roles`` row a
    user was migrated from.
    """

    table_name: ClassVar[str] = "core_users"
    key_field: ClassVar[str] = "user_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (Unique(["email"]),)

    user_id: UUID = id_field()
    email: str = email(optional=False)
    display_name: str = text(max_length=200)
    user_kind: UserKind = choice(UserKind, default=UserKind.HUMAN)
    status: UserStatus = choice(UserStatus, default=UserStatus.ACTIVE)
    deactivated_at: datetime | None = timestamp(optional=True)
    last_login_at: datetime | None = timestamp(optional=True)
    phone: str | None = phone()
    source_system: str | None = text(max_length=64, optional=True)
    source_ref: str | None = text(max_length=200, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        deactivated = self.status is UserStatus.DEACTIVATED
        check_set_exactly_when(self, "deactivated_at", deactivated, "the user is deactivated")
        check_source_pair(self)


@attrs.frozen(kw_only=True)
class Role(VersionedEntity):
    """A named bundle of permissions, such as ``sales_agent`` (``core_roles``).

    The role's grants are the ``permission_names`` array (names from
    ``core_permissions``), so a role and what it allows are read in one row.
    """

    table_name: ClassVar[str] = "core_roles"
    key_field: ClassVar[str] = "role_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (Unique(["role_name"]),)

    role_id: UUID = id_field()
    role_name: str = text(
        max_length=64,
        pattern=r"[a-z][a-z0-9_]*",
        pattern_hint="a lower-case slug starting with a letter, such as sales_agent",
    )
    description: str | None = text(max_length=500, optional=True)
    is_system: bool = boolean()
    permission_names: tuple[str, ...] = labels(
        max_length=_PERMISSION_NAME_MAX,
        pattern=_PERMISSION_NAME,
        pattern_hint="a permission name, route family dot action, such as crm.contacts.read",
    )


@attrs.frozen(kw_only=True)
class Permission(VersionedEntity):
    """One entry of the permission catalogue: an action on a route family.

    ``permission_name`` is derived as ``route_family.action`` (``crm.contacts.read``),
    so the name and its parts can never disagree.
    """

    table_name: ClassVar[str] = "core_permissions"
    key_field: ClassVar[str] = "permission_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (Unique(["permission_name"]),)

    permission_id: UUID = id_field()
    route_family: str = text(
        max_length=64,
        pattern=_ROUTE_FAMILY,
        pattern_hint="dot-separated words without whitespace, such as crm.contacts",
    )
    action: str = text(
        max_length=63,
        pattern=_WORD,
        pattern_hint="one word (no dot, no whitespace) such as read",
    )
    permission_name: str = attrs.field(init=False)
    description: str | None = text(max_length=500, optional=True)
    is_sensitive: bool = boolean()

    @permission_name.default
    def _permission_name(self) -> str:
        return f"{self.route_family}.{self.action}"


@attrs.frozen(kw_only=True)
class RoleAssignment(VersionedEntity):
    """A role given to a user, everywhere or within one account or project.

    An assignment is in force from ``granted_at`` until it expires or is
    revoked; revoked rows are kept as the record of who could do what, when.
    ``scope_ref`` is the account or project id (no foreign key: it points at
    one of two tables, named by ``scope_type``).
    """

    table_name: ClassVar[str] = "core_role_assignments"
    key_field: ClassVar[str] = "role_assignment_id"

    role_assignment_id: UUID = id_field()
    user_id: UUID = ref("core_users.user_id")
    role_id: UUID = ref("core_roles.role_id")
    scope_type: ScopeType = choice(ScopeType, default=ScopeType.GLOBAL)
    scope_ref: UUID | None = ref(optional=True)
    granted_by_user_id: UUID | None = ref("core_users.user_id", optional=True)
    granted_at: datetime = timestamp(now=True)
    expires_at: datetime | None = timestamp(optional=True)
    revoked_at: datetime | None = timestamp(optional=True)
    revoked_by_user_id: UUID | None = ref("core_users.user_id", optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        scoped = self.scope_type is not ScopeType.GLOBAL
        check_set_exactly_when(self, "scope_ref", scoped, "the scope is an account or a project")
        check_not_before(self, "expires_at", "granted_at", strict=True)
        check_not_before(self, "revoked_at", "granted_at")
        revoked = self.revoked_at is not None
        check_only_when(self, "revoked_by_user_id", revoked, "is only kept for revoked assignments")


@attrs.frozen(kw_only=True)
class Session(VersionedEntity):
    """A signed-in session; only the SHA-256 of its token is stored (``core_sessions``).

    The token itself is handed to the client once and never kept, so a leaked
    table does not leak usable tokens.
    """

    table_name: ClassVar[str] = "core_sessions"
    key_field: ClassVar[str] = "session_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (Unique(["token_sha256"]),)

    session_id: UUID = id_field()
    user_id: UUID = ref("core_users.user_id")
    token_sha256: str = sha256_hex()
    issued_at: datetime = timestamp(now=True)
    expires_at: datetime = timestamp()
    last_seen_at: datetime | None = timestamp(optional=True)
    revoked_at: datetime | None = timestamp(optional=True)
    revoked_reason: str | None = text(max_length=200, optional=True)
    user_agent: str | None = text(max_length=500, optional=True)
    ip_address: str | None = text(max_length=45, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        check_not_before(self, "expires_at", "issued_at", strict=True)
        check_not_before(self, "last_seen_at", "issued_at")
        check_not_before(self, "revoked_at", "issued_at")
        revoked = self.revoked_at is not None
        check_only_when(self, "revoked_reason", revoked, "is only kept for revoked sessions")


@attrs.frozen(kw_only=True)
class AuditEvent(Entity):
    """One audited action: who did what to which record, when and why; append-only.

    ``before_json``/``after_json`` hold only the fields that changed. A
    ``system`` actor has no user; a human or agent actor always has one.
    ``target_ref`` is text because not every target has a UUID key.
    """

    table_name: ClassVar[str] = "core_audit_events"
    key_field: ClassVar[str] = "audit_event_id"

    audit_event_id: UUID = id_field()
    occurred_at: datetime = timestamp(now=True)
    actor_user_id: UUID | None = ref("core_users.user_id", optional=True)
    actor_kind: ActorKind = choice(ActorKind)
    action: str = text(max_length=_PERMISSION_NAME_MAX)
    target_domain: str = text(max_length=64)
    target_ref: str | None = text(max_length=200, optional=True)
    before_json: dict[str, Any] = json_field()
    after_json: dict[str, Any] = json_field()
    reason: str | None = text(max_length=500, optional=True)
    correlation_id: str | None = text(max_length=128, optional=True)
    details_json: dict[str, Any] = json_field()

    def check(self) -> None:  # noqa: D102
        super().check()
        by_someone = self.actor_kind is not ActorKind.SYSTEM
        check_set_exactly_when(
            self, "actor_user_id", by_someone, "the actor is a human or an agent"
        )
