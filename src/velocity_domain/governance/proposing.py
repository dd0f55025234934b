"""How a generic proposal is read, checked and compared, for ``velocity.writebacks``.

A proposal names a table, a kind of change and fields; :func:`route_for`
finds the governed operation that writes it, :func:`describe` checks it
against the target as it is now and turns it into a
:class:`~velocity_domain.governance.change.ProposedChange` holding validated
values, and :func:`request_digest` recognises a repeated request under one
idempotency key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.principal import Principal
from velocity_domain.access.visibility import (
    Visibility,
    check_person_for_new_record,
    default_owner,
)
from velocity_domain.crm.entities import Lead, Opportunity, Person
from velocity_domain.errors import ConcurrencyConflict, ValidationFailed
from velocity_domain.governance.appliers import Appliers, Route
from velocity_domain.governance.change import ProposedChange, plain_values
from velocity_domain.kernel.arguments import uuid_arg, version_arg
from velocity_domain.kernel.convert import to_dict
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.model import Entity, VersionedEntity
from velocity_domain.kernel.query import Eq, Query
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import ChangeKind, Writeback

__all__ = [
    "PROPOSAL_ARGUMENTS",
    "by_idempotency_key",
    "context_arg",
    "describe",
    "fields_arg",
    "request_digest",
    "route_for",
]

#: The keyword arguments one proposal takes (``propose`` and each item of ``propose_many``).
PROPOSAL_ARGUMENTS = frozenset(
    {
        "target_table",
        "change_kind",
        "fields",
        "target_ref",
        "base_version",
        "context",
        "operation",
        "agent_run_id",
        "proposal_ref",
        "idempotency_key",
    }
)


#: Fields the store keeps itself; a proposal never sets them.
STORE_FIELDS = frozenset({"version", "created_at", "updated_at"})


def fields_arg(value: object) -> dict[str, Any]:
    """The proposed fields: a mapping of field name to value."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValidationFailed("fields", "must be a mapping of field name to value")
    for name in sorted(STORE_FIELDS & set(value)):
        raise ValidationFailed(name, "is kept by the store and cannot be proposed")
    return dict(value)


def context_arg(value: object) -> dict[str, Any]:
    """What the operation needs besides fields, in its JSON-safe form."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValidationFailed("context", "must be a mapping of name to value")
    return plain_values(value)


def route_for(
    appliers: Appliers, table: str, kind: ChangeKind, values: dict[str, Any], operation: object
) -> Route:
    """The governed operation that writes this change: the one named, or the one that fits."""
    if operation is None:
        return appliers.route(table, kind, values)
    if not isinstance(operation, str):
        raise ValidationFailed("operation", "must be an operation name", value=operation)
    route = appliers.get(operation)
    if route.table != table or route.kind is not kind:
        raise ValidationFailed(
            "operation",
            f"{operation} makes {route.kind.value} changes to {route.table}",
            value=operation,
        )
    if route.fields is not None and not set(values) <= route.fields:
        others = ", ".join(sorted(set(values) - route.fields))
        raise ValidationFailed("fields", f"{operation} does not change {others}", value=others)
    return route


def describe(
    uow: UnitOfWork,
    principal: Principal,
    route: Route,
    cls: type[Entity],
    *,
    values: dict[str, Any],
    target_ref: object,
    base_version: object,
    context: object,
    bulk_size: int,
) -> ProposedChange:
    """Check a proposal against the target as it is now and describe it with validated values.

    A create may not name a target or a version, and a new row for a person
    follows the same visibility rule as the services (no new records for
    another agent's client). An update names a target the proposer may see,
    at its current version (else ``ConcurrencyConflict``).
    """
    extra = context_arg(context)
    if route.kind is ChangeKind.CREATE:
        if target_ref is not None:
            raise ValidationFailed("target_ref", "a create names no target", value=target_ref)
        if base_version is not None:
            raise ValidationFailed("base_version", "a create has no version", value=base_version)
        values.setdefault(cls.key_field, new_id())
        if cls is Person:
            # As contacts.create: an agent who sees only their own clients owns what they add.
            values.setdefault("owner_user_id", default_owner(principal))
        change = ProposedChange(
            operation=route.operation,
            target_table=route.table,
            change_kind=route.kind,
            fields=plain_values(values),
            context=extra,
            bulk_size=bulk_size,
        )
        built = change.build()
        for person_id in _people_linked(Visibility(uow, principal), built):
            check_person_for_new_record(uow, principal, person_id)
        # Keep the validated values (normalised emails, scaled money), as they will be written.
        typed = {name: getattr(built, name) for name in change.fields}
        return attrs.evolve(change, fields=plain_values(typed))
    key = uuid_arg(target_ref, "target_ref")
    version = version_arg(base_version, "base_version")
    if not values and route.kind is ChangeKind.UPDATE:
        raise ValidationFailed("fields", "an update changes at least one field")
    current = Visibility(uow, principal).get(cls, key, "target_ref")
    assert isinstance(current, VersionedEntity)
    if current.version != version:
        raise ConcurrencyConflict(route.table, key, version, current.version)
    change = ProposedChange(
        operation=route.operation,
        target_table=route.table,
        change_kind=route.kind,
        target_ref=key,
        base_version=version,
        fields=plain_values(values),
        current={n: v for n, v in to_dict(current).items() if n in values},
        context=extra,
        bulk_size=bulk_size,
    )
    if not route.validate_row:
        return change
    return attrs.evolve(change, fields=plain_values(change.typed_fields(current)))


def _people_linked(visibility: Visibility, row: Entity) -> list[UUID]:
    """The people a new row belongs to: named directly, or through its lead or opportunity.

    A lead or opportunity the proposer may not see is refused exactly as one
    that does not exist.
    """
    people: list[UUID] = []
    person_id = getattr(row, "person_id", None)
    if isinstance(person_id, UUID) and row.key_field != "person_id":
        people.append(person_id)
    links: tuple[tuple[str, type[Lead | Opportunity]], ...] = (
        ("lead_id", Lead),
        ("opportunity_id", Opportunity),
    )
    for field, cls in links:
        ref = getattr(row, field, None)
        if isinstance(ref, UUID) and row.key_field != field:
            people.append(visibility.referenced(cls, ref, field).person_id)
    return people


def request_digest(principal: Principal, request: Mapping[str, Any]) -> str:
    """A digest of who asked for what, exactly as asked, to recognise a repeated request.

    The proposer is part of it, so an idempotency key names one proposer's
    request; values are taken in their JSON-safe form.
    """
    who = str(principal.user_id) if principal.user_id is not None else f"system:{principal.name}"
    try:
        body = json.dumps(
            {"proposer": who, **plain_values(request)}, sort_keys=True, separators=(",", ":")
        )
    except TypeError as exc:
        raise ValidationFailed("fields", f"is not JSON-safe data: {exc}") from None
    return hashlib.sha256(body.encode()).hexdigest()


def by_idempotency_key(uow: UnitOfWork, key: str) -> Writeback | None:
    """The writeback stored under ``key``, if any."""
    page = uow.workflow.writebacks.list(Query([Eq("idempotency_key", key)], limit=1))
    return page.items[0] if page.items else None
