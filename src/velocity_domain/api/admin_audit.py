"""``/api/admin/audit-events``: the audit trail, newest first (domain: identity).

Every change the services make writes an event here, with the ``X-Request-ID``
of the HTTP request that made it as ``correlation_id``, so a client can find
what one of its requests did. Reading it needs ``audit.read``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from velocity_domain.api.routing import Call, Family, Param, Route, page_params
from velocity_domain.identity.entities import AuditEvent

__all__ = ["FAMILY"]

PREFIX = "/api/admin/audit-events"


def _list(call: Call) -> Any:
    return call.velocity.audit.list(
        call.principal,
        **call.query(
            "target_domain",
            "target_ref",
            "actor_user_id",
            "action",
            "since",
            "until",
            "limit",
            "cursor",
        ),
    )


FAMILY = Family(
    name="identity.audit",
    domain="identity",
    prefix=PREFIX,
    summary="The audit trail: who did what to which record, when, and in which request.",
    routes=(
        Route(
            "GET",
            "",
            "audit.events.list",
            "List audit events newest first, by target, actor, action and time.",
            _list,
            params=(
                Param("target_domain", str | None, description="crm, identity, workflow, ..."),
                Param("target_ref", str | None, description="the changed record's id"),
                Param("actor_user_id", UUID | None, description="the user who acted"),
                Param(
                    "action", str | None, description="the operation, such as crm.contacts.create"
                ),
                Param("since", datetime | None, description="inclusive"),
                Param("until", datetime | None, description="exclusive"),
                *page_params(),
            ),
            returns=AuditEvent,
            many=True,
        ),
    ),
)
