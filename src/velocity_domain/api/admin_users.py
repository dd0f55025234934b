"""``/api/admin/users``: users and their role assignments, for administrators (domain: identity).

Every route needs ``identity.users.manage``. Users are deactivated, never
deleted; a role assignment is revoked, never deleted, so both answer with
the record as it now stands. No field of a user or an assignment is secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.api.routing import Call, Created, Family, Param, Route, page_params
from velocity_domain.errors import AlreadyExists, ValidationFailed
from velocity_domain.identity.entities import RoleAssignment, ScopeType, User, UserKind

__all__ = ["FAMILY", "RoleGrant", "UserDeactivation", "UserDraft"]

PREFIX = "/api/admin/users"


@attrs.frozen
class UserDraft:
    """A new user: an email (unique), a display name, human or agent, and global roles.

    ``roles`` are role names (``sales_agent``); each is given everywhere and
    without expiry (``POST /{user_id}/roles`` gives a scoped or expiring one).
    """

    email: str
    display_name: str
    kind: UserKind = UserKind.HUMAN
    roles: tuple[str, ...] = ()


@attrs.frozen
class UserDeactivation:
    """Why a user is deactivated (written to the audit trail); the body may be left out."""

    reason: str | None = None


@attrs.frozen
class RoleGrant:
    """A role to give a user: everywhere, or within one account or project, until a time.

    ``scope_ref`` is the account's or project's id and is given exactly when
    ``scope_type`` is ``account`` or ``project``; ``expires_at`` must be
    later than now.
    """

    role_name: str
    scope_type: ScopeType = ScopeType.GLOBAL
    scope_ref: UUID | None = None
    expires_at: datetime | None = None


def _list(call: Call) -> Any:
    return call.velocity.users.list(call.principal, **call.query("limit", "cursor"))


def _create(call: Call) -> Created:
    try:
        user = call.velocity.users.create(call.principal, **call.arguments())
    except ValidationFailed as refused:
        # The service names an unknown role by its own argument, role_name;
        # the body's field holding it is roles.
        if refused.field == "role_name":
            raise ValidationFailed("roles", refused.reason, value=refused.value) from None
        raise
    return Created(user, f"{PREFIX}/{user.user_id}")


def _get(call: Call) -> User:
    return call.velocity.users.get(call.principal, call["user_id"])


def _deactivate(call: Call) -> User:
    return call.velocity.users.deactivate(call.principal, call["user_id"], reason=call.body.reason)


def _assignments(call: Call) -> tuple[RoleAssignment, ...]:
    return call.velocity.users.role_assignments(call.principal, call["user_id"])


def _assign(call: Call) -> RoleAssignment:
    body: RoleGrant = call.body
    return call.velocity.users.assign_role(
        call.principal,
        call["user_id"],
        body.role_name,
        scope_type=body.scope_type,
        scope_ref=body.scope_ref,
        expires_at=body.expires_at,
    )


def _revoke(call: Call) -> RoleAssignment:
    return call.velocity.users.revoke_role(
        call.principal, call["assignment_id"], user_id=call["user_id"]
    )


_USER = Param("user_id", UUID, where="path", description="the user's user_id")
_ASSIGNMENT = Param(
    "assignment_id", UUID, where="path", description="the assignment's role_assignment_id"
)

FAMILY = Family(
    name="identity.users",
    domain="identity",
    prefix=PREFIX,
    summary="Users: people and agents who may act, their roles, and deactivation.",
    routes=(
        Route(
            "GET",
            "",
            "identity.users.list",
            "List the users by email, active and deactivated.",
            _list,
            params=page_params(),
            returns=User,
            many=True,
        ),
        Route(
            "POST",
            "",
            "identity.users.create",
            "Create a user (refused when the email is taken) with global roles.",
            _create,
            body=UserDraft,
            returns=User,
            status=201,
            errors=(AlreadyExists,),
        ),
        Route(
            "GET",
            "/{user_id}",
            "identity.users.get",
            "Read one user.",
            _get,
            params=(_USER,),
            returns=User,
        ),
        Route(
            "POST",
            "/{user_id}/deactivate",
            "identity.users.deactivate",
            "Deactivate a user: their sessions stop working at once (again: no change).",
            _deactivate,
            params=(_USER,),
            body=UserDeactivation,
            returns=User,
        ),
        Route(
            "GET",
            "/{user_id}/roles",
            "identity.roles.list_assignments",
            "List the user's role assignments in force (not revoked, not expired).",
            _assignments,
            params=(_USER,),
            returns=tuple[RoleAssignment, ...],
        ),
        Route(
            "POST",
            "/{user_id}/roles",
            "identity.roles.assign",
            "Give the user a role, everywhere or within an account or project.",
            _assign,
            params=(_USER,),
            body=RoleGrant,
            returns=RoleAssignment,
            status=201,
        ),
        Route(
            "POST",
            "/{user_id}/roles/{assignment_id}/revoke",
            "identity.roles.revoke",
            "Revoke one of the user's role assignments (kept on record; again: no change).",
            _revoke,
            params=(_USER, _ASSIGNMENT),
            returns=RoleAssignment,
        ),
    ),
)
