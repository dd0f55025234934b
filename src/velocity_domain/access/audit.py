"""The audit recorder: one append-only event per change, in the change's own transaction."""

from __future__ import annotations

from typing import Any

import attrs

from velocity_domain.access.principal import Principal, PrincipalKind
from velocity_domain.identity.entities import ActorKind, AuditEvent
from velocity_domain.kernel.clock import Clock
from velocity_domain.kernel.convert import converter, to_dict
from velocity_domain.kernel.model import Entity
from velocity_domain.uow import UnitOfWork

__all__ = ["changed_fields", "record"]

_UNTRACKED = {"version", "created_at", "updated_at"}
_ABSENT = object()


def changed_fields(
    before: Entity | None, after: Entity | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Return the JSON-safe values of the fields that differ (all fields for a create or delete).

    For an update only the fields that differ are turned into JSON, one by one.
    """
    if before is None or after is None:
        old = None if before is None else to_dict(before)
        new = None if after is None else to_dict(after)
        return old, new
    names = [
        f.name
        for f in attrs.fields(type(after))
        if f.init
        and f.name not in _UNTRACKED
        and getattr(before, f.name, _ABSENT) != getattr(after, f.name)
    ]
    unstructure = converter.unstructure
    return (
        {n: unstructure(getattr(before, n, None)) for n in names},
        {n: unstructure(getattr(after, n)) for n in names},
    )


def record(
    uow: UnitOfWork,
    clock: Clock,
    principal: Principal,
    action: str,
    *,
    target_domain: str,
    target_ref: object | None = None,
    before: Entity | None = None,
    after: Entity | None = None,
    reason: str | None = None,
    correlation_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to ``uow``: it commits or rolls back with the change it records.

    Events are inserted when the unit of work commits, all of them in one
    statement (:meth:`~velocity_domain.uow.UnitOfWork.add_later`).
    """
    old, new = changed_fields(before, after)
    kind = {
        PrincipalKind.HUMAN: ActorKind.HUMAN,
        PrincipalKind.AGENT: ActorKind.AGENT,
        PrincipalKind.SYSTEM: ActorKind.SYSTEM,
    }[principal.kind]
    facts = dict(details or {})
    if principal.kind is PrincipalKind.SYSTEM:
        facts.setdefault("system_actor", principal.name)
    event = AuditEvent(
        occurred_at=clock.now(),
        actor_user_id=principal.user_id if principal.kind is not PrincipalKind.SYSTEM else None,
        actor_kind=kind,
        action=action,
        target_domain=target_domain,
        target_ref=None if target_ref is None else str(target_ref),
        before_json=old or {},
        after_json=new or {},
        reason=reason,
        correlation_id=correlation_id or principal.correlation_id,
        details_json=facts,
    )
    uow.add_later(event)
    return event
