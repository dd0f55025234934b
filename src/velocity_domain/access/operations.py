"""The registry of service operations and the permission each one needs.

Every public service method is registered here under a stable name such as
``identity.users.create``. The permission matrix test walks this registry,
so an operation nobody put in the matrix fails the build.
"""

from __future__ import annotations

import attrs

from velocity_domain.access.catalogue import PERMISSION_NAMES
from velocity_domain.access.principal import Principal

__all__ = ["OPERATIONS", "Operation", "authorize", "register"]


@attrs.frozen
class Operation:
    """A public service operation: its name, the permission it needs, what it does."""

    name: str
    permission: str | None
    description: str


#: Every registered operation by name.
OPERATIONS: dict[str, Operation] = {}


def register(name: str, permission: str | None, description: str) -> Operation:
    """Register an operation (at import of its service module) and return it.

    ``permission=None`` marks an operation any authenticated principal may
    call (it still checks what the principal may see).
    """
    if permission is not None and permission not in PERMISSION_NAMES:
        raise ValueError(f"operation {name} needs unknown permission {permission}")
    existing = OPERATIONS.get(name)
    operation = Operation(name, permission, description)
    if existing is not None and existing != operation:
        raise ValueError(f"operation {name} registered twice with different rules")
    OPERATIONS[name] = operation
    return operation


def authorize(principal: Principal, operation: Operation) -> None:
    """Check, before anything else, that ``principal`` may run ``operation``."""
    if not isinstance(principal, Principal):
        raise TypeError(f"{operation.name} needs a Principal first, got {type(principal).__name__}")
    if operation.permission is not None:
        principal.require(operation.permission, operation.name)
