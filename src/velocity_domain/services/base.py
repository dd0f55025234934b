"""What every service shares: units of work, the clock, authorisation and auditing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from velocity_domain.access import audit
from velocity_domain.access.operations import Operation, authorize
from velocity_domain.access.principal import Principal
from velocity_domain.access.visibility import Visibility
from velocity_domain.kernel.clock import Clock
from velocity_domain.kernel.model import Entity
from velocity_domain.uow import UnitOfWork

__all__ = ["Service"]


class Service:
    """Base of the services: opens units of work and checks permissions first."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._unit_of_work = unit_of_work
        self.clock = clock

    def _begin(self, principal: Principal, operation: Operation) -> UnitOfWork:
        """Authorise ``principal`` for ``operation``, then return a new unit of work."""
        authorize(principal, operation)
        return self._unit_of_work()

    @staticmethod
    def _visibility(uow: UnitOfWork, principal: Principal) -> Visibility:
        return Visibility(uow, principal)

    def _audit(
        self,
        uow: UnitOfWork,
        principal: Principal,
        action: str,
        *,
        target_domain: str,
        target_ref: object | None = None,
        before: Entity | None = None,
        after: Entity | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        audit.record(
            uow,
            self.clock,
            principal,
            action,
            target_domain=target_domain,
            target_ref=target_ref,
            before=before,
            after=after,
            reason=reason,
            details=details,
        )
