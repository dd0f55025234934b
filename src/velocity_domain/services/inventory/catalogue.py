"""The inventory route family: projects, units, holds, prices, availability, media, locations.

Inventory is not client data, so it has no record-level visibility: any
principal with ``inventory.read`` sees every project and unit. Every status
change of a unit (hold, book, release, sale, block) is guarded by the caller's
``expected_version`` and appends an ``inventory_availability`` row in the same
transaction, so two bookings of one unit based on the same version cannot
both succeed.

The writes of projects and units (create and update a project, add and
update a unit) and price changes pass the writeback policy before anything
is written, as every governed write does: a change the policy sends to review
is stored as a proposal and ``ApprovalRequired`` is raised, and the approved
writeback is applied later by the same code (the ``_apply_*`` methods). A
unit's price changes only through ``change_price`` (a money change); the
status changes are not gated (see :mod:`velocity_domain.services.inventory.unit_status`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.errors import ValidationFailed
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.engine import Governance
from velocity_domain.governance.service import (
    GovernedUpdate,
    Service,
    applier,
    creator,
    delegated,
    serves,
)
from velocity_domain.inventory.entities import (
    Facing,
    Media,
    MediaType,
    PricingHistory,
    Project,
    ProjectStatus,
    Unit,
    UnitStatus,
)
from velocity_domain.kernel.arguments import (
    UNCHANGED,
    Unchanged,
    Version,
    changes,
)
from velocity_domain.kernel.clock import Clock
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Query, asc, equal
from velocity_domain.services.inventory.geo import (
    EARTH_RADIUS_KM,
    geohash,
    haversine_km,
)
from velocity_domain.services.inventory.locations import (
    IN_MICRO_MARKET,
    NEAR,
    SET_LOCATION,
    LocationService,
    NearbyProject,
)
from velocity_domain.services.inventory.unit_status import (
    AVAILABILITY,
    BLOCK,
    BOOK,
    CHANGE_PRICE,
    CURRENT_PRICE,
    HOLD,
    MARK_SOLD,
    RELEASE,
    UNBLOCK,
    UnitStatusService,
    record_availability,
)
from velocity_domain.uow import UnitOfWork

__all__ = [
    "EARTH_RADIUS_KM",
    "InventoryService",
    "NearbyProject",
    "check_places",
    "geohash",
    "haversine_km",
]

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
ADD_MEDIA = register("inventory.media.add", WRITE, "add a picture, plan or brochure")
LIST_MEDIA = register("inventory.media.list", READ, "list a project's or unit's media")

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
#: The fields :meth:`InventoryService.update_project` may change.
PROJECT_DETAILS = tuple(
    f.name for f in attrs.fields(Project) if f.init and f.name not in _PROJECT_FIXED
)
#: The fields :meth:`InventoryService.update_unit` may change (not status, holds or price).
UNIT_DETAILS = tuple(
    f.name
    for f in attrs.fields(Unit)
    if f.init and f.name not in _UNIT_FIXED and f.name not in _UNIT_BY_ITS_OPERATION
)


def check_places(uow: UnitOfWork, project_id: UUID | None, unit_id: UUID | None) -> None:
    """Refuse a project or unit that does not exist, or a unit of another project than named."""
    if project_id is not None and uow.inventory.projects.find(project_id) is None:
        raise ValidationFailed("project_id", "names no project", value=project_id)
    if unit_id is not None:
        unit = uow.inventory.units.find(unit_id)
        if unit is None:
            raise ValidationFailed("unit_id", "names no unit", value=unit_id)
        if project_id is not None and unit.project_id != project_id:
            raise ValidationFailed("unit_id", "is not a unit of project_id", value=unit_id)


def _check_project_refs(uow: UnitOfWork, old: Project | None, project: Project) -> None:
    """Refuse an unknown developer account, or a source reference another project has."""
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


def _check_unit_label(uow: UnitOfWork, old: Unit | None, unit: Unit) -> None:
    """Refuse a label another unit of the project has (checked only when it changes)."""
    if old is not None and old.unit_label == unit.unit_label:
        return
    same = (Eq("project_id", unit.project_id), Eq("unit_label", unit.unit_label))
    if uow.inventory.units.count(*same):
        raise ValidationFailed("unit_label", "another unit of this project has this label")


_UPDATE_PROJECT = GovernedUpdate(UPDATE_PROJECT, Project, "inventory", _check_project_refs)
_UPDATE_UNIT = GovernedUpdate(UPDATE_UNIT, Unit, "inventory", _check_unit_label)


class InventoryService(Service):
    """Projects, units, holds, prices, availability, media and locations.

    The status moves and prices of a unit are carried out by a
    :class:`~velocity_domain.services.inventory.unit_status.UnitStatusService`
    (one routine along the unit lifecycle, the availability ledger, the price
    history); the methods below that name them hand over to it.
    """

    def __init__(
        self,
        unit_of_work: Callable[..., UnitOfWork],
        clock: Clock,
        governance: Governance | None = None,
    ) -> None:
        super().__init__(unit_of_work, clock, governance)
        self._units = UnitStatusService(unit_of_work, clock, self.governance)
        self._locations = LocationService(unit_of_work, clock, self.governance)

    # -- projects -------------------------------------------------------------------------

    @serves(CREATE_PROJECT)
    def create_project(
        self,
        principal: Principal,
        *,
        project_name: str,
        developer_name: str | None = None,
        developer_account_id: UUID | None = None,
        city: str | None = None,
        micro_market: str | None = None,
        location_json: Mapping[str, Any] | None = None,
        status: ProjectStatus | str = ProjectStatus.LAUNCHED,
        rera_id: str | None = None,
        launch_date: date | None = None,
        possession_date: date | None = None,
        description: str | None = None,
        source_system: str | None = None,
        source_ref: str | None = None,
    ) -> Project:
        """Create a project. The write passes the writeback policy first."""
        now = self.clock.now()

        def build(uow: UnitOfWork) -> Project:
            project = Project(
                project_name=project_name,
                developer_name=developer_name,
                developer_account_id=developer_account_id,
                city=city,
                micro_market=micro_market,
                location_json=dict(location_json or {}),
                status=ProjectStatus(status),
                rera_id=rera_id,
                launch_date=launch_date,
                possession_date=possession_date,
                description=description,
                source_system=source_system,
                source_ref=source_ref,
                created_at=now,
                updated_at=now,
            )
            _check_project_refs(uow, None, project)
            return project

        return self._governed_create(principal, CREATE_PROJECT, build, insert=self._insert_project)

    def _insert_project(self, uow: UnitOfWork, principal: Principal, project: Project) -> Project:
        _check_project_refs(uow, None, project)
        return self._add_audited(uow, principal, CREATE_PROJECT.name, project, domain="inventory")

    _apply_create_project = creator(Project, _insert_project)

    @serves(UPDATE_PROJECT)
    def update_project(
        self,
        principal: Principal,
        project_id: UUID,
        /,
        *,
        expected_version: Version,
        project_name: str | Unchanged = UNCHANGED,
        developer_name: str | Unchanged | None = UNCHANGED,
        developer_account_id: UUID | Unchanged | None = UNCHANGED,
        city: str | Unchanged | None = UNCHANGED,
        micro_market: str | Unchanged | None = UNCHANGED,
        location_json: Mapping[str, Any] | Unchanged = UNCHANGED,
        status: ProjectStatus | str | Unchanged = UNCHANGED,
        rera_id: str | Unchanged | None = UNCHANGED,
        launch_date: date | Unchanged | None = UNCHANGED,
        possession_date: date | Unchanged | None = UNCHANGED,
        description: str | Unchanged | None = UNCHANGED,
        source_system: str | Unchanged | None = UNCHANGED,
        source_ref: str | Unchanged | None = UNCHANGED,
    ) -> Project:
        """Change the named fields of a project, if it is still at ``expected_version``.

        The write passes the writeback policy first; a stale version is
        refused at once with ``ConcurrencyConflict``.
        """
        named = changes(
            project_name=project_name,
            developer_name=developer_name,
            developer_account_id=developer_account_id,
            city=city,
            micro_market=micro_market,
            location_json=location_json,
            status=status,
            rera_id=rera_id,
            launch_date=launch_date,
            possession_date=possession_date,
            description=description,
            source_system=source_system,
            source_ref=source_ref,
        )
        return self._governed_update(
            principal,
            _UPDATE_PROJECT,
            project_id,
            expected_version,
            named,
            apply=self._apply_update_project,
        )

    _apply_update_project = applier(_UPDATE_PROJECT)

    @serves(GET_PROJECT)
    def get_project(self, principal: Principal, project_id: UUID) -> Project:
        """Read one project."""
        with self._begin(principal, GET_PROJECT) as uow:
            return uow.inventory.projects.get(project_id)

    @serves(LIST_PROJECTS)
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
            where = equal(city=city, micro_market=micro_market, status=status)
            query = Query(where, (asc("project_name"),), limit, cursor)
            return uow.inventory.projects.list(query)

    # -- units ----------------------------------------------------------------------------

    @serves(ADD_UNIT)
    def add_unit(
        self,
        principal: Principal,
        project_id: UUID,
        /,
        *,
        unit_label: str,
        tower: str | None = None,
        configuration: str | None = None,
        area_sqft: Decimal | None = None,
        currency: str = "INR",
        facing: Facing | str | None = None,
        floor: int | None = None,
        attributes_json: Mapping[str, Any] | None = None,
        source_system: str | None = None,
        source_ref: str | None = None,
    ) -> Unit:
        """Add an available unit to a project.

        Its status changes through hold, book and the like, and its price
        through :meth:`change_price`, so it has a history from the start. The
        write passes the writeback policy first.
        """
        now = self.clock.now()

        def build(uow: UnitOfWork) -> Unit:
            uow.inventory.projects.get(project_id)
            unit = Unit(
                project_id=project_id,
                unit_label=unit_label,
                tower=tower,
                configuration=configuration,
                area_sqft=area_sqft,
                currency=currency,
                facing=None if facing is None else Facing(facing),
                floor=floor,
                attributes_json=dict(attributes_json or {}),
                source_system=source_system,
                source_ref=source_ref,
                created_at=now,
                updated_at=now,
            )
            _check_unit_label(uow, None, unit)
            return unit

        return self._governed_create(principal, ADD_UNIT, build, insert=self._insert_unit)

    def _insert_unit(self, uow: UnitOfWork, principal: Principal, unit: Unit) -> Unit:
        if unit.status is not UnitStatus.AVAILABLE:
            raise ValidationFailed("status", "a new unit is available", value=unit.status)
        if unit.price_current is not None:
            raise ValidationFailed("price_current", _UNIT_BY_ITS_OPERATION["price_current"])
        if uow.inventory.projects.find(unit.project_id) is None:
            raise ValidationFailed("project_id", "no such project", value=unit.project_id)
        _check_unit_label(uow, None, unit)
        self._add_audited(uow, principal, ADD_UNIT.name, unit, domain="inventory")
        record_availability(uow, self.clock, principal, unit, reason="added", person_id=None)
        return unit

    _apply_add_unit = creator(Unit, _insert_unit)

    @serves(UPDATE_UNIT)
    def update_unit(
        self,
        principal: Principal,
        unit_id: UUID,
        /,
        *,
        expected_version: Version,
        unit_label: str | Unchanged = UNCHANGED,
        tower: str | Unchanged | None = UNCHANGED,
        configuration: str | Unchanged | None = UNCHANGED,
        area_sqft: Decimal | Unchanged | None = UNCHANGED,
        facing: Facing | str | Unchanged | None = UNCHANGED,
        floor: int | Unchanged | None = UNCHANGED,
        attributes_json: Mapping[str, Any] | Unchanged = UNCHANGED,
        source_system: str | Unchanged | None = UNCHANGED,
        source_ref: str | Unchanged | None = UNCHANGED,
    ) -> Unit:
        """Change the named descriptive fields of a unit (not its status or price).

        The status changes through hold, book and the like, and the price only
        through :meth:`change_price`, where the policy governs it as a money
        change. The write passes the writeback policy first; a stale version
        is refused at once with ``ConcurrencyConflict``.
        """
        named = changes(
            unit_label=unit_label,
            tower=tower,
            configuration=configuration,
            area_sqft=area_sqft,
            facing=facing,
            floor=floor,
            attributes_json=attributes_json,
            source_system=source_system,
            source_ref=source_ref,
        )
        return self._governed_update(
            principal, _UPDATE_UNIT, unit_id, expected_version, named, apply=self._apply_update_unit
        )

    _apply_update_unit = applier(_UPDATE_UNIT)

    @serves(GET_UNIT)
    def get_unit(self, principal: Principal, unit_id: UUID) -> Unit:
        """Read one unit."""
        with self._begin(principal, GET_UNIT) as uow:
            return uow.inventory.units.get(unit_id)

    @serves(LIST_UNITS)
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
            if project_id is not None:
                uow.inventory.projects.get(project_id)
            where = equal(project_id=project_id, status=status, configuration=configuration)
            return uow.inventory.units.list(Query(where, (asc("unit_label"),), limit, cursor))

    # -- holds, bookings and the other status changes ----------------------------------------

    hold = delegated(HOLD, "_units", UnitStatusService.hold)
    book = delegated(BOOK, "_units", UnitStatusService.book)
    release = delegated(RELEASE, "_units", UnitStatusService.release)
    mark_sold = delegated(MARK_SOLD, "_units", UnitStatusService.mark_sold)
    block = delegated(BLOCK, "_units", UnitStatusService.block)
    unblock = delegated(UNBLOCK, "_units", UnitStatusService.unblock)
    availability = delegated(AVAILABILITY, "_units", UnitStatusService.availability)
    change_price = delegated(CHANGE_PRICE, "_units", UnitStatusService.change_price)
    current_price = delegated(CURRENT_PRICE, "_units", UnitStatusService.current_price)

    def _apply_price(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> PricingHistory:
        return self._units.apply_price(uow, principal, change)

    # -- media ----------------------------------------------------------------------------

    @serves(ADD_MEDIA)
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

        def build(uow: UnitOfWork) -> Media:
            media = Media(
                project_id=project_id,
                unit_id=unit_id,
                media_type=MediaType(media_type),
                storage_uri=storage_uri,
                caption=caption,
                blob_id=blob_id,
                mime_type=mime_type,
                sort_order=sort_order,
                created_at=now,
                updated_at=now,
            )
            check_places(uow, project_id, unit_id)
            if blob_id is not None and uow.intel.blobs.find(blob_id) is None:
                raise ValidationFailed("blob_id", "no such stored blob", value=blob_id)
            return media

        return self._create_audited(principal, ADD_MEDIA, build, domain="inventory")

    @serves(LIST_MEDIA)
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
            if project_id is not None:
                uow.inventory.projects.get(project_id)
            if unit_id is not None:
                uow.inventory.units.get(unit_id)
            where = equal(project_id=project_id, unit_id=unit_id, media_type=media_type)
            return uow.inventory.media.list(Query(where, (asc("sort_order"),), limit, cursor))

    # -- locations ------------------------------------------------------------------------

    set_location = delegated(SET_LOCATION, "_locations", LocationService.set_location)
    projects_in_micro_market = delegated(
        IN_MICRO_MARKET, "_locations", LocationService.projects_in_micro_market
    )
    projects_near = delegated(NEAR, "_locations", LocationService.projects_near)
