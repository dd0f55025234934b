"""Who is acting: the principal every service call takes first.

>>> p = Principal(user_id=None, kind=PrincipalKind.SYSTEM, name="nightly-import",
...               role_names=frozenset(), permissions=frozenset({"crm.contacts.read"}))
>>> p.has("crm.contacts.read"), p.has("audit.read")
(True, False)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from uuid import UUID

import attrs

from velocity_domain.errors import PermissionDenied

__all__ = ["Principal", "PrincipalKind"]


class PrincipalKind(enum.StrEnum):
    """A person, an automated agent (such as Oracle), or the host system itself."""

    HUMAN = "human"
    AGENT = "agent"
    SYSTEM = "system"


def _frozen(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


@attrs.frozen
class Principal:
    """An authenticated actor: its user, roles, resolved permissions and kind.

    Principals come from ``velocity.sessions.authenticate(token)`` or
    ``velocity.users.principal_for(user_id)``; a host's own trusted jobs use
    :meth:`system`. ``scopes`` maps a role name to the account or project ids
    it is limited to (absent: unlimited). ``correlation_id`` (a request id,
    say) is written on every audit event made on the principal's behalf: a
    host sets it per request with ``principal.with_correlation(request_id)``.
    """

    user_id: UUID | None
    kind: PrincipalKind
    name: str
    role_names: frozenset[str] = attrs.field(converter=_frozen)
    permissions: frozenset[str] = attrs.field(converter=_frozen)
    scopes: dict[str, frozenset[UUID]] = attrs.field(factory=dict, eq=False)
    correlation_id: str | None = attrs.field(default=None, eq=False)

    def with_correlation(self, correlation_id: str) -> Principal:
        """Return this principal tagged with a correlation id for the audit trail."""
        return attrs.evolve(self, correlation_id=correlation_id)

    @classmethod
    def system(cls, name: str, permissions: Iterable[str] | None = None) -> Principal:
        """A principal for the host's own trusted work (imports, schedulers, login).

        Without ``permissions`` it holds every permission of the catalogue.
        """
        from velocity_domain.access.catalogue import PERMISSION_NAMES  # noqa: PLC0415

        granted = PERMISSION_NAMES if permissions is None else frozenset(permissions)
        return cls(None, PrincipalKind.SYSTEM, name, frozenset(), granted)

    @property
    def is_agent(self) -> bool:
        """Whether this is an automated agent (which may never approve)."""
        return self.kind is PrincipalKind.AGENT

    def has(self, permission: str) -> bool:
        """Say whether the principal holds ``permission``."""
        return permission in self.permissions

    def require(self, permission: str, operation: str | None = None) -> None:
        """Raise ``PermissionDenied`` unless the principal holds ``permission``."""
        if permission not in self.permissions:
            raise PermissionDenied(self, permission, operation)

    def __str__(self) -> str:
        who = self.user_id if self.user_id is not None else self.name
        return f"{self.kind.value}:{who}"
