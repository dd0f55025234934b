"""The identity and access repository.

Users, roles, permissions, role assignments, sessions and the audit trail.
"""

from velocity_domain.identity.entities import (
    AuditEvent,
    Permission,
    Role,
    RoleAssignment,
    Session,
    User,
)
from velocity_domain.kernel.repository import AppendTable, MutableTable, StoreTransaction

__all__ = ["IdentityRepository"]


class IdentityRepository:
    """The ``core_*`` tables inside one unit of work."""

    def __init__(self, tx: StoreTransaction) -> None:
        self.users: MutableTable[User] = tx.mutable(User)
        self.roles: MutableTable[Role] = tx.mutable(Role)
        self.permissions: MutableTable[Permission] = tx.mutable(Permission)
        self.role_assignments: MutableTable[RoleAssignment] = tx.mutable(RoleAssignment)
        self.sessions: MutableTable[Session] = tx.mutable(Session)
        self.audit_events: AppendTable[AuditEvent] = tx.table(AuditEvent)
