"""Property interests: what a client is looking for (``crm_property_interests``).

An interest names a project or a unit (or neither, for a configuration and a
budget alone), is ``active`` until closed, and follows the client's record
visibility: an interest of a client one may not see is not found.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.crm.entities import Priority, PropertyInterest, PropertyInterestStatus
from velocity_domain.errors import InvalidTransition, NotFound, ValidationFailed
from velocity_domain.services.base import Service
from velocity_domain.services.checks import uuid_arg
from velocity_domain.uow import UnitOfWork

__all__ = ["UNSET", "PropertyInterestService"]

RECORD = register("crm.interests.record", "crm.contacts.write", "record a client's interest")
UPDATE = register("crm.interests.update", "crm.contacts.write", "change an active interest")
CLOSE = register("crm.interests.close", "crm.contacts.write", "close an interest")
OF_CLIENT = register("crm.interests.of_client", "crm.contacts.read", "a client's interests")

_LIFECYCLE = "property_interest"


class _Unset(enum.Enum):
    UNSET = "unset"


#: Marks an argument of :meth:`PropertyInterestService.update` as "leave unchanged".
UNSET = _Unset.UNSET


class PropertyInterestService(Service):
    """Property interests: what a client is looking for."""

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
        """Record an active interest of a client one may see."""
        now = self.clock.now()
        with self._begin(principal, RECORD) as uow:
            person_id = uuid_arg(person_id, "person_id")
            self._visibility(uow, principal).check("crm_people", person_id, person_id)
            if uow.crm.people.find(person_id) is None:
                raise NotFound("crm_people", person_id)
            _check_places(uow, project_id, unit_id)
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
            interest = PropertyInterest(**fields)
            uow.crm.property_interests.add(interest)
            self._audit(
                uow,
                principal,
                RECORD.name,
                target_domain="crm",
                target_ref=interest.key,
                after=interest,
            )
            uow.commit()
        return interest

    def update(
        self,
        principal: Principal,
        interest_id: UUID,
        *,
        expected_version: int,
        project_id: UUID | _Unset | None = UNSET,
        unit_id: UUID | _Unset | None = UNSET,
        configuration: str | _Unset | None = UNSET,
        budget_min: Decimal | int | _Unset | None = UNSET,
        budget_max: Decimal | int | _Unset | None = UNSET,
        currency: str | _Unset = UNSET,
        priority: Priority | str | _Unset = UNSET,
        notes: str | _Unset | None = UNSET,
    ) -> PropertyInterest:
        """Change the given fields of an active interest (others stay as they are)."""
        given: dict[str, Any] = {
            "project_id": project_id,
            "unit_id": unit_id,
            "configuration": configuration,
            "budget_min": budget_min,
            "budget_max": budget_max,
            "currency": currency,
            "priority": priority,
            "notes": notes,
        }
        changes = {k: v for k, v in given.items() if v is not UNSET}
        with self._begin(principal, UPDATE) as uow:
            current = self._visible(uow, principal, interest_id)
            if current.status is not PropertyInterestStatus.ACTIVE:
                raise ValidationFailed(
                    "interest_id", f"is {current.status.value}; only an active interest changes"
                )
            candidate = attrs.evolve(current, **changes)
            _check_places(uow, candidate.project_id, candidate.unit_id)
            return self._store(
                uow, principal, UPDATE.name, current, candidate, expected_version=expected_version
            )

    def close(
        self,
        principal: Principal,
        interest_id: UUID,
        *,
        expected_version: int,
        reason: str | None = None,
    ) -> PropertyInterest:
        """Close an active interest now; ``reason`` goes to the audit trail."""
        now = self.clock.now()
        with self._begin(principal, CLOSE) as uow:
            current = self._visible(uow, principal, interest_id)
            if current.status is not PropertyInterestStatus.ACTIVE:
                raise InvalidTransition(
                    _LIFECYCLE,
                    current.status,
                    PropertyInterestStatus.CLOSED,
                    [],
                )
            candidate = attrs.evolve(current, status=PropertyInterestStatus.CLOSED, closed_at=now)
            return self._store(
                uow,
                principal,
                CLOSE.name,
                current,
                candidate,
                expected_version=expected_version,
                reason=reason,
            )

    def of_client(
        self,
        principal: Principal,
        person_id: UUID,
        status: PropertyInterestStatus | str | None = None,
    ) -> list[PropertyInterest]:
        """A client's interests, newest first, optionally of one status."""
        with self._begin(principal, OF_CLIENT) as uow:
            person_id = uuid_arg(person_id, "person_id")
            self._visibility(uow, principal).check("crm_people", person_id, person_id)
            if uow.crm.people.find(person_id) is None:
                raise NotFound("crm_people", person_id)
            if status is not None:
                try:
                    status = PropertyInterestStatus(status)
                except ValueError:
                    allowed = ", ".join(s.value for s in PropertyInterestStatus)
                    raise ValidationFailed(
                        "status", f"must be one of: {allowed}", value=status
                    ) from None
            return uow.crm.property_interests_of(person_id, status=status)

    def _visible(
        self, uow: UnitOfWork, principal: Principal, interest_id: UUID
    ) -> PropertyInterest:
        interest = uow.crm.property_interests.get(uuid_arg(interest_id, "interest_id"))
        self._visibility(uow, principal).check(
            PropertyInterest.table_name, interest_id, interest.person_id
        )
        return interest

    def _store(
        self,
        uow: UnitOfWork,
        principal: Principal,
        action: str,
        current: PropertyInterest,
        candidate: PropertyInterest,
        *,
        expected_version: int,
        reason: str | None = None,
    ) -> PropertyInterest:
        changed = uow.crm.property_interests.update(candidate, expected_version=expected_version)
        self._audit(
            uow,
            principal,
            action,
            target_domain="crm",
            target_ref=current.key,
            before=current,
            after=changed,
            reason=reason,
        )
        uow.commit()
        return changed


def _check_places(uow: UnitOfWork, project_id: object, unit_id: object) -> None:
    """Refuse a project or unit that does not exist, or a unit of another project."""
    project = None
    if project_id is not None:
        project = uow.inventory.projects.find(uuid_arg(project_id, "project_id"))
        if project is None:
            raise ValidationFailed("project_id", "names no project", value=project_id)
    if unit_id is not None:
        unit = uow.inventory.units.find(uuid_arg(unit_id, "unit_id"))
        if unit is None:
            raise ValidationFailed("unit_id", "names no unit", value=unit_id)
        if project is not None and unit.project_id != project.key:
            raise ValidationFailed("unit_id", "is not a unit of project_id", value=unit_id)
