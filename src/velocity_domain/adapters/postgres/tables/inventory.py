"""The ``inventory_*`` tables (spec section 4, inventory domain; columns of section 5)."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from velocity_domain.adapters.postgres.tables._columns import (
    MONEY,
    choice,
    created_at,
    currency,
    fk,
    jsonb,
    metadata,
    money,
    pk,
    source_key,
    text,
    versioned,
)
from velocity_domain.inventory.entities import (
    AREA_SQFT_MAX,
    AREA_SQFT_MIN,
    FLOOR_MAX,
    FLOOR_MIN,
    Facing,
    ImportJobStatus,
    MediaType,
    ProjectStatus,
    UnitStatus,
)

__all__ = [
    "inventory_availability",
    "inventory_import_jobs",
    "inventory_location_index",
    "inventory_media",
    "inventory_pricing_history",
    "inventory_projects",
    "inventory_units",
]


def _required_money(name: str) -> sa.Column[object]:
    """A non-null, non-negative amount (the shared ``money`` helper is always nullable)."""
    return sa.Column(
        name,
        MONEY,
        sa.CheckConstraint(f"{name} >= 0", name=f"{name}_non_negative"),
        nullable=False,
    )


def _bounded_decimal(
    name: str, low: Decimal, high: Decimal, *, nullable: bool = True
) -> sa.Column[object]:
    """An exact ``numeric`` (no scale, so nothing is rounded) kept within ``[low, high]``."""
    return sa.Column(
        name,
        sa.Numeric,
        sa.CheckConstraint(f"{name} BETWEEN {low} AND {high}", name=f"{name}_range"),
        nullable=nullable,
    )


def _moment(name: str) -> sa.Column[object]:
    """An optional ``timestamptz``."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


inventory_projects = sa.Table(
    "inventory_projects",
    metadata,
    pk("project_id"),
    text("project_name", 200, nullable=False),
    text("developer_name", 200),
    fk("developer_account_id", "crm_accounts.account_id", ondelete="SET NULL"),
    text("city", 100),
    text("micro_market", 100),
    jsonb("location_json"),
    choice("status", ProjectStatus, default=ProjectStatus.LAUNCHED),
    text("rera_id", 64),
    sa.Column("launch_date", sa.Date, nullable=True),
    sa.Column("possession_date", sa.Date, nullable=True),
    text("description", None),
    *source_key(),
    *versioned(),
    sa.CheckConstraint("possession_date >= launch_date", name="possession_after_launch"),
    sa.Index(None, "city", "micro_market"),
    sa.Index(None, "developer_account_id"),
    sa.Index(None, "rera_id"),
    sa.Index("ix_inventory_projects_name", sa.text("lower(project_name)"), "project_id"),
)

inventory_units = sa.Table(
    "inventory_units",
    metadata,
    pk("unit_id"),
    fk("project_id", "inventory_projects.project_id", nullable=False),
    text("unit_label", 64, nullable=False),
    text("tower", 64),
    text("configuration", 64),
    _bounded_decimal("area_sqft", AREA_SQFT_MIN, AREA_SQFT_MAX),
    money("price_current"),
    currency(),
    choice("status", UnitStatus, default=UnitStatus.AVAILABLE),
    choice("facing", Facing, nullable=True),
    sa.Column(
        "floor",
        sa.Integer,
        sa.CheckConstraint(f"floor BETWEEN {FLOOR_MIN} AND {FLOOR_MAX}", name="floor_range"),
        nullable=True,
    ),
    _moment("hold_expires_at"),
    fk("held_for_person_id", "crm_people.person_id", ondelete="SET NULL"),
    jsonb("attributes_json"),
    *source_key(),
    *versioned(),
    sa.UniqueConstraint("project_id", "unit_label"),
    sa.CheckConstraint(
        "status = 'held' OR (hold_expires_at IS NULL AND held_for_person_id IS NULL)",
        name="hold_only_while_held",
    ),
    sa.CheckConstraint("status <> 'held' OR hold_expires_at IS NOT NULL", name="held_has_expiry"),
    sa.Index(None, "project_id", "status"),
    sa.Index(None, "held_for_person_id"),
    sa.Index(
        "ix_inventory_units_holds_expiring",
        "hold_expires_at",
        postgresql_where=sa.text("status = 'held'"),
    ),
)

inventory_pricing_history = sa.Table(
    "inventory_pricing_history",
    metadata,
    pk("pricing_history_id"),
    fk("unit_id", "inventory_units.unit_id", nullable=False),
    _required_money("price"),
    currency(),
    created_at("effective_from"),
    created_at("recorded_at"),
    fk("changed_by_user_id", "core_users.user_id"),
    fk("import_job_id", "inventory_import_jobs.import_job_id", ondelete="SET NULL"),
    text("reason", 500),
    *source_key(),
    sa.Index(None, "import_job_id"),
)
# The current price of a unit: its first row in this index at or before now.
sa.Index(
    "ix_inventory_pricing_history_unit_id_effective_from",
    inventory_pricing_history.c.unit_id,
    inventory_pricing_history.c.effective_from.desc(),
    inventory_pricing_history.c.recorded_at.desc(),
)

inventory_availability = sa.Table(
    "inventory_availability",
    metadata,
    pk("availability_id"),
    fk("unit_id", "inventory_units.unit_id", nullable=False),
    choice("status", UnitStatus),
    created_at("valid_from"),
    _moment("valid_to"),
    text("reason", 500),
    # SET NULL lets a person be erased without erasing the unit's history.
    fk("person_id", "crm_people.person_id", ondelete="SET NULL"),
    fk("recorded_by_user_id", "core_users.user_id"),
    created_at("recorded_at"),
    *source_key(),
    sa.CheckConstraint("valid_to > valid_from", name="valid_to_after_valid_from"),
    sa.CheckConstraint(
        "status <> 'available' OR person_id IS NULL", name="available_not_held_for_anyone"
    ),
    sa.Index(None, "person_id"),
)
# The status of a unit at a moment: its first row in this index at or before it.
sa.Index(
    "ix_inventory_availability_unit_id_valid_from",
    inventory_availability.c.unit_id,
    inventory_availability.c.valid_from.desc(),
    inventory_availability.c.recorded_at.desc(),
)

inventory_media = sa.Table(
    "inventory_media",
    metadata,
    pk("media_id"),
    fk("project_id", "inventory_projects.project_id", ondelete="CASCADE"),
    fk("unit_id", "inventory_units.unit_id", ondelete="CASCADE"),
    choice("media_type", MediaType),
    text("storage_uri", 2048, nullable=False),
    fk("blob_id", "intel_blob_store_index.blob_id", ondelete="SET NULL"),
    text("mime_type", 127),
    text("caption", 500),
    sa.Column(
        "sort_order",
        sa.Integer,
        sa.CheckConstraint("sort_order >= 0", name="sort_order_non_negative"),
        nullable=False,
        server_default="0",
    ),
    *source_key(),
    *versioned(),
    sa.CheckConstraint("project_id IS NOT NULL OR unit_id IS NOT NULL", name="has_owner"),
    sa.Index(None, "project_id", "sort_order"),
    sa.Index(None, "unit_id", "sort_order"),
    sa.Index(None, "blob_id"),
)

inventory_location_index = sa.Table(
    "inventory_location_index",
    metadata,
    pk("location_id"),
    fk("project_id", "inventory_projects.project_id", nullable=False, ondelete="CASCADE"),
    _bounded_decimal("latitude", Decimal(-90), Decimal(90), nullable=False),
    _bounded_decimal("longitude", Decimal(-180), Decimal(180), nullable=False),
    text("geohash", 12),
    text("city", 100),
    text("micro_market", 100),
    text("locality", 200),
    text("postal_code", 16),
    *versioned(),
    sa.UniqueConstraint("project_id"),
    sa.CheckConstraint("geohash ~ '^[0-9b-hjkmnp-z]+$'", name="geohash_alphabet"),
    sa.Index(None, "micro_market"),
    sa.Index(None, "city", "micro_market"),
    sa.Index(None, "latitude", "longitude"),
    # varchar_pattern_ops serves prefix searches (geohash LIKE 'tdr1%').
    sa.Index(None, "geohash", postgresql_ops={"geohash": "varchar_pattern_ops"}),
)

inventory_import_jobs = sa.Table(
    "inventory_import_jobs",
    metadata,
    pk("import_job_id"),
    text("source_system", 64, nullable=False),
    text("file_name", 255),
    text("content_sha256", 64),
    choice("status", ImportJobStatus, default=ImportJobStatus.QUEUED),
    _moment("started_at"),
    _moment("finished_at"),
    sa.Column("rows_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_ok", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_failed", sa.Integer, nullable=False, server_default="0"),
    text("error_summary", 2000),
    fk("submitted_by_user_id", "core_users.user_id"),
    jsonb("stats_json"),
    *versioned(),
    sa.CheckConstraint(
        "rows_ok >= 0 AND rows_failed >= 0 AND rows_ok + rows_failed <= rows_total",
        name="row_counts",
    ),
    sa.CheckConstraint("status <> 'queued' OR started_at IS NULL", name="queued_not_started"),
    sa.CheckConstraint(
        "status NOT IN ('running', 'succeeded') OR started_at IS NOT NULL",
        name="started_when_running",
    ),
    sa.CheckConstraint(
        "(status IN ('succeeded', 'failed')) = (finished_at IS NOT NULL)",
        name="finished_iff_done",
    ),
    sa.CheckConstraint("finished_at >= started_at", name="finished_after_started"),
    sa.CheckConstraint("status <> 'failed' OR error_summary IS NOT NULL", name="failed_has_error"),
    sa.Index(None, "status", "created_at"),
    sa.Index(None, "source_system", "created_at"),
)
