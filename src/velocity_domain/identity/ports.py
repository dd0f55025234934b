"""The identity and access repository, and the port that authenticates a token at once.

Users, roles, permissions, role assignments, sessions and the audit trail.
A store may answer :class:`SessionPrincipals` (everything authenticating a
token needs) in one statement; without it the tables are read one by one.
"""

from datetime import datetime
from typing import NamedTuple, Protocol

from velocity_domain.identity.entities import (
    AuditEvent,
    Permission,
    Role,
    RoleAssignment,
    Session,
    User,
)
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE
from velocity_domain.kernel.repository import AppendTable, MutableTable, StoreTransaction

__all__ = ["ASSIGNMENTS_READ", "FoundSession", "Grant", "IdentityRepository", "SessionPrincipals"]

#: A user's live role assignments are looked for among their first this many
#: unrevoked ones, by ``granted_at`` then id (one page of a listing).
ASSIGNMENTS_READ = MAX_PAGE_SIZE


class IdentityRepository:
    """The ``core_*`` tables inside one unit of work."""

    def __init__(self, tx: StoreTransaction) -> None:
        self.users: MutableTable[User] = tx.mutable(User)
        self.roles: MutableTable[Role] = tx.mutable(Role)
        self.permissions: MutableTable[Permission] = tx.mutable(Permission)
        self.role_assignments: MutableTable[RoleAssignment] = tx.mutable(RoleAssignment)
        self.sessions: MutableTable[Session] = tx.mutable(Session)
        self.audit_events: AppendTable[AuditEvent] = tx.table(AuditEvent)


class Grant(NamedTuple):
    """One live role assignment of a user, and the role it gives."""

    assignment: RoleAssignment
    role: Role


class FoundSession(NamedTuple):
    """What authenticating a token reads: its session, the session's user and their grants.

    ``grants`` are the user's live role assignments, each with its role, in
    ``granted_at`` order (then by id): of the user's first
    :data:`ASSIGNMENTS_READ` unrevoked assignments in that order, those not
    expired at the time asked about (``expires_at`` unset or after it). The
    session is returned whatever its state (revoked, expired) and the user
    whatever theirs: deciding is the caller's business.
    """

    session: Session
    user: User
    grants: tuple[Grant, ...]


class SessionPrincipals(Protocol):
    """A store's own way of reading what a session token stands for, in one statement.

    The answer is exactly what reading the session, the user, their role
    assignments and the roles table by table gives (see :class:`FoundSession`).
    """

    def find(self, token_sha256: str, now: datetime) -> FoundSession | None:
        """The session whose token has SHA-256 ``token_sha256``, or ``None`` if there is none.

        ``now`` decides which role assignments have expired.
        """
        ...
