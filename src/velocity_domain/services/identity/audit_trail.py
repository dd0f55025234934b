"""Reading the audit trail (needs ``audit.read``)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.governance.service import Service, serves
from velocity_domain.identity.entities import AuditEvent
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Filter, Query, Range, desc

__all__ = ["AuditService"]

LIST_EVENTS = register("audit.events.list", "audit.read", "list audit events")


class AuditService(Service):
    """Query the append-only audit trail."""

    @serves(LIST_EVENTS)
    def list(
        self,
        principal: Principal,
        *,
        target_domain: str | None = None,
        target_ref: UUID | str | None = None,
        actor_user_id: UUID | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[AuditEvent]:
        """List audit events newest first, by target, actor, action and time range."""
        where: list[Filter] = []
        if target_domain is not None:
            where.append(Eq("target_domain", target_domain))
        if target_ref is not None:
            where.append(Eq("target_ref", str(target_ref)))
        if actor_user_id is not None:
            where.append(Eq("actor_user_id", actor_user_id))
        if action is not None:
            where.append(Eq("action", action))
        if since is not None or until is not None:
            where.append(Range("occurred_at", gte=since, lt=until))
        order = (desc("occurred_at"), desc("audit_event_id"))
        with self._begin(principal, LIST_EVENTS) as uow:
            return uow.identity.audit_events.list(Query(where, order, limit, cursor))
