"""Property interests: what a client is looking for (``crm_property_interests``).

An interest names a project or a unit (or neither, for a configuration and a
budget alone), is ``active`` until closed, and follows the client's record
visibility: an interest of a client one may not see is not found.

Recording, changing and closing an interest pass the writeback policy (spec
section 9) before anything is written. The budgets are money, so by default
an update that changes ``budget_min`` or ``budget_max`` is stored for review
(rule ``price_or_value``) and ``ApprovalRequired`` is raised; a budget given
when the interest is recorded goes straight on.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.crm.entities import (
    Person,
    Priority,
    PropertyInterest,
    PropertyInterestStatus,
)
from velocity_domain.errors import (
    InvalidTransition,
    ValidationFailed,
)
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.service import GovernedUpdate, Service, applier, creator, serves
from velocity_domain.kernel.arguments import UNCHANGED, Unchanged, Version, changes
from velocity_domain.services.inventory.catalogue import check_places
from velocity_domain.uow import UnitOfWork

__all__ = ["PropertyInterestService"]

RECORD = register("crm.interests.record", "crm.contacts.write", "record a client's interest")
UPDATE = register("crm.interests.update", "crm.contacts.write", "change an active interest")
CLOSE = register("crm.interests.close", "crm.contacts.write", "close an interest")
OF_CLIENT = register("crm.interests.of_client", "crm.contacts.read", "a client's interests")

_LIFECYCLE = "property_interest"
#: The fields :meth:`PropertyInterestService.update` may change.
DETAILS = (
    "project_id",
    "unit_id",
    "configuration",
    "budget_min",
    "budget_max",
    "currency",
    "priority",
    "notes",
)


def _check_active(interest: PropertyInterest) -> None:
    """Refuse to change the details of an interest that is no longer active."""
    if interest.status is not PropertyInterestStatus.ACTIVE:
        raise ValidationFailed(
            "interest_id", f"is {interest.status.value}; only an active interest changes"
        )


def _check_closable(
    _uow: UnitOfWork, interest: PropertyInterest, _closed: PropertyInterest
) -> None:
    """Refuse to close an interest that is not active (``InvalidTransition``)."""
    if interest.status is not PropertyInterestStatus.ACTIVE:
        raise InvalidTransition(_LIFECYCLE, interest.status, PropertyInterestStatus.CLOSED, [])


def _check_details(uow: UnitOfWork, current: PropertyInterest, wanted: PropertyInterest) -> None:
    """Refuse a change of an interest that is no longer active, or to unknown places."""
    _check_active(current)
    check_places(uow, wanted.project_id, wanted.unit_id)


_UPDATE = GovernedUpdate(UPDATE, PropertyInterest, "crm", _check_details)
_CLOSE = GovernedUpdate(CLOSE, PropertyInterest, "crm", _check_closable)


class PropertyInterestService(Service):
    """Property interests: what a client is looking for."""

    @serves(RECORD)
    def record(
        self,
        principal: Principal,
        *,
        person_id: UUID,
        project_id: UUID | None = None,
        unit_id: UUID | None = None,
        configuration: str | None = None,
        budget_min: Decimal | int | None = None,
        budget_max: Decimal | int | None = None,
        currency: str = "INR",
        priority: Priority | str = Priority.MEDIUM,
        notes: str | None = None,
    ) -> PropertyInterest:
        """Record an active interest of a client one may see (after the writeback policy)."""
        now = self.clock.now()

        def build(uow: UnitOfWork) -> PropertyInterest:
            self._visibility(uow, principal).get(Person, person_id, "person_id")
            check_places(uow, project_id, unit_id)
            fields: dict[str, Any] = {
                "person_id": person_id,
                "project_id": project_id,
                "unit_id": unit_id,
                "configuration": configuration,
                "budget_min": budget_min,
                "budget_max": budget_max,
                "currency": currency,
                "priority": priority,
                "notes": notes,
                "created_at": now,
                "updated_at": now,
            }
            return PropertyInterest(**fields)

        return self._governed_create(principal, RECORD, build, insert=self._insert)

    def _insert(
        self, uow: UnitOfWork, principal: Principal, interest: PropertyInterest
    ) -> PropertyInterest:
        if interest.status is not PropertyInterestStatus.ACTIVE:
            raise ValidationFailed("status", "a new interest is active", value=interest.status)
        if uow.crm.people.find(interest.person_id) is None:
            raise ValidationFailed("person_id", "names no person", value=interest.person_id)
        check_places(uow, interest.project_id, interest.unit_id)
        return self._add_audited(uow, principal, RECORD.name, interest, domain="crm")

    _apply_record = creator(PropertyInterest, _insert)

    @serves(UPDATE)
    def update(
        self,
        principal: Principal,
        interest_id: UUID,
        *,
        expected_version: Version,
        project_id: UUID | Unchanged | None = UNCHANGED,
        unit_id: UUID | Unchanged | None = UNCHANGED,
        configuration: str | Unchanged | None = UNCHANGED,
        budget_min: Decimal | int | Unchanged | None = UNCHANGED,
        budget_max: Decimal | int | Unchanged | None = UNCHANGED,
        currency: str | Unchanged = UNCHANGED,
        priority: Priority | str | Unchanged = UNCHANGED,
        notes: str | Unchanged | None = UNCHANGED,
    ) -> PropertyInterest:
        """Change the named fields of an active interest (others stay as they are).

        A stale version is ``ConcurrencyConflict`` at once. A change of budget
        is reviewed by default: it is stored and ``ApprovalRequired`` is raised.
        """
        named = changes(
            project_id=project_id,
            unit_id=unit_id,
            configuration=configuration,
            budget_min=budget_min,
            budget_max=budget_max,
            currency=currency,
            priority=priority,
            notes=notes,
        )
        return self._governed_update(
            principal, _UPDATE, interest_id, expected_version, named, apply=self._apply_update
        )

    _apply_update = applier(_UPDATE)

    @serves(CLOSE)
    def close(
        self,
        principal: Principal,
        interest_id: UUID,
        *,
        expected_version: Version,
        reason: str | None = None,
    ) -> PropertyInterest:
        """Close an active interest now; ``reason`` goes to the audit trail."""
        closed = {"status": PropertyInterestStatus.CLOSED}
        return self._governed_update(
            principal,
            _CLOSE,
            interest_id,
            expected_version,
            closed,
            context={"reason": reason},
            apply=self._apply_close,
        )

    def _apply_close(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> PropertyInterest:
        assert change.target_ref is not None
        current = uow.crm.property_interests.get(change.target_ref)
        _check_closable(uow, current, current)
        if change.typed_fields(current) != {"status": PropertyInterestStatus.CLOSED}:
            raise ValidationFailed("status", "closing an interest sets status to closed")
        candidate = attrs.evolve(
            current, status=PropertyInterestStatus.CLOSED, closed_at=self.clock.now()
        )
        reason = change.context.get("reason")
        return self._write_update(
            uow, principal, change, current, candidate, domain="crm", reason=reason
        )

    @serves(OF_CLIENT)
    def of_client(
        self,
        principal: Principal,
        person_id: UUID,
        status: PropertyInterestStatus | str | None = None,
    ) -> list[PropertyInterest]:
        """A client's interests, newest first, optionally of one status."""
        with self._begin(principal, OF_CLIENT) as uow:
            self._visibility(uow, principal).get(Person, person_id, "person_id")
            wanted = None if status is None else PropertyInterestStatus(status)
            return uow.crm.property_interests_of(person_id, status=wanted)
