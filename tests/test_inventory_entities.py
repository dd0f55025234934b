"""The cross-field and range rules of the inventory entities name the field at fault."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from velocity_domain.errors import ValidationFailed
from velocity_domain.inventory.entities import (
    Availability,
    ImportJob,
    ImportJobStatus,
    LocationIndex,
    Media,
    MediaType,
    PricingHistory,
    Project,
    Unit,
    UnitStatus,
)
from velocity_domain.kernel.ids import new_id

NOW = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)
PROJECT = new_id()
UNIT = new_id()
PERSON = new_id()


def _unit(**kw: Any) -> Unit:
    return Unit(project_id=PROJECT, unit_label="A-1203", **kw)


BAD: list[tuple[str, Callable[[], object], str]] = [
    (
        "possession before launch",
        lambda: Project(
            project_name="Sky", launch_date=date(2025, 1, 1), possession_date=date(2024, 1, 1)
        ),
        "possession_date",
    ),
    (
        "project source half given",
        lambda: Project(project_name="Sky", source_system="feed"),
        "source_ref",
    ),
    ("zero area", lambda: _unit(area_sqft=Decimal(0)), "area_sqft"),
    ("negative area", lambda: _unit(area_sqft=Decimal("-5")), "area_sqft"),
    ("floor too deep", lambda: _unit(floor=-11), "floor"),
    ("unknown unit status", lambda: _unit(status="reserved"), "status"),
    ("unknown facing", lambda: _unit(facing="up"), "facing"),
    ("negative price", lambda: _unit(price_current=Decimal("-1")), "price_current"),
    ("held without expiry", lambda: _unit(status=UnitStatus.HELD), "hold_expires_at"),
    ("expiry while available", lambda: _unit(hold_expires_at=NOW), "hold_expires_at"),
    (
        "held-for while sold",
        lambda: _unit(status=UnitStatus.SOLD, held_for_person_id=PERSON),
        "held_for_person_id",
    ),
    (
        "price missing",
        lambda: PricingHistory(
            unit_id=UNIT,
            price=None,  # type: ignore[arg-type]
            effective_from=NOW,
        ),
        "price",
    ),
    (
        "window ends at its start",
        lambda: Availability(unit_id=UNIT, status=UnitStatus.HELD, valid_from=NOW, valid_to=NOW),
        "valid_to",
    ),
    (
        "available for a person",
        lambda: Availability(
            unit_id=UNIT, status=UnitStatus.AVAILABLE, valid_from=NOW, person_id=PERSON
        ),
        "person_id",
    ),
    (
        "media of nothing",
        lambda: Media(media_type=MediaType.IMAGE, storage_uri="https://cdn.example.com/a.jpg"),
        "project_id",
    ),
    (
        "media uri without scheme",
        lambda: Media(project_id=PROJECT, media_type=MediaType.IMAGE, storage_uri="a.jpg"),
        "storage_uri",
    ),
    (
        "latitude out of range",
        lambda: LocationIndex(project_id=PROJECT, latitude=Decimal("90.5"), longitude=Decimal(0)),
        "latitude",
    ),
    (
        "longitude out of range",
        lambda: LocationIndex(project_id=PROJECT, latitude=Decimal(0), longitude=Decimal(-181)),
        "longitude",
    ),
    (
        "geohash with an a",
        lambda: LocationIndex(
            project_id=PROJECT, latitude=Decimal(0), longitude=Decimal(0), geohash="tdra"
        ),
        "geohash",
    ),
    (
        "queued but started",
        lambda: ImportJob(source_system="feed", started_at=NOW),
        "started_at",
    ),
    (
        "running not started",
        lambda: ImportJob(source_system="feed", status=ImportJobStatus.RUNNING),
        "started_at",
    ),
    (
        "succeeded not finished",
        lambda: ImportJob(source_system="feed", status=ImportJobStatus.SUCCEEDED, started_at=NOW),
        "finished_at",
    ),
    (
        "finished before started",
        lambda: ImportJob(
            source_system="feed",
            status=ImportJobStatus.SUCCEEDED,
            started_at=NOW,
            finished_at=NOW - timedelta(seconds=1),
        ),
        "finished_at",
    ),
    (
        "failed without error",
        lambda: ImportJob(source_system="feed", status=ImportJobStatus.FAILED, finished_at=NOW),
        "error_summary",
    ),
    (
        "more rows done than read",
        lambda: ImportJob(source_system="feed", rows_total=5, rows_ok=4, rows_failed=2),
        "rows_total",
    ),
]


@pytest.mark.parametrize(("make", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_names_the_field(make: Callable[[], object], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        make()
    assert caught.value.field == field


def test_good_rows_build() -> None:
    unit = _unit(
        status="held",
        hold_expires_at=NOW + timedelta(days=2),
        held_for_person_id=PERSON,
        area_sqft=1250,
        floor=-2,
        facing="north_east",
    )
    assert (unit.status, unit.area_sqft, unit.floor) == (UnitStatus.HELD, Decimal(1250), -2)
    Availability(
        unit_id=UNIT, status=UnitStatus.HELD, valid_from=NOW, valid_to=NOW + timedelta(hours=1)
    )
    Media(unit_id=UNIT, media_type=MediaType.WALKTHROUGH, storage_uri="s3://bucket/walk.mp4")
    LocationIndex(
        project_id=PROJECT, latitude=Decimal("-90"), longitude=Decimal("180"), geohash="tdr1y"
    )
    job = ImportJob(
        source_system="feed",
        status=ImportJobStatus.FAILED,
        started_at=NOW,
        finished_at=NOW,
        error_summary="unreadable file",
        rows_total=3,
        rows_ok=1,
        rows_failed=2,
    )
    assert job.rows_ok + job.rows_failed == job.rows_total
