"""``/api/admin/roles``: the roles and what each allows, for administrators (domain: identity).

Roles are named by their slug (``sales_agent``), which is unique and never
changes, so the permissions of a role are at ``/{role_name}/permissions``.
"""

from __future__ import annotations

import attrs

from velocity_domain.api.routing import Call, Family, Param, Route
from velocity_domain.errors import ConcurrencyConflict, NotFound, ValidationFailed
from velocity_domain.identity.entities import Role

__all__ = ["FAMILY", "RolePermissions"]

PREFIX = "/api/admin/roles"


@attrs.frozen
class RolePermissions:
    """Everything the role shall allow: permission names from the catalogue.

    The list replaces the role's grants; an unknown name is refused.
    """

    permissions: tuple[str, ...]


def _list(call: Call) -> list[Role]:
    return call.velocity.roles.list(call.principal)


def _set_permissions(call: Call) -> Role:
    body: RolePermissions = call.body
    name: str = call["role_name"]
    try:
        return call.velocity.roles.set_permissions(
            call.principal, name, body.permissions, expected_version=call.version
        )
    except ValidationFailed as refused:
        # The service names a role it does not know as its role_name argument;
        # here that name is the address, so the answer is that it is not there.
        if refused.field == "role_name":
            raise NotFound(Role.table_name, name) from None
        raise


_NAME = Param("role_name", str, where="path", description="the role's name, such as analyst")

FAMILY = Family(
    name="identity.roles",
    domain="identity",
    prefix=PREFIX,
    summary="Roles: the named bundles of permissions users are given.",
    routes=(
        Route(
            "GET",
            "",
            "identity.roles.list",
            "List every role by name, with the permissions it grants.",
            _list,
            returns=list[Role],
        ),
        Route(
            "PUT",
            "/{role_name}/permissions",
            "identity.roles.set_permissions",
            "Replace what the role allows, if the role is at the If-Match version.",
            _set_permissions,
            params=(_NAME,),
            body=RolePermissions,
            returns=Role,
            conditional=True,
            errors=(ConcurrencyConflict,),
        ),
    ),
)
