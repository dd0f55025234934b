"""Developer price sheets into the inventory (issue 14), on both stores.

A sheet as a developer sends it (Indian amounts, statuses as they write them)
is imported into a project: unknown units are added, changed prices become
proposals for review whose execution writes ``inventory_pricing_history``
with the job's id, unchanged rows do nothing and bad rows are reported with
their reasons while the good ones land.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.errors import (
    ApprovalRequired,
    PermissionDenied,
    StorageUnavailable,
    UnreadableImport,
    ValidationFailed,
)
from velocity_domain.governance.policy import FieldRule
from velocity_domain.imports.price_sheets import PriceSheetReport, PriceSheetService
from velocity_domain.inventory.entities import (
    ImportJobStatus,
    PricingHistory,
    Project,
    Unit,
    UnitStatus,
)
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.query import Eq, Query
from velocity_domain.testing import unit_of_work
from velocity_domain.workflow.entities import WritebackStatus

HEADER = "Tower,Unit No,Type,Carpet Area (sq ft),Super Area (sq ft),Price,Status\r\n"
FIRST = (
    HEADER
    + 'A,1201,3 BHK,"1,250","1,650","1,25,00,000",Available\r\n'
    + "A,1202,2BHK,980,1300,1.35 Cr,Booked\r\n"
    + 'B,101,3 BHK,1250,1650,"₹ 95,00,000/-",Hold\r\n'
    + "B,102,3 BHK,1250,1650,1.1 Cr,Blocked\r\n"
    + "B,103,4 BHK,1800,2300,2.05 Cr,Available\r\n"
).encode()
#: The same units a month later: two prices moved, one unit booked, one area corrected.
SECOND = (
    HEADER
    + 'A,1201,3 BHK,"1,250","1,650","1,30,00,000",Available\r\n'
    + "A,1202,2BHK,980,1300,1.35 Cr,Booked\r\n"
    + 'B,101,3 BHK,1250,1650,"₹ 95,00,000/-",Hold\r\n'
    + "B,102,3 BHK,1250,1650,1.15 Cr,Blocked\r\n"
    + "B,103,4 BHK,1810,2300,2.05 Cr,Booked\r\n"
).encode()


def sheets(v: Velocity) -> PriceSheetService:
    """The price sheet service of ``v`` (built from its internals until Velocity exposes it)."""
    found = getattr(v, "price_sheets", None)
    if isinstance(found, PriceSheetService):
        return found
    return PriceSheetService(v._unit_of_work, v.clock, v.governance, inventory=v.inventory)


def _project(w: World, name: str = "Skyline Towers") -> Project:
    return w.velocity.inventory.create_project(w.admin, project_name=name, city="Pune")


def _submit(w: World, project: Project, sheet: Any, **options: Any) -> PriceSheetReport:
    options.setdefault("file_name", "skyline-price-list.csv")
    return sheets(w.velocity).submit(
        w.by_role["operator"], sheet, project_id=project.key, source_system="developer", **options
    )


def _units(w: World, project: Project) -> dict[str, Unit]:
    page = w.velocity.inventory.list_units(w.admin, project_id=project.key, limit=500)
    return {u.unit_label: u for u in page}


def _history(w: World) -> list[PricingHistory]:
    with unit_of_work(w.velocity) as uow:
        return list(uow.inventory.pricing_history.list().items)


def _release_prices(w: World, report: PriceSheetReport) -> None:
    """The admin (not the operator who submitted) approves and executes every price proposal."""
    for _, _, writeback_id in report.price_changes_for_review:
        w.velocity.writebacks.approve(w.admin, writeback_id, comment="matches the price list")
        assert w.velocity.writebacks.execute(w.admin, writeback_id).applied


def _imported(w: World, project: Project) -> PriceSheetReport:
    report = _submit(w, project, FIRST)
    _release_prices(w, report)
    return report


# -- first import -------------------------------------------------------------------------------


def test_a_first_import_adds_the_units_and_proposes_their_prices(world: World) -> None:
    v, w = world.velocity, world
    project = _project(w)
    report = _submit(w, project, FIRST)

    assert (report.created, report.updated, report.proposed, report.unchanged) == (5, 0, 0, 0)
    assert report.invalid == report.refused == ()
    assert report.reviews == ()
    units = _units(w, project)
    assert sorted(units) == ["A-1201", "A-1202", "B-101", "B-102", "B-103"]
    a1201, a1202 = units["A-1201"], units["A-1202"]
    assert (a1201.tower, a1201.configuration, a1201.area_sqft) == ("A", "3 BHK", Decimal(1250))
    assert a1201.attributes_json == {"super_area_sqft": "1650"}
    assert (a1202.configuration, a1202.source_system, a1202.source_ref) == (
        "2 BHK",
        "developer",
        "A-1202",
    )
    # Anything but "available" takes the unit off sale; nobody in the CRM holds it.
    assert {label: u.status for label, u in units.items()} == {
        "A-1201": UnitStatus.AVAILABLE,
        "A-1202": UnitStatus.BLOCKED,
        "B-101": UnitStatus.BLOCKED,
        "B-102": UnitStatus.BLOCKED,
        "B-103": UnitStatus.AVAILABLE,
    }
    # Every first price is a money change: a proposal each, nothing priced yet.
    by_row = {row: (unit, wb) for row, unit, wb in report.price_changes_for_review}
    assert sorted(by_row) == [1, 2, 3, 4, 5]
    assert by_row[1][0] == a1201.key
    assert all(u.price_current is None for u in units.values())
    assert _history(w) == []
    waiting = v.writebacks.list(w.admin, status="review_required").items
    assert {wb.key for wb in waiting} == {wb for _, wb in by_row.values()}
    proposed = {wb.target_entity_ref: wb.change_json["fields"]["price_current"] for wb in waiting}
    assert proposed[a1201.key] == "12500000.00"
    assert proposed[a1202.key] == "13500000.00"
    assert proposed[units["B-101"].key] == "9500000.00"


def test_the_job_records_the_file_its_submitter_and_its_counts(world: World) -> None:
    w = world
    project = _project(w)
    report = _submit(w, project, FIRST)
    job = report.job

    assert job.status is ImportJobStatus.SUCCEEDED
    assert (job.rows_total, job.rows_ok, job.rows_failed) == (5, 5, 0)
    assert job.content_sha256 == hashlib.sha256(FIRST).hexdigest()
    assert (job.file_name, job.source_system) == ("skyline-price-list.csv", "developer")
    assert job.submitted_by_user_id == w.by_role["operator"].user_id
    assert job.started_at is not None
    assert job.finished_at is not None
    assert job.error_summary is None
    stats = job.stats_json
    assert stats["project_id"] == str(project.key)
    assert stats["columns"] == {
        "tower": "Tower",
        "unit": "Unit No",
        "configuration": "Type",
        "carpet_area": "Carpet Area (sq ft)",
        "super_area": "Super Area (sq ft)",
        "price": "Price",
        "status": "Status",
    }
    assert stats["counts"]["created"] == 5
    assert stats["counts"]["price_proposals"] == 5
    assert [p["row"] for p in stats["price_proposals"]] == [1, 2, 3, 4, 5]
    assert sheets(w.velocity).get(w.admin, job.key) == job
    moves = [
        e.action
        for e in w.velocity.audit.list(w.admin, target_ref=job.key, limit=20)
        if e.action.startswith("inventory.price_sheets.")
    ]
    assert sorted(moves) == sorted(
        [
            "inventory.price_sheets.submit",
            "inventory.price_sheets.running",
            "inventory.price_sheets.succeeded",
        ]
    )


# -- the next sheet -----------------------------------------------------------------------------


def test_changed_prices_wait_for_review_then_land_in_the_history_with_the_job(
    world: World,
) -> None:
    v, w = world.velocity, world
    project = _project(w)
    first = _imported(w, project)
    before = _units(w, project)
    assert before["A-1201"].price_current == Decimal("12500000.00")
    assert {h.import_job_id for h in _history(w)} == {first.job.key}

    v.clock.advance(days=30)  # type: ignore[attr-defined]
    second = _submit(w, project, SECOND, file_name="skyline-price-list-june.csv")

    changed = {row: unit for row, unit, _ in second.price_changes_for_review}
    assert changed == {1: before["A-1201"].key, 4: before["B-102"].key}
    # B-103: area corrected and taken off sale (booked with the developer) -- written now.
    assert (second.created, second.updated, second.proposed, second.unchanged) == (0, 1, 2, 2)
    after = _units(w, project)
    assert (after["B-103"].area_sqft, after["B-103"].status) == (
        Decimal(1810),
        UnitStatus.BLOCKED,
    )
    assert after["A-1201"].price_current == Decimal("12500000.00")  # not before approval
    for label in ("A-1202", "B-101"):
        assert after[label] == before[label]

    _release_prices(w, second)
    final = _units(w, project)
    assert final["A-1201"].price_current == Decimal("13000000.00")
    assert final["B-102"].price_current == Decimal("11500000.00")
    new_rows = [h for h in _history(w) if h.import_job_id == second.job.key]
    assert sorted((h.unit_id, h.price) for h in new_rows) == sorted(
        [
            (before["A-1201"].key, Decimal("13000000.00")),
            (before["B-102"].key, Decimal("11500000.00")),
        ]
    )
    assert all(h.changed_by_user_id == w.admin.user_id for h in new_rows)
    assert all("skyline-price-list-june.csv" in (h.reason or "") for h in new_rows)
    current = v.inventory.current_price(w.admin, before["A-1201"].key)
    assert current is not None
    assert (current.price, current.import_job_id) == (Decimal("13000000.00"), second.job.key)


def test_importing_the_same_sheet_again_changes_nothing(world: World) -> None:
    v, w = world.velocity, world
    project = _project(w)
    _imported(w, project)
    units = _units(w, project)
    history = _history(w)
    proposals = len(v.writebacks.list(w.admin, limit=200).items)
    events = len(v.audit.list(w.admin, target_domain="inventory", limit=500).items)

    again = _submit(w, project, FIRST)

    assert (again.created, again.updated, again.proposed, again.unchanged) == (0, 0, 0, 5)
    assert again.price_changes_for_review == ()
    assert again.invalid == again.refused == ()
    assert _units(w, project) == units  # same versions: nothing written
    assert _history(w) == history
    assert len(v.writebacks.list(w.admin, limit=200).items) == proposals
    # Only the new job's own events (submit, running, succeeded).
    assert len(v.audit.list(w.admin, target_domain="inventory", limit=500).items) == events + 3
    assert again.job.content_sha256 == hashlib.sha256(FIRST).hexdigest()


def test_a_price_already_awaiting_review_is_not_proposed_twice(world: World) -> None:
    v, w = world.velocity, world
    project = _project(w)
    first = _submit(w, project, FIRST)
    again = _submit(w, project, FIRST)

    assert again.price_changes_for_review == ()
    assert again.already_in_review == first.price_changes_for_review
    assert (again.created, again.unchanged) == (0, 5)
    waiting = v.writebacks.list(w.admin, status="review_required", limit=200).items
    assert len(waiting) == 5
    # A different price gets its own proposal; so does one whose unit has moved on since
    # (B-103 is taken off sale and its area corrected first: the old proposal would fail).
    moved = _submit(w, project, SECOND)
    assert {row for row, _, _ in moved.price_changes_for_review} == {1, 4, 5}
    assert {row for row, _, _ in moved.already_in_review} == {2, 3}


# -- bad rows -----------------------------------------------------------------------------------


def test_bad_rows_are_reported_with_their_reasons_while_the_good_rows_land(world: World) -> None:
    w = world
    project = _project(w)
    sheet = (
        HEADER
        + "A,1201,3 BHK,1250,1650,1.25 Cr,Available\r\n"  # 1 good
        + "A,1202,3 BHK,1250,1650,TBD,Available\r\n"  # 2 no price
        + "A,1203,3 BHK,1250,1650,1.3 Cr,Maybe later\r\n"  # 3 unknown status
        + ",,3 BHK,1250,1650,1.3 Cr,Available\r\n"  # 4 no unit number
        + "A,1204,3 BHK\r\n"  # 5 too few fields
        + "A,1205,3 BHK,huge,1650,80L - 90L,Available\r\n"  # 6 bad area, a range
        + "A,1201,3 BHK,1250,1650,1.25 Cr,Available\r\n"  # 7 the same unit again
        + "B,0701,2 BHK,950,1250,95 L,Sold\r\n"  # 8 good
    ).encode()
    report = _submit(w, project, sheet)

    fields = [(row, field) for row, field, _ in report.invalid]
    assert fields == [
        (2, "price"),
        (3, "status"),
        (4, "unit"),
        (5, "row"),
        (6, "carpet_area"),
        (6, "price"),
        (7, "unit"),
    ]
    reasons = {(row, field): reason for row, field, reason in report.invalid}
    assert "'TBD' is not a price" in reasons[(2, "price")]
    assert "'Maybe later'" in reasons[(3, "status")]
    assert "Unit No" in reasons[(4, "unit")]
    assert "3 fields" in reasons[(5, "row")]
    assert "'huge' is not an area" in reasons[(6, "carpet_area")]
    assert "not one price" in reasons[(6, "price")]
    assert "row 1" in reasons[(7, "unit")]
    assert report.created == 2
    assert sorted(_units(w, project)) == ["A-1201", "B-0701"]
    job = report.job
    assert job.status is ImportJobStatus.SUCCEEDED
    assert (job.rows_total, job.rows_ok, job.rows_failed) == (8, 2, 6)
    assert job.error_summary is not None
    assert "row 2, price" in job.error_summary
    kept = [(i["row"], i["field"]) for i in job.stats_json["invalid"]]
    assert kept == fields


def test_a_sheet_with_no_row_that_can_be_imported_fails_its_job(world: World) -> None:
    w = world
    project = _project(w)
    sheet = (HEADER + "A,1,3 BHK,1250,1650,TBD,Available\r\n" + ",,,,,,\r\n").encode()
    report = _submit(w, project, sheet)
    assert report.job.status is ImportJobStatus.FAILED
    assert report.job.error_summary is not None
    assert report.job.error_summary.startswith("no row of the sheet could be imported")
    assert _units(w, project) == {}
    assert sheets(w.velocity).list(w.admin, status="failed").items == (report.job,)


def test_a_sheet_without_a_unit_column_is_refused_and_records_nothing(world: World) -> None:
    w = world
    project = _project(w)
    with pytest.raises(UnreadableImport) as caught:
        _submit(w, project, b"Tower,Type,Price\r\nA,3 BHK,1 Cr\r\n")
    assert caught.value.field == "columns"
    assert "unit number column" in caught.value.reason
    with pytest.raises(UnreadableImport):
        _submit(w, project, b"")
    assert sheets(w.velocity).list(w.admin).items == ()


@pytest.mark.parametrize(
    ("columns", "why"),
    [
        ({"Flat": "unit", "Nope": "price"}, "no column for"),
        ({"Flat": "flat number"}, "a column is one of"),
        ({"Flat": "unit", "Cost": "unit"}, "more than one column"),
    ],
)
def test_columns_naming_what_the_sheet_lacks_are_refused(
    world: World, columns: dict[str, str], why: str
) -> None:
    w = world
    project = _project(w)
    with pytest.raises(ValidationFailed) as caught:
        _submit(w, project, b"Flat,Cost\r\n101,1 Cr\r\n", columns=columns)
    assert caught.value.field == "columns"
    assert why in caught.value.reason
    assert sheets(w.velocity).list(w.admin).items == ()


def test_an_unknown_project_or_currency_is_refused(world: World) -> None:
    w = world
    ghost = Project(project_name="Nowhere")
    with pytest.raises(ValidationFailed) as caught:
        _submit(w, ghost, FIRST)
    assert caught.value.field == "project_id"
    with pytest.raises(ValidationFailed) as caught:
        _submit(w, _project(w), FIRST, currency="rupees")
    assert caught.value.field == "currency"
    assert sheets(w.velocity).list(w.admin).items == ()


# -- other shapes of sheet ----------------------------------------------------------------------


def test_a_hand_kept_windows_sheet_with_named_columns_and_square_metres(world: World) -> None:
    w = world
    project = _project(w)
    sheet = (
        "Blk;Apt;Config;RERA Carpet (sq m);Saleable Area;Basic Price;All-in Price;Availability"
        ";Remarks\r\n"
        "Tower C;C-0902;3bhk;116.13;1650;Rs. 1,10,00,000;Rs. 1,21,50,000;Available"
        ";Façade view\r\n"
        "Tower C;903;2 B.H.K;89;1280 sq ft;85 Lakhs;92 lakhs;Not Available;Vastu\r\n"
    ).encode("cp1252")
    report = _submit(
        w,
        project,
        sheet,
        file_name="tower-c.csv",
        encoding="cp1252",
        columns={"Blk": "tower", "Apt": "unit"},
    )

    assert report.created == 2
    assert report.invalid == ()
    stats = report.job.stats_json
    assert stats["encoding"] == "cp1252"
    assert stats["delimiter"] == ";"
    assert stats["columns"]["price"] == "All-in Price"  # the all-in price over the basic one
    assert stats["columns"]["carpet_area"] == "RERA Carpet (sq m)"
    assert stats["ignored_columns"] == ["Basic Price", "Remarks"]
    units = _units(w, project)
    assert sorted(units) == ["C-0902", "C-903"]
    c902, c903 = units["C-0902"], units["C-903"]
    assert (c902.tower, c902.configuration) == ("Tower C", "3 BHK")
    assert (c902.area_sqft, c903.configuration) == (Decimal("1250.01"), "2 BHK")
    assert (c903.area_sqft, c903.status) == (Decimal("957.99"), UnitStatus.BLOCKED)
    assert c903.attributes_json == {"super_area_sqft": "1280"}
    prices = {
        wb.target_entity_ref: wb.change_json["fields"]["price_current"]
        for wb in w.velocity.writebacks.list(w.admin, status="review_required").items
    }
    assert prices == {c902.key: "12150000.00", c903.key: "9200000.00"}


def test_rows_from_code_find_units_added_by_hand(world: World) -> None:
    v, w = world.velocity, world
    project = _project(w)
    by_hand = v.inventory.add_unit(
        w.admin,
        project.key,
        unit_label="1203",
        tower="A",
        configuration="3BHK",
        area_sqft=Decimal(1250),
    )
    rows = [
        {"Tower": "A", "Unit": "1203", "BHK": "3 BHK", "Carpet": "1250", "Status": "Available"},
        {"Tower": "A", "Unit": "1204", "BHK": "3 BHK", "Carpet": "1250", "Status": "Available"},
    ]
    report = _submit(w, project, rows, file_name=None)
    assert (report.created, report.unchanged) == (1, 1)  # "3BHK" and "3 BHK" are one thing
    assert v.inventory.get_unit(w.admin, by_hand.key) == by_hand
    assert sorted(_units(w, project)) == ["1203", "A-1204"]
    assert report.job.stats_json["format"] == "records"


# -- status and the CRM's own holds -------------------------------------------------------------


def test_a_sheet_never_undoes_a_hold_or_booking_made_in_the_crm(world: World) -> None:
    v, w = world.velocity, world
    project = _project(w)
    _imported(w, project)
    units = _units(w, project)
    held = v.inventory.hold(
        w.admin,
        units["A-1201"].key,
        person_id=w.client_a.key,
        until=v.clock.now() + timedelta(days=3),
        expected_version=units["A-1201"].version,
    )
    booked = v.inventory.book(
        w.admin,
        units["B-103"].key,
        person_id=w.client_b.key,
        expected_version=units["B-103"].version,
    )
    sheet = (
        HEADER
        + "A,1201,3 BHK,1250,1650,1.25 Cr,Booked\r\n"  # held here for a buyer
        + "A,1202,2 BHK,980,1300,1.35 Cr,Available\r\n"  # blocked by the first sheet
        + "B,103,4 BHK,1800,2300,2.05 Cr,Sold\r\n"  # booked here: now sold
        + "B,101,3 BHK,1250,1650,95 L,Hold\r\n"  # off sale already
    ).encode()
    report = _submit(w, project, sheet)

    assert [(row, field) for row, field, _ in report.refused] == [(1, "status")]
    assert "held here for a buyer" in report.refused[0][2]
    after = _units(w, project)
    assert after["A-1201"] == held
    assert after["A-1202"].status is UnitStatus.AVAILABLE
    assert after["B-103"].status is UnitStatus.SOLD
    assert after["B-103"].version == booked.version + 1
    assert after["B-101"] == units["B-101"]
    assert (report.updated, report.unchanged, report.job.rows_failed) == (2, 1, 1)
    # And a sheet calling a sold unit available leaves it sold.
    again = _submit(w, project, (HEADER + "B,103,4 BHK,1800,2300,2.05 Cr,Available\r\n").encode())
    assert [(row, field) for row, field, _ in again.refused] == [(1, "status")]
    assert _units(w, project)["B-103"].status is UnitStatus.SOLD


def test_a_price_in_another_currency_than_the_units_is_refused(world: World) -> None:
    w = world
    project = _project(w)
    _imported(w, project)
    sheet = (HEADER + "A,1201,3 BHK,1250,1650,USD 150000,Available\r\n").encode()
    report = _submit(w, project, sheet)
    assert report.refused == ((1, "price", "is in USD; the unit is priced in INR"),)
    assert report.price_changes_for_review == ()


# -- the policy, permissions and failures -------------------------------------------------------


def test_unit_writes_a_host_policy_reviews_are_listed_as_proposals(world: World) -> None:
    v, w = world.velocity, world
    project = _project(w)
    v.governance.policy.add(
        FieldRule(
            "units_reviewed",
            lambda c, p: "units are reviewed" if c.operation == "inventory.units.add" else None,
        )
    )
    report = _submit(w, project, FIRST)
    assert [(row, op) for row, op, _ in report.reviews] == [
        (n, "inventory.units.add") for n in range(1, 6)
    ]
    assert (report.created, report.proposed) == (0, 5)
    assert report.price_changes_for_review == ()
    assert _units(w, project) == {}


def test_only_inventory_writers_submit_and_every_role_reads(world: World) -> None:
    w = world
    project = _project(w)
    service = sheets(w.velocity)
    for role in ("analyst", "sales_agent", "sales_manager", "oracle_agent"):
        with pytest.raises(PermissionDenied):
            service.submit(w.by_role[role], FIRST, project_id=project.key, source_system="x")
    assert service.list(w.admin).items == ()
    report = _submit(w, project, FIRST)
    for role in ("analyst", "sales_agent", "oracle_agent"):
        assert service.get(w.by_role[role], report.job.key) == report.job
        assert service.list(w.by_role[role], source_system="developer").items == (report.job,)
    assert service.list(w.admin, source_system="other").items == ()


class _FailingInventory:
    """The inventory service, except that its ``fail_on``-th unit add loses the store."""

    def __init__(self, real: Any, fail_on: int) -> None:
        self._real = real
        self._left = fail_on

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def add_unit(self, *args: Any, **kwargs: Any) -> Unit:
        self._left -= 1
        if self._left == 0:
            raise StorageUnavailable("the database went away")
        unit: Unit = self._real.add_unit(*args, **kwargs)
        return unit


def test_a_store_failure_mid_sheet_fails_the_job_with_the_reason(world: World) -> None:
    v, w = world.velocity, world
    project = _project(w)
    failing: Any = _FailingInventory(v.inventory, 3)
    broken = PriceSheetService(v._unit_of_work, v.clock, v.governance, inventory=failing)
    with pytest.raises(StorageUnavailable):
        broken.submit(w.admin, FIRST, project_id=project.key, source_system="developer")
    (job,) = sheets(v).list(w.admin).items
    assert job.status is ImportJobStatus.FAILED
    assert job.error_summary is not None
    assert "the database went away" in job.error_summary
    assert sorted(_units(w, project)) == ["A-1201", "A-1202"]


# -- the price change's job id ------------------------------------------------------------------


def test_a_direct_price_change_is_proposed_as_before_and_an_unknown_job_is_refused(
    world: World,
) -> None:
    v, w = world.velocity, world
    project = _project(w)
    unit = v.inventory.add_unit(w.admin, project.key, unit_label="Z-1")
    call: Callable[[], Any] = lambda: v.inventory.change_price(  # noqa: E731
        w.admin, unit.key, price=Decimal(9000000), effective_from=v.clock.now()
    )
    with pytest.raises(ApprovalRequired) as caught:
        call()
    proposal = caught.value.proposal_id
    assert isinstance(proposal, UUID)
    with unit_of_work(v) as uow:
        stored = uow.workflow.writebacks.get(proposal)
        assert stored.status is WritebackStatus.REVIEW_REQUIRED
    assert set(stored.change_json["context"]) == {"effective_from", "reason"}
    v.writebacks.approve(w.by_role["operator"], proposal)
    v.writebacks.execute(w.by_role["operator"], proposal)
    with unit_of_work(v) as uow:
        (entry,) = uow.inventory.pricing_history.list(Query((Eq("unit_id", unit.key),))).items
    assert entry.import_job_id is None
    with pytest.raises(ValidationFailed) as refused:
        v.inventory.change_price(
            w.admin,
            unit.key,
            price=Decimal(9100000),
            effective_from=v.clock.now(),
            import_job_id=new_id(),
        )
    assert refused.value.field == "import_job_id"
