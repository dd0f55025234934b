"""User and role administration, and turning a user into a Principal.

Every operation here needs ``identity.users.manage`` except
:meth:`UserService.create_first_admin`, which only works on a store with no
users yet (it is how a new deployment gets its first administrator).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import attrs

from velocity_domain.access.catalogue import PERMISSION_NAMES
from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal, PrincipalKind
from velocity_domain.errors import (
    ConcurrencyConflict,
    NotFound,
    UnitOfWorkError,
    ValidationFailed,
)
from velocity_domain.governance.service import Service, serves
from velocity_domain.identity.entities import (
    Role,
    RoleAssignment,
    ScopeType,
    User,
    UserKind,
    UserStatus,
)
from velocity_domain.identity.ports import ASSIGNMENTS_READ, Grant
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, IsNull, Query, asc
from velocity_domain.uow import UnitOfWork

__all__ = ["RoleService", "UserService", "live_grants", "principal_of", "resolve_principal"]

MANAGE = "identity.users.manage"
CREATE_USER = register("identity.users.create", MANAGE, "create a user (human or agent)")
DEACTIVATE_USER = register("identity.users.deactivate", MANAGE, "deactivate a user")
GET_USER = register("identity.users.get", MANAGE, "read one user")
LIST_USERS = register("identity.users.list", MANAGE, "list users")
ASSIGN_ROLE = register("identity.roles.assign", MANAGE, "give a user a role")
REVOKE_ROLE = register("identity.roles.revoke", MANAGE, "take a role assignment back")
LIST_ASSIGNMENTS = register(
    "identity.roles.list_assignments", MANAGE, "list a user's role assignments in force"
)
LIST_ROLES = register("identity.roles.list", MANAGE, "list roles and their permissions")
SET_ROLE_PERMISSIONS = register(
    "identity.roles.set_permissions", MANAGE, "change what a role may do"
)


def _active_assignments(uow: UnitOfWork, user_id: UUID, now: datetime) -> list[RoleAssignment]:
    """The user's live assignments, as :class:`~velocity_domain.identity.ports.FoundSession` says.

    Of the first :data:`~velocity_domain.identity.ports.ASSIGNMENTS_READ` unrevoked ones
    by ``granted_at`` (then id), those whose ``expires_at`` is unset or after ``now``.
    """
    query = Query(
        (Eq("user_id", user_id), IsNull("revoked_at")), (asc("granted_at"),), ASSIGNMENTS_READ
    )
    return [
        a
        for a in uow.identity.role_assignments.list(query)
        if a.expires_at is None or a.expires_at > now
    ]


def live_grants(uow: UnitOfWork, user_id: UUID, now: datetime) -> tuple[Grant, ...]:
    """The user's live role assignments with their roles, read table by table (two reads)."""
    assignments = _active_assignments(uow, user_id, now)
    roles = uow.identity.roles.get_many(a.role_id for a in assignments)
    return tuple(Grant(a, roles[a.role_id]) for a in assignments)


def principal_of(user: User, grants: Iterable[Grant]) -> Principal:
    """The Principal of ``user`` holding ``grants`` (their live assignments and roles).

    Its permissions are the roles' that the catalogue knows; a role given
    within an account or project adds that scope. A user who is not active
    is ``NotFound``.
    """
    if user.status is not UserStatus.ACTIVE:
        raise NotFound("core_users", user.user_id)
    role_names: set[str] = set()
    permissions: set[str] = set()
    scopes: dict[str, set[UUID]] = {}
    for assignment, role in grants:
        role_names.add(role.role_name)
        permissions.update(role.permission_names)
        if assignment.scope_type is not ScopeType.GLOBAL and assignment.scope_ref is not None:
            scopes.setdefault(role.role_name, set()).add(assignment.scope_ref)
    kind = PrincipalKind.AGENT if user.user_kind is UserKind.AGENT else PrincipalKind.HUMAN
    return Principal(
        user_id=user.user_id,
        kind=kind,
        name=user.display_name,
        role_names=frozenset(role_names),
        permissions=frozenset(permissions & PERMISSION_NAMES),
        scopes={name: frozenset(ids) for name, ids in scopes.items()},
    )


def resolve_principal(uow: UnitOfWork, user_id: UUID, now: datetime) -> Principal:
    """Build the Principal of an active user from their live role assignments (three reads)."""
    user = uow.identity.users.get(user_id)
    active = user.status is UserStatus.ACTIVE
    return principal_of(user, live_grants(uow, user_id, now) if active else ())


class UserService(Service):
    """Create, read and deactivate users; assign and revoke their roles."""

    @serves(None)
    def create_first_admin(self, *, email: str, display_name: str) -> tuple[User, Principal]:
        """Create the first user, with the ``admin`` role, on a store that has no users.

        Returns the user and their principal; refused once any user exists.
        """
        now = self.clock.now()
        with self._unit_of_work() as uow:
            if uow.identity.users.count() > 0:
                raise UnitOfWorkError("users already exist; an admin must create further users")
            user = uow.identity.users.add(
                User(email=email, display_name=display_name, created_at=now, updated_at=now)
            )
            admin = _role_named(uow, "admin")
            uow.identity.role_assignments.add(
                RoleAssignment(user_id=user.key, role_id=admin.key, granted_at=now)
            )
            principal = resolve_principal(uow, user.key, now)
            self._audit(
                uow,
                principal,
                CREATE_USER.name,
                target_domain="identity",
                target_ref=user.key,
                after=user,
                reason="first administrator",
            )
            uow.commit()
        return user, principal

    @serves(CREATE_USER)
    def create(
        self,
        principal: Principal,
        *,
        email: str,
        display_name: str,
        kind: UserKind | str = UserKind.HUMAN,
        roles: Iterable[str] = (),
    ) -> User:
        """Create a user and give them ``roles`` (global, no expiry)."""
        now = self.clock.now()
        with self._begin(principal, CREATE_USER) as uow:
            user = User(
                email=email,
                display_name=display_name,
                user_kind=UserKind(kind),
                created_at=now,
                updated_at=now,
            )
            self._add_audited(uow, principal, CREATE_USER.name, user, domain="identity")
            for name in roles:
                self._assign(
                    uow,
                    principal,
                    user_id=user.key,
                    role_name=name,
                    scope_type=ScopeType.GLOBAL,
                    scope_ref=None,
                    expires_at=None,
                    now=now,
                )
            uow.commit()
        return user

    @serves(GET_USER)
    def get(self, principal: Principal, user_id: UUID) -> User:
        """Read one user."""
        with self._begin(principal, GET_USER) as uow:
            return uow.identity.users.get(user_id)

    @serves(LIST_USERS)
    def list(
        self, principal: Principal, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[User]:
        """List users by email."""
        with self._begin(principal, LIST_USERS) as uow:
            return uow.identity.users.list(Query((), (asc("email"),), limit, cursor))

    @serves(DEACTIVATE_USER)
    def deactivate(self, principal: Principal, user_id: UUID, *, reason: str | None = None) -> User:
        """Deactivate a user; their sessions stop working at once."""
        now = self.clock.now()
        with self._begin(principal, DEACTIVATE_USER) as uow:
            user = uow.identity.users.get(user_id)
            if user.status is UserStatus.DEACTIVATED:
                return user
            deactivated = attrs.evolve(user, status=UserStatus.DEACTIVATED, deactivated_at=now)
            changed = self._update_audited(
                uow,
                principal,
                DEACTIVATE_USER.name,
                user,
                deactivated,
                domain="identity",
                reason=reason,
            )
            uow.commit()
        return changed

    @serves(ASSIGN_ROLE)
    def assign_role(
        self,
        principal: Principal,
        user_id: UUID,
        role_name: str,
        *,
        scope_type: ScopeType | str = ScopeType.GLOBAL,
        scope_ref: UUID | None = None,
        expires_at: datetime | None = None,
    ) -> RoleAssignment:
        """Give a user a role, optionally limited to an account or project and until a time."""
        now = self.clock.now()
        with self._begin(principal, ASSIGN_ROLE) as uow:
            uow.identity.users.get(user_id)
            assignment = self._assign(
                uow,
                principal,
                user_id=user_id,
                role_name=role_name,
                scope_type=ScopeType(scope_type),
                scope_ref=scope_ref,
                expires_at=expires_at,
                now=now,
            )
            uow.commit()
        return assignment

    def _assign(
        self,
        uow: UnitOfWork,
        principal: Principal,
        *,
        user_id: UUID,
        role_name: str,
        scope_type: ScopeType,
        scope_ref: UUID | None,
        expires_at: datetime | None,
        now: datetime,
    ) -> RoleAssignment:
        role = _role_named(uow, role_name)
        assignment = RoleAssignment(
            user_id=user_id,
            role_id=role.key,
            scope_type=scope_type,
            scope_ref=scope_ref,
            granted_by_user_id=principal.user_id,
            granted_at=now,
            expires_at=expires_at,
            created_at=now,
            updated_at=now,
        )
        uow.identity.role_assignments.add(assignment)
        self._audit(
            uow,
            principal,
            ASSIGN_ROLE.name,
            target_domain="identity",
            target_ref=user_id,
            after=assignment,
            details={"role": role_name},
        )
        return assignment

    @serves(LIST_ASSIGNMENTS)
    def role_assignments(self, principal: Principal, user_id: UUID) -> tuple[RoleAssignment, ...]:
        """The user's role assignments in force (not revoked, not expired), oldest first.

        These are the assignments the user's principal is built from; their
        ids are what :meth:`revoke_role` takes.
        """
        now = self.clock.now()
        with self._begin(principal, LIST_ASSIGNMENTS) as uow:
            uow.identity.users.get(user_id)
            return tuple(_active_assignments(uow, user_id, now))

    @serves(REVOKE_ROLE)
    def revoke_role(
        self, principal: Principal, assignment_id: UUID, *, user_id: UUID | None = None
    ) -> RoleAssignment:
        """Take back a role assignment (it stays on record, marked revoked).

        With ``user_id``, the assignment must be that user's (``NotFound``
        otherwise, nothing changed), so a caller naming a user and one of
        their assignments cannot revoke another user's by mistake.
        """
        now = self.clock.now()
        with self._begin(principal, REVOKE_ROLE) as uow:
            current = uow.identity.role_assignments.get(assignment_id)
            if user_id is not None and current.user_id != user_id:
                raise NotFound("core_role_assignments", assignment_id)
            if current.revoked_at is not None:
                return current
            wanted = attrs.evolve(current, revoked_at=now, revoked_by_user_id=principal.user_id)
            revoked = self._update_audited(
                uow,
                principal,
                REVOKE_ROLE.name,
                current,
                wanted,
                domain="identity",
                target_ref=current.user_id,
            )
            uow.commit()
        return revoked

    @serves(None)
    def principal_for(self, principal: Principal, user_id: UUID) -> Principal:
        """Return the Principal of an active user (for hosts with their own login)."""
        with self._begin(principal, GET_USER) as uow:
            return resolve_principal(uow, user_id, self.clock.now())


def _role_named(uow: UnitOfWork, role_name: str) -> Role:
    found = uow.identity.roles.list(Query((Eq("role_name", role_name),), limit=1))
    if not found.items:
        raise ValidationFailed("role_name", f"there is no role {role_name!r}", value=role_name)
    return found.items[0]


class RoleService(Service):
    """Read roles and change what they allow."""

    @serves(LIST_ROLES)
    def list(self, principal: Principal) -> list[Role]:
        """List every role by name."""
        with self._begin(principal, LIST_ROLES) as uow:
            return list(uow.identity.roles.list(Query((), (asc("role_name"),), MAX_PAGE_SIZE)))

    @serves(SET_ROLE_PERMISSIONS)
    def set_permissions(
        self,
        principal: Principal,
        role_name: str,
        permissions: Iterable[str],
        *,
        expected_version: int | None = None,
    ) -> Role:
        """Replace what a role allows; every name must be in the catalogue.

        With ``expected_version``, the role must still be at that version
        (``ConcurrencyConflict`` otherwise), so one administrator's change
        does not silently undo another's.
        """
        wanted = tuple(sorted(set(permissions)))
        unknown = sorted(set(wanted) - PERMISSION_NAMES)
        if unknown:
            raise ValidationFailed("permissions", f"unknown permissions: {', '.join(unknown)}")
        with self._begin(principal, SET_ROLE_PERMISSIONS) as uow:
            role = _role_named(uow, role_name)
            if expected_version is not None and role.version != expected_version:
                raise ConcurrencyConflict(role.table_name, role.key, expected_version, role.version)
            allowed = attrs.evolve(role, permission_names=wanted)
            changed = self._update_audited(
                uow, principal, SET_ROLE_PERMISSIONS.name, role, allowed, domain="identity"
            )
            uow.commit()
        return changed
