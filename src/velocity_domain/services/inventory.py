"""The inventory route family: projects, units, holds, prices, availability, media, locations.

Inventory is not client data, so it has no record-level visibility: any
principal with ``inventory.read`` sees every project and unit. Every status
change of a unit (hold, book, release, sale, block) is guarded by the caller's
``expected_version`` and appends an ``inventory_availability`` row in the same
transaction, so two bookings of one unit based on the same version cannot
both succeed.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.errors import ConcurrencyConflict, ValidationFailed
from velocity_domain.inventory.entities import (
    Availability,
    LocationIndex,
    Media,
    MediaType,
    PricingHistory,
    Project,
    ProjectStatus,
    Unit,
    UnitStatus,
)
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Filter, Query, Range, asc, desc
from velocity_domain.services.base import Service
from velocity_domain.uow import UnitOfWork

__all__ = ["EARTH_RADIUS_KM", "InventoryService", "NearbyProject", "geohash", "haversine_km"]

READ = "inventory.read"
WRITE = "inventory.write"
CREATE_PROJECT = register("inventory.projects.create", WRITE, "create a project")
UPDATE_PROJECT = register("inventory.projects.update", WRITE, "change a project")
GET_PROJECT = register("inventory.projects.get", READ, "read one project")
LIST_PROJECTS = register("inventory.projects.list", READ, "list projects by city, market, status")
ADD_UNIT = register("inventory.units.add", WRITE, "add a unit to a project")
UPDATE_UNIT = register("inventory.units.update", WRITE, "change a unit's descriptive fields")
GET_UNIT = register("inventory.units.get", READ, "read one unit")
LIST_UNITS = register("inventory.units.list", READ, "list units by project, status, configuration")
HOLD = register("inventory.units.hold", WRITE, "hold a unit for a person until a time")
BOOK = register("inventory.units.book", WRITE, "book a unit for a person")
RELEASE = register("inventory.units.release", WRITE, "release a held or booked unit")
MARK_SOLD = register("inventory.units.mark_sold", WRITE, "mark a booked unit sold")
BLOCK = register("inventory.units.block", WRITE, "take a unit off sale")
UNBLOCK = register("inventory.units.unblock", WRITE, "put a blocked unit back on sale")
AVAILABILITY = register("inventory.availability.list", READ, "a unit's status history")
CHANGE_PRICE = register("inventory.prices.change", WRITE, "record a unit's price from a moment")
CURRENT_PRICE = register("inventory.prices.current", READ, "a unit's price at a moment")
ADD_MEDIA = register("inventory.media.add", WRITE, "add a picture, plan or brochure")
LIST_MEDIA = register("inventory.media.list", READ, "list a project's or unit's media")
SET_LOCATION = register("inventory.locations.set", WRITE, "set a project's map pin")
IN_MICRO_MARKET = register(
    "inventory.locations.in_micro_market", READ, "projects located in a micro-market"
)
NEAR = register("inventory.locations.near", READ, "projects within a radius, nearest first")

#: Mean radius of the Earth in kilometres (IUGG), for the haversine distance.
EARTH_RADIUS_KM = 6371.0088
_KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180
_MAX_RADIUS_KM = math.pi * EARTH_RADIUS_KM
_GEOHASH_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
_GEOHASH_PRECISION = 9
_FIXED = frozenset({"version", "created_at", "updated_at"})
_PROJECT_FIXED = _FIXED | {"project_id"}
_UNIT_FIXED = _FIXED | {"unit_id", "project_id"}
_UNIT_BY_ITS_OPERATION = {
    "status": "changes only through hold, book, release, mark_sold, block and unblock",
    "hold_expires_at": "changes only through hold and release",
    "held_for_person_id": "changes only through hold and release",
    "price_current": "changes only through change_price",
    "currency": "changes only with the unit's prices",
}

En = TypeVar("En", bound=enum.Enum)


@attrs.frozen
class NearbyProject:
    """A project found by :meth:`InventoryService.projects_near`, with its distance."""

    project: Project
    location: LocationIndex
    distance_km: float


def _enum(cls: type[En], value: object, field: str) -> En:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)
        raise ValidationFailed(field, f"must be one of: {allowed}", value=value) from None


def _version(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(
            "expected_version", f"must be an integer, not {type(value).__name__}"
        )
    if value < 1:
        raise ValidationFailed("expected_version", f"must be at least 1, got {value}")
    return value


def _uuid(value: object, field: str) -> UUID:
    if not isinstance(value, UUID):
        raise ValidationFailed(field, f"must be a UUID, not {type(value).__name__}")
    return value


def _number(value: object, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValidationFailed(field, f"must be a number, not {type(value).__name__}")
    number = float(value)
    if not low <= number <= high:
        raise ValidationFailed(field, f"must be between {low:g} and {high:g}, got {value}")
    return number


def _coordinate(value: object, field: str, bound: int) -> Decimal:
    _number(value, field, -bound, bound)
    if isinstance(value, float):
        return Decimal(repr(value))
    assert isinstance(value, int | Decimal)
    return Decimal(value)


def _check_changes(changes: Mapping[str, Any], entity: type[Any], fixed: frozenset[str]) -> None:
    names = {f.name for f in attrs.fields(entity)}
    for name in changes:
        if name not in names:
            raise ValidationFailed(name, f"{entity.table_name} has no such field")
        if name in fixed:
            raise ValidationFailed(name, "cannot be changed")


def geohash(latitude: float, longitude: float, precision: int = _GEOHASH_PRECISION) -> str:
    """Return the geohash of a point.

    >>> geohash(57.64911, 10.40744, 11)
    'u4pruydqqvj'
    """
    lat, lon = [-90.0, 90.0], [-180.0, 180.0]
    chars: list[str] = []
    bits = bit = 0
    even = True
    while len(chars) < precision:
        span, value = (lon, longitude) if even else (lat, latitude)
        mid = (span[0] + span[1]) / 2
        bits <<= 1
        if value >= mid:
            bits |= 1
            span[0] = mid
        else:
            span[1] = mid
        even = not even
        bit += 1
        if bit == 5:
            chars.append(_GEOHASH_BASE32[bits])
            bits = bit = 0
    return "".join(chars)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in kilometres between two points.

    >>> round(haversine_km(0, 0, 0, 1), 3)
    111.195
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _bounding_boxes(lat: float, lon: float, radius_km: float) -> list[tuple[Filter, ...]]:
    """Latitude/longitude Range filters that hold every point within ``radius_km``."""
    dlat = radius_km / _KM_PER_DEGREE + 1e-9  # a hair wider, so float rounding loses nothing
    low, high = lat - dlat, lat + dlat
    latitude = Range(
        "latitude", gte=Decimal(repr(max(low, -90.0))), lte=Decimal(repr(min(high, 90.0)))
    )
    if low <= -90 or high >= 90:
        return [(latitude,)]
    dlon = math.degrees(
        math.asin(min(1.0, math.sin(math.radians(dlat)) / math.cos(math.radians(lat))))
    )
    dlon += 1e-9
    if dlon >= 180:
        return [(latitude,)]
    west, east = lon - dlon, lon + dlon
    boxes = [(max(west, -180.0), min(east, 180.0))]
    if west < -180:
        boxes.append((west + 360, 180.0))
    if east > 180:
        boxes.append((-180.0, east - 360))
    return [
        (latitude, Range("longitude", gte=Decimal(repr(w)), lte=Decimal(repr(e)))) for w, e in boxes
    ]


class InventoryService(Service):
    """Projects, units, holds, prices, availability, media and locations."""

    # -- projects -------------------------------------------------------------------------

    def create_project(self, principal: Principal, *, project_name: str, **fields: Any) -> Project:
        """Create a project; ``fields`` are any other :class:`Project` fields."""
        now = self.clock.now()
        with self._begin(principal, CREATE_PROJECT) as uow:
            _check_changes(fields, Project, _PROJECT_FIXED)
            project = Project(project_name=project_name, created_at=now, updated_at=now, **fields)
            self._check_project_refs(uow, project, None)
            uow.inventory.projects.add(project)
            self._audit(
                uow,
                principal,
                CREATE_PROJECT.name,
                target_domain="inventory",
                target_ref=project.key,
                after=project,
            )
            uow.commit()
        return project

    def update_project(
        self, principal: Principal, project_id: UUID, /, *, expected_version: int, **changes: Any
    ) -> Project:
        """Change a project's fields, if it is still at ``expected_version``."""
        with self._begin(principal, UPDATE_PROJECT) as uow:
            version = _version(expected_version)
            _check_changes(changes, Project, _PROJECT_FIXED)
            project = uow.inventory.projects.get(_uuid(project_id, "project_id"))
            changed = attrs.evolve(project, **changes)
            self._check_project_refs(uow, changed, project)
            stored = uow.inventory.projects.update(changed, expected_version=version)
            self._audit(
                uow,
                principal,
                UPDATE_PROJECT.name,
                target_domain="inventory",
                target_ref=project.key,
                before=project,
                after=stored,
            )
            uow.commit()
        return stored

    @staticmethod
    def _check_project_refs(uow: UnitOfWork, project: Project, old: Project | None) -> None:
        account = project.developer_account_id
        changed = old is None or old.developer_account_id != account
        if account is not None and changed and uow.crm.accounts.find(account) is None:
            raise ValidationFailed("developer_account_id", "no such account", value=account)
        if project.source_system is not None and (
            old is None
            or (old.source_system, old.source_ref) != (project.source_system, project.source_ref)
        ):
            same = (
                Eq("source_system", project.source_system),
                Eq("source_ref", project.source_ref),
            )
            if uow.inventory.projects.count(*same):
                raise ValidationFailed("source_ref", "another project has this source reference")

    def get_project(self, principal: Principal, project_id: UUID) -> Project:
        """Read one project."""
        with self._begin(principal, GET_PROJECT) as uow:
            return uow.inventory.projects.get(_uuid(project_id, "project_id"))

    def list_projects(
        self,
        principal: Principal,
        *,
        city: str | None = None,
        micro_market: str | None = None,
        status: ProjectStatus | str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Project]:
        """List projects by name, filtered by city, micro-market and status."""
        with self._begin(principal, LIST_PROJECTS) as uow:
            where: list[Filter] = []
            if city is not None:
                where.append(Eq("city", city))
            if micro_market is not None:
                where.append(Eq("micro_market", micro_market))
            if status is not None:
                where.append(Eq("status", _enum(ProjectStatus, status, "status")))
            query = Query(where, (asc("project_name"),), limit, cursor)
            return uow.inventory.projects.list(query)

    # -- units ----------------------------------------------------------------------------

    def add_unit(
        self, principal: Principal, project_id: UUID, /, *, unit_label: str, **fields: Any
    ) -> Unit:
        """Add an available unit to a project; ``fields`` are its descriptive fields.

        Its price is set with :meth:`change_price`, so it has a history from the start.
        """
        now = self.clock.now()
        with self._begin(principal, ADD_UNIT) as uow:
            for name, why in _UNIT_BY_ITS_OPERATION.items():
                if name in fields and name != "currency":
                    raise ValidationFailed(name, f"a new unit is available; its {name} {why}")
            _check_changes(fields, Unit, _UNIT_FIXED)
            uow.inventory.projects.get(_uuid(project_id, "project_id"))
            unit = Unit(
                project_id=project_id,
                unit_label=unit_label,
                created_at=now,
                updated_at=now,
                **fields,
            )
            self._check_unit_label(uow, unit, None)
            uow.inventory.units.add(unit)
            self._append_availability(uow, principal, unit, reason="added", person_id=None)
            self._audit(
                uow,
                principal,
                ADD_UNIT.name,
                target_domain="inventory",
                target_ref=unit.key,
                after=unit,
            )
            uow.commit()
        return unit

    def update_unit(
        self, principal: Principal, unit_id: UUID, /, *, expected_version: int, **changes: Any
    ) -> Unit:
        """Change a unit's descriptive fields (not its status or price)."""
        with self._begin(principal, UPDATE_UNIT) as uow:
            version = _version(expected_version)
            for name, why in _UNIT_BY_ITS_OPERATION.items():
                if name in changes:
                    raise ValidationFailed(name, why)
            _check_changes(changes, Unit, _UNIT_FIXED)
            unit = uow.inventory.units.get(_uuid(unit_id, "unit_id"))
            changed = attrs.evolve(unit, **changes)
            self._check_unit_label(uow, changed, unit)
            stored = uow.inventory.units.update(changed, expected_version=version)
            self._audit(
                uow,
                principal,
                UPDATE_UNIT.name,
                target_domain="inventory",
                target_ref=unit.key,
                before=unit,
                after=stored,
            )
            uow.commit()
        return stored

    @staticmethod
    def _check_unit_label(uow: UnitOfWork, unit: Unit, old: Unit | None) -> None:
        if old is not None and old.unit_label == unit.unit_label:
            return
        same = (Eq("project_id", unit.project_id), Eq("unit_label", unit.unit_label))
        if uow.inventory.units.count(*same):
            raise ValidationFailed("unit_label", "another unit of this project has this label")

    def get_unit(self, principal: Principal, unit_id: UUID) -> Unit:
        """Read one unit."""
        with self._begin(principal, GET_UNIT) as uow:
            return uow.inventory.units.get(_uuid(unit_id, "unit_id"))

    def list_units(
        self,
        principal: Principal,
        *,
        project_id: UUID | None = None,
        status: UnitStatus | str | None = None,
        configuration: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Unit]:
        """List units by label, filtered by project, stored status and configuration."""
        with self._begin(principal, LIST_UNITS) as uow:
            where: list[Filter] = []
            if project_id is not None:
                uow.inventory.projects.get(_uuid(project_id, "project_id"))
                where.append(Eq("project_id", project_id))
            if status is not None:
                where.append(Eq("status", _enum(UnitStatus, status, "status")))
            if configuration is not None:
                where.append(Eq("configuration", configuration))
            return uow.inventory.units.list(Query(where, (asc("unit_label"),), limit, cursor))

    # -- holds, bookings and the other status changes ----------------------------------------

    def hold(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        person_id: UUID,
        until: datetime,
        expected_version: int,
        reason: str | None = None,
    ) -> Unit:
        """Hold an available unit (or one whose hold has lapsed) for a person until ``until``."""
        now = self.clock.now()
        with self._begin(principal, HOLD) as uow:
            if not isinstance(until, datetime) or until.tzinfo is None:
                raise ValidationFailed("until", "must be a timezone-aware datetime")
            if until <= now:
                raise ValidationFailed("until", f"must be in the future (now is {now.isoformat()})")
            unit = self._unit_at(uow, unit_id, expected_version)
            self._check_person(uow, person_id)
            if unit.status is not UnitStatus.AVAILABLE and not self._lapsed(unit, now):
                raise ValidationFailed(
                    "unit_id",
                    f"is {self._describe(unit)}; only an available unit, or one whose hold"
                    " has lapsed, can be held",
                )
            changed = attrs.evolve(
                unit, status=UnitStatus.HELD, hold_expires_at=until, held_for_person_id=person_id
            )
            return self._change_status(
                uow,
                principal,
                HOLD.name,
                unit=unit,
                changed=changed,
                person_id=person_id,
                reason=reason,
                valid_to=until,
            )

    def book(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        person_id: UUID,
        expected_version: int,
        reason: str | None = None,
    ) -> Unit:
        """Book a unit for a person; double-booking is refused.

        A unit already booked or sold, blocked, or under a live hold for
        someone else is refused with ``ValidationFailed`` on ``unit_id``.
        """
        now = self.clock.now()
        with self._begin(principal, BOOK) as uow:
            unit = self._unit_at(uow, unit_id, expected_version)
            self._check_person(uow, person_id)
            if unit.status in (UnitStatus.BOOKED, UnitStatus.SOLD):
                raise ValidationFailed(
                    "unit_id", f"double-booking refused: the unit is already {unit.status}"
                )
            if unit.status is UnitStatus.BLOCKED:
                raise ValidationFailed("unit_id", "is blocked; unblock it before booking")
            if (
                unit.status is UnitStatus.HELD
                and unit.held_for_person_id != person_id
                and not self._lapsed(unit, now)
            ):
                raise ValidationFailed(
                    "unit_id", f"double-booking refused: the unit is {self._describe(unit)}"
                )
            changed = attrs.evolve(
                unit, status=UnitStatus.BOOKED, hold_expires_at=None, held_for_person_id=None
            )
            return self._change_status(
                uow,
                principal,
                BOOK.name,
                unit=unit,
                changed=changed,
                person_id=person_id,
                reason=reason,
            )

    def release(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        expected_version: int,
        reason: str | None = None,
    ) -> Unit:
        """Make a held or booked unit available again."""
        with self._begin(principal, RELEASE) as uow:
            unit = self._unit_at(uow, unit_id, expected_version)
            if unit.status not in (UnitStatus.HELD, UnitStatus.BOOKED):
                raise ValidationFailed(
                    "unit_id", f"is {unit.status}; only a held or booked unit can be released"
                )
            changed = attrs.evolve(
                unit, status=UnitStatus.AVAILABLE, hold_expires_at=None, held_for_person_id=None
            )
            return self._change_status(
                uow,
                principal,
                RELEASE.name,
                unit=unit,
                changed=changed,
                person_id=None,
                reason=reason,
            )

    def mark_sold(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        expected_version: int,
        reason: str | None = None,
    ) -> Unit:
        """Mark a booked unit sold, to the person it was booked for."""
        with self._begin(principal, MARK_SOLD) as uow:
            unit = self._unit_at(uow, unit_id, expected_version)
            if unit.status is not UnitStatus.BOOKED:
                raise ValidationFailed(
                    "unit_id", f"is {unit.status}; only a booked unit can be marked sold"
                )
            last = uow.inventory.availability.list(
                Query((Eq("unit_id", unit.key),), (desc("valid_from"), desc("recorded_at")), 1)
            ).items
            buyer = last[0].person_id if last and last[0].status is UnitStatus.BOOKED else None
            changed = attrs.evolve(unit, status=UnitStatus.SOLD)
            return self._change_status(
                uow,
                principal,
                MARK_SOLD.name,
                unit=unit,
                changed=changed,
                person_id=buyer,
                reason=reason,
            )

    def block(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        expected_version: int,
        reason: str | None = None,
    ) -> Unit:
        """Take an available unit (or one whose hold has lapsed) off sale."""
        now = self.clock.now()
        with self._begin(principal, BLOCK) as uow:
            unit = self._unit_at(uow, unit_id, expected_version)
            if unit.status is not UnitStatus.AVAILABLE and not self._lapsed(unit, now):
                raise ValidationFailed(
                    "unit_id", f"is {self._describe(unit)}; only an available unit can be blocked"
                )
            changed = attrs.evolve(
                unit, status=UnitStatus.BLOCKED, hold_expires_at=None, held_for_person_id=None
            )
            return self._change_status(
                uow,
                principal,
                BLOCK.name,
                unit=unit,
                changed=changed,
                person_id=None,
                reason=reason,
            )

    def unblock(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        expected_version: int,
        reason: str | None = None,
    ) -> Unit:
        """Put a blocked unit back on sale."""
        with self._begin(principal, UNBLOCK) as uow:
            unit = self._unit_at(uow, unit_id, expected_version)
            if unit.status is not UnitStatus.BLOCKED:
                raise ValidationFailed(
                    "unit_id", f"is {unit.status}; only a blocked unit can be unblocked"
                )
            changed = attrs.evolve(unit, status=UnitStatus.AVAILABLE)
            return self._change_status(
                uow,
                principal,
                UNBLOCK.name,
                unit=unit,
                changed=changed,
                person_id=None,
                reason=reason,
            )

    def availability(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Availability]:
        """A unit's status history, newest first."""
        with self._begin(principal, AVAILABILITY) as uow:
            uow.inventory.units.get(_uuid(unit_id, "unit_id"))
            order = (desc("valid_from"), desc("recorded_at"), desc("availability_id"))
            query = Query((Eq("unit_id", unit_id),), order, limit, cursor)
            return uow.inventory.availability.list(query)

    @staticmethod
    def _unit_at(uow: UnitOfWork, unit_id: UUID, expected_version: int) -> Unit:
        """The unit, refused as a conflict unless it is still at ``expected_version``."""
        version = _version(expected_version)
        unit = uow.inventory.units.get(_uuid(unit_id, "unit_id"))
        if unit.version != version:
            raise ConcurrencyConflict(Unit.table_name, unit.key, version, unit.version)
        return unit

    @staticmethod
    def _check_person(uow: UnitOfWork, person_id: UUID) -> None:
        if uow.crm.people.find(_uuid(person_id, "person_id")) is None:
            raise ValidationFailed("person_id", "no such person", value=person_id)

    @staticmethod
    def _lapsed(unit: Unit, now: datetime) -> bool:
        expires = unit.hold_expires_at
        return unit.status is UnitStatus.HELD and expires is not None and expires <= now

    @staticmethod
    def _describe(unit: Unit) -> str:
        if unit.status is not UnitStatus.HELD or unit.hold_expires_at is None:
            return str(unit.status)
        whom = unit.held_for_person_id or "no named person"
        return f"held for {whom} until {unit.hold_expires_at.isoformat()}"

    def _change_status(
        self,
        uow: UnitOfWork,
        principal: Principal,
        action: str,
        *,
        unit: Unit,
        changed: Unit,
        person_id: UUID | None,
        reason: str | None,
        valid_to: datetime | None = None,
    ) -> Unit:
        stored = uow.inventory.units.update(changed, expected_version=unit.version)
        self._append_availability(
            uow, principal, stored, reason=reason, person_id=person_id, valid_to=valid_to
        )
        self._audit(
            uow,
            principal,
            action,
            target_domain="inventory",
            target_ref=unit.key,
            before=unit,
            after=stored,
            reason=reason,
        )
        uow.commit()
        return stored

    def _append_availability(
        self,
        uow: UnitOfWork,
        principal: Principal,
        unit: Unit,
        *,
        reason: str | None,
        person_id: UUID | None,
        valid_to: datetime | None = None,
    ) -> None:
        now = self.clock.now()
        uow.inventory.availability.add(
            Availability(
                unit_id=unit.key,
                status=unit.status,
                valid_from=now,
                valid_to=valid_to,
                reason=reason,
                person_id=person_id,
                recorded_by_user_id=principal.user_id,
                recorded_at=now,
            )
        )

    # -- prices ---------------------------------------------------------------------------

    def change_price(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        price: Decimal,
        effective_from: datetime,
        reason: str | None = None,
    ) -> PricingHistory:
        """Record a unit's price from ``effective_from`` (past, now or future).

        ``price_current`` takes the new price only when the new entry is, now,
        the latest effective one: a future price waits, a back-dated one behind
        a later price is history only (``price_current`` is then brought up to
        the latest effective entry, should a future price have come into force).
        """
        now = self.clock.now()
        with self._begin(principal, CHANGE_PRICE) as uow:
            unit = uow.inventory.units.get(_uuid(unit_id, "unit_id"))
            entry = PricingHistory(
                unit_id=unit.key,
                price=price,
                currency=unit.currency,
                effective_from=effective_from,
                recorded_at=now,
                changed_by_user_id=principal.user_id,
                reason=reason,
            )
            uow.inventory.pricing_history.add(entry)
            current = self._price_at(uow, unit.key, now)
            after = unit
            # The latest effective entry wins: normally the new one; a back-dated entry
            # also brings along a future price that has come into force since.
            if current is not None and unit.price_current != current.price:
                after = uow.inventory.units.update(attrs.evolve(unit, price_current=current.price))
            self._audit(
                uow,
                principal,
                CHANGE_PRICE.name,
                target_domain="inventory",
                target_ref=unit.key,
                before=unit,
                after=after,
                reason=reason,
                details={
                    "pricing_history_id": str(entry.key),
                    "price": str(entry.price),
                    "effective_from": entry.effective_from.isoformat(),
                },
            )
            uow.commit()
        return entry

    def current_price(
        self, principal: Principal, unit_id: UUID, at: datetime | None = None
    ) -> PricingHistory | None:
        """The price entry in force at ``at`` (default now), or ``None`` if it had no price."""
        with self._begin(principal, CURRENT_PRICE) as uow:
            if at is not None and (not isinstance(at, datetime) or at.tzinfo is None):
                raise ValidationFailed("at", "must be a timezone-aware datetime")
            uow.inventory.units.get(_uuid(unit_id, "unit_id"))
            return self._price_at(uow, unit_id, at or self.clock.now())

    @staticmethod
    def _price_at(uow: UnitOfWork, unit_id: UUID, at: datetime) -> PricingHistory | None:
        order = (desc("effective_from"), desc("recorded_at"), desc("pricing_history_id"))
        where = (Eq("unit_id", unit_id), Range("effective_from", lte=at))
        found = uow.inventory.pricing_history.list(Query(where, order, 1)).items
        return found[0] if found else None

    # -- media ----------------------------------------------------------------------------

    def add_media(
        self,
        principal: Principal,
        *,
        project_id: UUID | None = None,
        unit_id: UUID | None = None,
        media_type: MediaType | str,
        storage_uri: str,
        caption: str | None = None,
        blob_id: UUID | None = None,
        mime_type: str | None = None,
        sort_order: int = 0,
    ) -> Media:
        """Add a picture, floor plan, brochure or video to a project, a unit or both."""
        now = self.clock.now()
        with self._begin(principal, ADD_MEDIA) as uow:
            media = Media(
                project_id=project_id,
                unit_id=unit_id,
                media_type=_enum(MediaType, media_type, "media_type"),
                storage_uri=storage_uri,
                caption=caption,
                blob_id=blob_id,
                mime_type=mime_type,
                sort_order=sort_order,
                created_at=now,
                updated_at=now,
            )
            if project_id is not None and uow.inventory.projects.find(project_id) is None:
                raise ValidationFailed("project_id", "no such project", value=project_id)
            if unit_id is not None:
                unit = uow.inventory.units.find(unit_id)
                if unit is None:
                    raise ValidationFailed("unit_id", "no such unit", value=unit_id)
                if project_id is not None and unit.project_id != project_id:
                    raise ValidationFailed("unit_id", "belongs to another project", value=unit_id)
            if blob_id is not None and uow.intel.blobs.find(blob_id) is None:
                raise ValidationFailed("blob_id", "no such stored blob", value=blob_id)
            uow.inventory.media.add(media)
            self._audit(
                uow,
                principal,
                ADD_MEDIA.name,
                target_domain="inventory",
                target_ref=media.key,
                after=media,
            )
            uow.commit()
        return media

    def list_media(
        self,
        principal: Principal,
        *,
        project_id: UUID | None = None,
        unit_id: UUID | None = None,
        media_type: MediaType | str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Media]:
        """List media of a project and/or a unit in their sort order."""
        with self._begin(principal, LIST_MEDIA) as uow:
            where: list[Filter] = []
            if project_id is not None:
                uow.inventory.projects.get(_uuid(project_id, "project_id"))
                where.append(Eq("project_id", project_id))
            if unit_id is not None:
                uow.inventory.units.get(_uuid(unit_id, "unit_id"))
                where.append(Eq("unit_id", unit_id))
            if media_type is not None:
                where.append(Eq("media_type", _enum(MediaType, media_type, "media_type")))
            return uow.inventory.media.list(Query(where, (asc("sort_order"),), limit, cursor))

    # -- locations ------------------------------------------------------------------------

    def set_location(
        self,
        principal: Principal,
        project_id: UUID,
        *,
        latitude: Decimal | float,
        longitude: Decimal | float,
        city: str | None = None,
        micro_market: str | None = None,
        locality: str | None = None,
    ) -> LocationIndex:
        """Set a project's map pin (one row per project); place names default to the project's."""
        with self._begin(principal, SET_LOCATION) as uow:
            lat = _coordinate(latitude, "latitude", 90)
            lon = _coordinate(longitude, "longitude", 180)
            project = uow.inventory.projects.get(_uuid(project_id, "project_id"))
            values: dict[str, Any] = {
                "latitude": lat,
                "longitude": lon,
                "geohash": geohash(float(lat), float(lon)),
                "city": city if city is not None else project.city,
                "micro_market": micro_market if micro_market is not None else project.micro_market,
                "locality": locality,
            }
            found = uow.inventory.locations.list(Query((Eq("project_id", project.key),), limit=1))
            before = found.items[0] if found.items else None
            if before is None:
                now = self.clock.now()
                after = LocationIndex(
                    project_id=project.key, created_at=now, updated_at=now, **values
                )
                uow.inventory.locations.add(after)
            else:
                after = uow.inventory.locations.update(attrs.evolve(before, **values))
            self._audit(
                uow,
                principal,
                SET_LOCATION.name,
                target_domain="inventory",
                target_ref=project.key,
                before=before,
                after=after,
            )
            uow.commit()
        return after

    def projects_in_micro_market(
        self,
        principal: Principal,
        micro_market: str,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Project]:
        """The projects whose location lies in ``micro_market``, by project id."""
        with self._begin(principal, IN_MICRO_MARKET) as uow:
            if not isinstance(micro_market, str) or not micro_market.strip():
                raise ValidationFailed("micro_market", "must be a non-empty string")
            query = Query((Eq("micro_market", micro_market),), (asc("project_id"),), limit, cursor)
            page = uow.inventory.locations.list(query)
            projects = uow.inventory.projects.get_many(row.project_id for row in page)
            items = tuple(projects[row.project_id] for row in page if row.project_id in projects)
            return Page(items, page.next_cursor)

    def projects_near(
        self,
        principal: Principal,
        latitude: Decimal | float,
        longitude: Decimal | float,
        radius_km: Decimal | float,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> list[NearbyProject]:
        """Projects within ``radius_km`` of a point, nearest first (haversine distance).

        A bounding box on latitude and longitude narrows the rows first, so
        PostgreSQL can use its (latitude, longitude) index.
        """
        with self._begin(principal, NEAR) as uow:
            lat = _number(latitude, "latitude", -90, 90)
            lon = _number(longitude, "longitude", -180, 180)
            radius = _number(radius_km, "radius_km", 0, _MAX_RADIUS_KM)
            if radius <= 0:
                raise ValidationFailed("radius_km", "must be greater than 0")
            if (
                isinstance(limit, bool)
                or not isinstance(limit, int)
                or not 0 < limit <= MAX_PAGE_SIZE
            ):
                raise ValidationFailed("limit", f"must be an integer from 1 to {MAX_PAGE_SIZE}")
            hits: list[tuple[float, LocationIndex]] = []
            for box in _bounding_boxes(lat, lon, radius):
                cursor: str | None = None
                while True:
                    page = uow.inventory.locations.list(Query(box, (), MAX_PAGE_SIZE, cursor))
                    for row in page:
                        km = haversine_km(lat, lon, float(row.latitude), float(row.longitude))
                        if km <= radius:
                            hits.append((km, row))
                    cursor = page.next_cursor
                    if cursor is None:
                        break
            hits.sort(key=lambda hit: (hit[0], hit[1].project_id))
            hits = hits[:limit]
            projects = uow.inventory.projects.get_many(row.project_id for _, row in hits)
            return [
                NearbyProject(projects[row.project_id], row, km)
                for km, row in hits
                if row.project_id in projects
            ]
