"""Inventory entities: one attrs class per ``inventory_*`` table.

Projects are the developments on sale; units the flats, villas and plots in
them, each with its current status and price. Pricing history and
availability are append-only: every price change and every status window is a
new row, so what a unit cost, and whether it was free, on any past day can be
answered. Media are the pictures, floor plans and brochures of a project or
unit; the location index is the geo search row derived from a project's
location; import jobs record each run of an inventory feed.

>>> u = Unit(project_id=UUID(int=1), unit_label="A-1203", area_sqft=1250, floor=12)
>>> (u.status, u.area_sqft, u.currency)
(<UnitStatus.AVAILABLE: 'available'>, Decimal('1250'), 'INR')
"""

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

import attrs

from velocity_domain.kernel import fields
from velocity_domain.kernel.constraints import Unique
from velocity_domain.kernel.fields import (
    choice,
    count,
    currency,
    day,
    decimal,
    id_field,
    invalid,
    json_field,
    long_text,
    money,
    ref,
    sha256_hex,
    text,
    timestamp,
    url,
)
from velocity_domain.kernel.model import (
    Entity,
    VersionedEntity,
    check_not_before,
    check_only_when,
    check_set_exactly_when,
    check_source_pair,
)

__all__ = [
    "AREA_SQFT_MAX",
    "AREA_SQFT_MIN",
    "FLOOR_MAX",
    "FLOOR_MIN",
    "GEOHASH_ALPHABET",
    "Availability",
    "Facing",
    "ImportJob",
    "ImportJobStatus",
    "LocationIndex",
    "Media",
    "MediaType",
    "PricingHistory",
    "Project",
    "ProjectStatus",
    "Unit",
    "UnitStatus",
]

#: Bounds of a unit's area: at least one square foot, at most ten million (a large plot).
AREA_SQFT_MIN = Decimal(1)
AREA_SQFT_MAX = Decimal(10_000_000)
#: Bounds of a unit's floor: basements are negative, the ground floor is 0.
FLOOR_MIN = -10
FLOOR_MAX = 250
#: The base-32 alphabet of geohashes (no a, i, l, o).
GEOHASH_ALPHABET = frozenset("0123456789bcdefghjkmnpqrstuvwxyz")
_GEOHASH_PATTERN = f"[{''.join(sorted(GEOHASH_ALPHABET))}]+"


class ProjectStatus(enum.StrEnum):
    """Where a project stands in its development life."""

    PRE_LAUNCH = "pre_launch"
    LAUNCHED = "launched"
    UNDER_CONSTRUCTION = "under_construction"
    READY = "ready"
    COMPLETED = "completed"


class UnitStatus(enum.StrEnum):
    """Whether a unit can be sold: free, held for a buyer, booked, sold or blocked."""

    AVAILABLE = "available"
    HELD = "held"
    BOOKED = "booked"
    SOLD = "sold"
    BLOCKED = "blocked"


class Facing(enum.StrEnum):
    """The compass direction a unit's main door or balcony faces (vastu)."""

    NORTH = "north"
    NORTH_EAST = "north_east"
    EAST = "east"
    SOUTH_EAST = "south_east"
    SOUTH = "south"
    SOUTH_WEST = "south_west"
    WEST = "west"
    NORTH_WEST = "north_west"


class MediaType(enum.StrEnum):
    """What a media item shows."""

    IMAGE = "image"
    FLOOR_PLAN = "floor_plan"
    BROCHURE = "brochure"
    VIDEO = "video"
    WALKTHROUGH = "walkthrough"
    OTHER = "other"


class ImportJobStatus(enum.StrEnum):
    """Where one run of an inventory feed is."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class Project(VersionedEntity):
    """A development on sale: the project-level inventory master (``inventory_projects``)."""

    table_name: ClassVar[str] = "inventory_projects"
    key_field: ClassVar[str] = "project_id"

    project_id: UUID = id_field()
    project_name: str = text(max_length=200)
    developer_name: str | None = text(max_length=200, optional=True)
    developer_account_id: UUID | None = ref("crm_accounts.account_id", optional=True)
    city: str | None = text(max_length=100, optional=True)
    micro_market: str | None = text(max_length=100, optional=True)
    location_json: dict[str, Any] = json_field()
    status: ProjectStatus = choice(ProjectStatus, default=ProjectStatus.LAUNCHED)
    rera_id: str | None = text(max_length=64, optional=True)
    launch_date: date | None = day()
    possession_date: date | None = day()
    description: str | None = long_text(max_length=20_000)
    source_system: str | None = text(max_length=64, optional=True)
    source_ref: str | None = text(max_length=200, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        check_not_before(self, "possession_date", "launch_date")
        check_source_pair(self)


@attrs.frozen(kw_only=True)
class Unit(VersionedEntity):
    """A flat, villa, plot or shop in a project, with its status and price (``inventory_units``).

    ``unit_label`` is unique within the project, so it includes the tower when
    towers share unit numbers ("A-1203"). A held unit names when the hold
    lapses and, when known, the person it is held for.
    """

    table_name: ClassVar[str] = "inventory_units"
    key_field: ClassVar[str] = "unit_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (Unique(["project_id", "unit_label"]),)

    unit_id: UUID = id_field()
    project_id: UUID = ref("inventory_projects.project_id")
    unit_label: str = text(max_length=64)
    tower: str | None = text(max_length=64, optional=True)
    configuration: str | None = text(max_length=64, optional=True)
    area_sqft: Decimal | None = decimal(minimum=AREA_SQFT_MIN, maximum=AREA_SQFT_MAX)
    price_current: Decimal | None = money()
    currency: str = currency()
    status: UnitStatus = choice(UnitStatus, default=UnitStatus.AVAILABLE)
    facing: Facing | None = choice(Facing, optional=True)
    floor: int | None = count(minimum=FLOOR_MIN, maximum=FLOOR_MAX, optional=True)
    hold_expires_at: datetime | None = timestamp(optional=True)
    held_for_person_id: UUID | None = ref("crm_people.person_id", optional=True)
    attributes_json: dict[str, Any] = json_field()
    source_system: str | None = text(max_length=64, optional=True)
    source_ref: str | None = text(max_length=200, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        held = self.status is UnitStatus.HELD
        check_set_exactly_when(self, "hold_expires_at", held, "the unit is held")
        check_only_when(self, "held_for_person_id", held, "is only kept while the unit is held")
        check_source_pair(self)


@attrs.frozen(kw_only=True)
class PricingHistory(Entity):
    """One price of a unit from a moment on; append-only (``inventory_pricing_history``).

    The unit's current price is the row with the latest ``effective_from`` not
    in the future (ties go to the latest ``recorded_at``).
    """

    table_name: ClassVar[str] = "inventory_pricing_history"
    key_field: ClassVar[str] = "pricing_history_id"

    pricing_history_id: UUID = id_field()
    unit_id: UUID = ref("inventory_units.unit_id")
    price: Decimal = money(optional=False)
    currency: str = currency()
    effective_from: datetime = timestamp()
    recorded_at: datetime = timestamp(now=True)
    changed_by_user_id: UUID | None = ref("core_users.user_id", optional=True)
    import_job_id: UUID | None = ref("inventory_import_jobs.import_job_id", optional=True)
    reason: str | None = text(max_length=500, optional=True)
    source_system: str | None = text(max_length=64, optional=True)
    source_ref: str | None = text(max_length=200, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        check_source_pair(self)


@attrs.frozen(kw_only=True)
class Availability(Entity):
    """One window of a unit's status; append-only (``inventory_availability``).

    A change of status appends a row; the status at a moment is the row with
    the latest ``valid_from`` at or before it whose ``valid_to`` (the planned
    end, e.g. a hold's expiry) has not passed. Nothing is closed by update, so
    the history is evidence and never rewritten.
    """

    table_name: ClassVar[str] = "inventory_availability"
    key_field: ClassVar[str] = "availability_id"

    availability_id: UUID = id_field()
    unit_id: UUID = ref("inventory_units.unit_id")
    status: UnitStatus = choice(UnitStatus)
    valid_from: datetime = timestamp()
    valid_to: datetime | None = timestamp(optional=True)
    reason: str | None = text(max_length=500, optional=True)
    person_id: UUID | None = ref("crm_people.person_id", optional=True)
    recorded_by_user_id: UUID | None = ref("core_users.user_id", optional=True)
    recorded_at: datetime = timestamp(now=True)
    source_system: str | None = text(max_length=64, optional=True)
    source_ref: str | None = text(max_length=200, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        check_not_before(self, "valid_to", "valid_from", strict=True)
        available = self.status is UnitStatus.AVAILABLE
        check_only_when(
            self, "person_id", not available, "an available unit is not held for anyone"
        )
        check_source_pair(self)


@attrs.frozen(kw_only=True)
class Media(VersionedEntity):
    """A picture, floor plan, brochure or video of a project or unit (``inventory_media``)."""

    table_name: ClassVar[str] = "inventory_media"
    key_field: ClassVar[str] = "media_id"

    media_id: UUID = id_field()
    project_id: UUID | None = ref("inventory_projects.project_id", optional=True)
    unit_id: UUID | None = ref("inventory_units.unit_id", optional=True)
    media_type: MediaType = choice(MediaType)
    storage_uri: str = url(optional=False)
    blob_id: UUID | None = ref("intel_blob_store_index.blob_id", optional=True)
    mime_type: str | None = fields.media_type(max_length=127, optional=True)  # media_type is taken
    caption: str | None = text(max_length=500, optional=True)
    sort_order: int = count(default=0)
    source_system: str | None = text(max_length=64, optional=True)
    source_ref: str | None = text(max_length=200, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        if self.project_id is None and self.unit_id is None:
            raise invalid(self, "project_id", "a media item belongs to a project, a unit or both")
        check_source_pair(self)


@attrs.frozen(kw_only=True)
class LocationIndex(VersionedEntity):
    """A project's map pin and place names, for geo and market search.

    Derived from the project's ``location_json``; one row per project
    (``inventory_location_index``).
    """

    table_name: ClassVar[str] = "inventory_location_index"
    key_field: ClassVar[str] = "location_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (Unique(["project_id"]),)

    location_id: UUID = id_field()
    project_id: UUID = ref("inventory_projects.project_id")
    latitude: Decimal = decimal(minimum=Decimal(-90), maximum=Decimal(90), optional=False)
    longitude: Decimal = decimal(minimum=Decimal(-180), maximum=Decimal(180), optional=False)
    geohash: str | None = text(
        max_length=12,
        optional=True,
        pattern=_GEOHASH_PATTERN,
        pattern_hint="in the geohash alphabet 0-9, b-z (no a, i, l, o)",
    )
    city: str | None = text(max_length=100, optional=True)
    micro_market: str | None = text(max_length=100, optional=True)
    locality: str | None = text(max_length=200, optional=True)
    postal_code: str | None = text(max_length=16, optional=True)


@attrs.frozen(kw_only=True)
class ImportJob(VersionedEntity):
    """One run of an inventory feed, with its counts and outcome (``inventory_import_jobs``)."""

    table_name: ClassVar[str] = "inventory_import_jobs"
    key_field: ClassVar[str] = "import_job_id"

    import_job_id: UUID = id_field()
    source_system: str = text(max_length=64)
    file_name: str | None = text(max_length=255, optional=True)
    content_sha256: str | None = sha256_hex(optional=True)
    status: ImportJobStatus = choice(ImportJobStatus, default=ImportJobStatus.QUEUED)
    started_at: datetime | None = timestamp(optional=True)
    finished_at: datetime | None = timestamp(optional=True)
    rows_total: int = count(default=0)
    rows_ok: int = count(default=0)
    rows_failed: int = count(default=0)
    error_summary: str | None = text(max_length=2000, optional=True)
    submitted_by_user_id: UUID | None = ref("core_users.user_id", optional=True)
    stats_json: dict[str, Any] = json_field()

    def check(self) -> None:  # noqa: D102
        super().check()
        status = self.status
        queued = status is ImportJobStatus.QUEUED
        check_only_when(self, "started_at", not queued, "a queued job has not started")
        if status in (ImportJobStatus.RUNNING, ImportJobStatus.SUCCEEDED) and (
            self.started_at is None
        ):
            raise invalid(self, "started_at", f"is required when the job is {status}")
        finished = status in (ImportJobStatus.SUCCEEDED, ImportJobStatus.FAILED)
        check_set_exactly_when(self, "finished_at", finished, "the job has finished")
        check_not_before(self, "finished_at", "started_at")
        if status is ImportJobStatus.FAILED and self.error_summary is None:
            raise invalid(self, "error_summary", "is required when the job has failed")
        if self.rows_ok + self.rows_failed > self.rows_total:
            raise invalid(
                self, "rows_total", "must be at least rows_ok + rows_failed", self.rows_total
            )
