"""The inventory service: projects, units, holds and bookings, prices, media, locations."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from tests.support.governance import release, reviewed
from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.errors import (
    ApprovalRequired,
    ConcurrencyConflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    VelocityError,
    WritebackFailed,
)
from velocity_domain.governance.policy import FieldRule
from velocity_domain.inventory.entities import PricingHistory, ProjectStatus, Unit, UnitStatus
from velocity_domain.kernel.query import Eq
from velocity_domain.services.inventory.catalogue import haversine_km
from velocity_domain.testing import unit_of_work
from velocity_domain.workflow.entities import WritebackStatus


def _unit(v: Velocity, w: World, label: str = "A-1203") -> Unit:
    project = v.inventory.create_project(w.admin, project_name="Skyline Towers", city="Pune")
    return v.inventory.add_unit(
        w.admin, project.key, unit_label=label, configuration="3BHK", area_sqft=1250
    )


def _actions(v: Velocity, w: World, action: str) -> int:
    return len(v.audit.list(w.admin, action=action).items)


def _price(
    v: Velocity,
    w: World,
    unit: Unit,
    price: int,
    effective_from: datetime,
    reason: str | None = None,
) -> PricingHistory:
    """Change a price as the admin; an operator approves and executes the proposal."""
    entry = release(
        v,
        w.by_role["operator"],
        lambda: v.inventory.change_price(
            w.admin, unit.key, price=Decimal(price), effective_from=effective_from, reason=reason
        ),
    )
    assert isinstance(entry, PricingHistory)
    return entry


def _price_rows(v: Velocity, unit: Unit) -> int:
    with unit_of_work(v) as uow:
        return uow.inventory.pricing_history.count(Eq("unit_id", unit.key))


# -- projects and units -----------------------------------------------------------------------


def test_projects_are_created_read_listed_and_updated(world: World) -> None:
    v, w = world.velocity, world
    pune = v.inventory.create_project(
        w.admin, project_name="Skyline", city="Pune", micro_market="Baner"
    )
    v.inventory.create_project(w.admin, project_name="Harbour", city="Mumbai", status="ready")
    assert v.inventory.get_project(w.by_role["analyst"], pune.key) == pune
    assert [p.project_name for p in v.inventory.list_projects(w.agent_a)] == ["Harbour", "Skyline"]
    assert [p.key for p in v.inventory.list_projects(w.admin, city="Pune")] == [pune.key]
    ready = v.inventory.list_projects(w.admin, status=ProjectStatus.READY)
    assert [p.project_name for p in ready] == ["Harbour"]
    changed = v.inventory.update_project(
        w.by_role["operator"], pune.key, expected_version=1, status="under_construction"
    )
    assert (changed.version, changed.status) == (2, ProjectStatus.UNDER_CONSTRUCTION)
    with pytest.raises(ConcurrencyConflict):
        v.inventory.update_project(w.admin, pune.key, expected_version=1, city="Mumbai")
    assert _actions(v, w, "inventory.projects.create") == 2
    (event,) = v.audit.list(w.admin, action="inventory.projects.update").items
    assert event.after_json == {"status": "under_construction"}


def test_units_are_added_updated_and_listed(world: World) -> None:
    v, w = world.velocity, world
    unit = _unit(v, w)
    other = v.inventory.add_unit(
        w.admin, unit.project_id, unit_label="A-1204", configuration="2BHK"
    )
    assert (unit.status, unit.version) == (UnitStatus.AVAILABLE, 1)
    units = v.inventory.list_units(w.agent_b, project_id=unit.project_id)
    assert [u.unit_label for u in units] == ["A-1203", "A-1204"]
    only = v.inventory.list_units(w.admin, configuration="2BHK", status="available")
    assert [u.key for u in only] == [other.key]
    changed = v.inventory.update_unit(w.admin, unit.key, expected_version=1, floor=12, tower="A")
    assert (changed.floor, changed.tower, changed.version) == (12, "A", 2)
    with pytest.raises(ConcurrencyConflict):
        v.inventory.update_unit(w.admin, unit.key, expected_version=1, floor=3)
    with pytest.raises(ValidationFailed) as err:
        v.inventory.update_unit(w.admin, unit.key, expected_version=2, status="sold")
    assert err.value.field == "status"
    with pytest.raises(ValidationFailed) as err:
        v.inventory.update_unit(w.admin, other.key, expected_version=1, unit_label="A-1203")
    assert err.value.field == "unit_label"
    assert _actions(v, w, "inventory.units.add") == 2
    assert _actions(v, w, "inventory.units.update") == 1


def test_inventory_has_no_record_visibility_and_agents_cannot_write(world: World) -> None:
    v, w = world.velocity, world
    unit = _unit(v, w)
    held = v.inventory.hold(
        w.admin,
        unit.key,
        person_id=w.client_b.key,
        until=v.clock.now() + timedelta(hours=1),
        expected_version=1,
    )
    # agent_a cannot see client_b, but inventory is not client data: the unit is visible.
    assert v.inventory.get_unit(w.agent_a, unit.key) == held
    with pytest.raises(PermissionDenied):
        v.inventory.release(w.agent_a, unit.key, expected_version=2)
    with pytest.raises(NotFound):
        v.inventory.get_unit(w.agent_a, uuid4())


# -- holds, bookings and availability -----------------------------------------------------------


def test_a_hold_blocks_other_buyers_until_it_lapses(world: World) -> None:
    v, clock, w = world.velocity, world.clock, world
    unit = _unit(v, w)
    until = clock.now() + timedelta(hours=2)
    held = v.inventory.hold(
        w.admin, unit.key, person_id=w.client_a.key, until=until, expected_version=1
    )
    assert (held.status, held.held_for_person_id, held.hold_expires_at) == (
        UnitStatus.HELD,
        w.client_a.key,
        until,
    )
    with pytest.raises(InvalidTransition) as err:
        v.inventory.hold(
            w.admin, unit.key, person_id=w.client_b.key, until=until, expected_version=2
        )
    assert (err.value.current, err.value.target, err.value.allowed) == (
        "held",
        "held",
        ("available",),
    )
    with pytest.raises(InvalidTransition) as err:
        v.inventory.book(w.admin, unit.key, person_id=w.client_b.key, expected_version=2)
    assert err.value.reason is not None
    assert "double-booking refused: held for another person" in err.value.reason
    assert str(w.client_a.key) not in str(err.value)
    clock.advance(hours=3)
    again = v.inventory.hold(
        w.admin,
        unit.key,
        person_id=w.client_b.key,
        until=clock.now() + timedelta(days=1),
        expected_version=2,
    )
    assert again.held_for_person_id == w.client_b.key
    booked = v.inventory.book(w.admin, unit.key, person_id=w.client_b.key, expected_version=3)
    assert (booked.status, booked.held_for_person_id, booked.hold_expires_at) == (
        UnitStatus.BOOKED,
        None,
        None,
    )


def test_a_booked_or_sold_unit_is_never_booked_again(world: World) -> None:
    v, w = world.velocity, world
    unit = _unit(v, w)
    booked = v.inventory.book(w.admin, unit.key, person_id=w.client_a.key, expected_version=1)
    with pytest.raises(InvalidTransition) as err:
        v.inventory.book(w.admin, unit.key, person_id=w.client_b.key, expected_version=2)
    assert err.value.reason == "double-booking refused: the unit is already booked"
    assert err.value.allowed == ("available", "sold")
    sold = v.inventory.mark_sold(w.admin, unit.key, expected_version=booked.version)
    assert sold.status is UnitStatus.SOLD
    with pytest.raises(InvalidTransition) as err:
        v.inventory.book(w.admin, unit.key, person_id=w.client_a.key, expected_version=3)
    assert "already sold" in str(err.value)
    with pytest.raises(InvalidTransition) as err:
        v.inventory.release(w.admin, unit.key, expected_version=3)
    assert err.value.allowed == ()


def test_every_status_change_appends_availability_and_audit(world: World) -> None:
    v, clock, w = world.velocity, world.clock, world
    unit = _unit(v, w)
    op = w.by_role["operator"]
    v.inventory.hold(
        op,
        unit.key,
        person_id=w.client_a.key,
        until=clock.now() + timedelta(days=1),
        expected_version=1,
        reason="token paid",
    )
    clock.advance(minutes=1)
    v.inventory.release(op, unit.key, expected_version=2)
    clock.advance(minutes=1)
    v.inventory.block(op, unit.key, expected_version=3, reason="owner's quota")
    clock.advance(minutes=1)
    v.inventory.unblock(op, unit.key, expected_version=4)
    clock.advance(minutes=1)
    v.inventory.book(op, unit.key, person_id=w.client_a.key, expected_version=5)
    clock.advance(minutes=1)
    v.inventory.mark_sold(op, unit.key, expected_version=6)
    rows = list(v.inventory.availability(w.by_role["analyst"], unit.key))
    assert [(r.status.value, r.person_id) for r in rows] == [
        ("sold", w.client_a.key),
        ("booked", w.client_a.key),
        ("available", None),
        ("blocked", None),
        ("available", None),
        ("held", w.client_a.key),
        ("available", None),
    ]
    assert rows[5].reason == "token paid"
    assert rows[5].valid_to == rows[5].valid_from + timedelta(days=1)
    for action in ("hold", "release", "block", "unblock", "book", "mark_sold"):
        events = v.audit.list(w.admin, action=f"inventory.units.{action}").items
        assert [e.target_ref for e in events] == [str(unit.key)]
    assert v.inventory.get_unit(w.admin, unit.key).version == 7


def test_two_bookings_on_the_same_version_one_wins(world: World) -> None:
    v, w = world.velocity, world
    unit = _unit(v, w)
    v.inventory.book(w.admin, unit.key, person_id=w.client_a.key, expected_version=1)
    with pytest.raises(ConcurrencyConflict):
        v.inventory.book(w.admin, unit.key, person_id=w.client_b.key, expected_version=1)
    assert len(v.inventory.availability(w.admin, unit.key)) == 2


def test_concurrent_bookings_in_threads_one_wins(world: World) -> None:
    v, w = world.velocity, world
    unit = _unit(v, w)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def book(person_id: UUID) -> None:
        start.wait()
        try:
            v.inventory.book(w.admin, unit.key, person_id=person_id, expected_version=1)
            outcomes.append("booked")
        except ConcurrencyConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=book, args=(p,)) for p in (w.client_a.key, w.client_b.key)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["booked", "conflict"]
    stored = v.inventory.get_unit(w.admin, unit.key)
    assert (stored.status, stored.version) == (UnitStatus.BOOKED, 2)
    assert _actions(v, w, "inventory.units.book") == 1


# -- prices ------------------------------------------------------------------------------------


def test_the_current_price_is_the_latest_effective_one(world: World) -> None:
    v, clock, w = world.velocity, world.clock, world
    unit = _unit(v, w)
    now = clock.now()
    assert v.inventory.current_price(w.admin, unit.key) is None
    _price(v, w, unit, 9_000_000, now)
    assert v.inventory.get_unit(w.admin, unit.key).price_current == Decimal(9_000_000)
    future = _price(v, w, unit, 9_900_000, now + timedelta(days=30))
    assert v.inventory.get_unit(w.admin, unit.key).price_current == Decimal(9_000_000)
    back = _price(v, w, unit, 8_500_000, now - timedelta(days=10), reason="launch price")
    assert back.reason == "launch price"
    assert v.inventory.get_unit(w.admin, unit.key).price_current == Decimal(9_000_000)
    reader = w.by_role["sales_agent"]
    current = v.inventory.current_price(reader, unit.key)
    assert current is not None
    assert current.price == Decimal(9_000_000)
    earlier = v.inventory.current_price(reader, unit.key, at=now - timedelta(days=1))
    assert earlier is not None
    assert earlier.key == back.key
    later = v.inventory.current_price(reader, unit.key, at=now + timedelta(days=31))
    assert later is not None
    assert later.key == future.key
    assert v.inventory.current_price(reader, unit.key, at=now - timedelta(days=11)) is None
    clock.advance(days=31)
    current = v.inventory.current_price(reader, unit.key)
    assert current is not None
    assert current.key == future.key
    _price(v, w, unit, 9_950_000, now)
    assert v.inventory.get_unit(w.admin, unit.key).price_current == Decimal(9_900_000)
    assert _actions(v, w, "inventory.prices.change") == 4


def test_a_price_change_waits_for_approval(world: World) -> None:
    v, clock, w = world.velocity, world.clock, world
    operator = w.by_role["operator"]
    unit = _unit(v, w)
    with pytest.raises(ApprovalRequired) as caught:
        v.inventory.change_price(
            w.admin, unit.key, price=Decimal(9_000_000), effective_from=clock.now(), reason="launch"
        )
    assert caught.value.rule == "price_or_value"
    proposal = v.writebacks.get(operator, caught.value.proposal_id).writeback
    assert (proposal.status, proposal.target_table) == (
        WritebackStatus.REVIEW_REQUIRED,
        "inventory_units",
    )
    assert (proposal.target_entity_ref, proposal.base_version) == (unit.key, 1)
    assert proposal.proposer_user_id == w.admin.user_id
    v.writebacks.approve(operator, proposal.key, comment="fair price")
    # Proposed and approved, but not executed: the unit and its price history are untouched.
    assert v.inventory.get_unit(w.admin, unit.key) == unit
    assert v.inventory.current_price(w.admin, unit.key) is None
    assert _price_rows(v, unit) == 0
    assert _actions(v, w, "inventory.prices.change") == 0
    execution = v.writebacks.execute(operator, proposal.key)
    assert execution.applied
    entry = execution.row
    assert isinstance(entry, PricingHistory)
    assert (entry.price, entry.reason, entry.effective_from) == (
        Decimal(9_000_000),
        "launch",
        clock.now(),
    )
    stored = v.inventory.get_unit(w.admin, unit.key)
    assert (stored.price_current, stored.version) == (Decimal(9_000_000), 2)
    assert v.inventory.current_price(w.admin, unit.key) == entry
    assert _price_rows(v, unit) == 1
    # The unit's own price again is no money change: it goes straight on.
    again = v.inventory.change_price(
        w.admin, unit.key, price=Decimal(9_000_000), effective_from=clock.now()
    )
    assert again.price == Decimal(9_000_000)
    assert _price_rows(v, unit) == 2


def test_executing_a_price_change_twice_applies_it_once(world: World) -> None:
    v, clock, w = world.velocity, world.clock, world
    operator = w.by_role["operator"]
    unit = _unit(v, w)
    proposal_id = reviewed(
        lambda: v.inventory.change_price(
            w.admin, unit.key, price=Decimal(7_500_000), effective_from=clock.now()
        )
    )
    v.writebacks.approve(operator, proposal_id, comment="ok")
    first = v.writebacks.execute(operator, proposal_id)
    second = v.writebacks.execute(operator, proposal_id)
    assert (first.applied, second.applied) == (True, False)
    assert second.writeback.status is WritebackStatus.EXECUTED
    assert _price_rows(v, unit) == 1
    assert _actions(v, w, "inventory.prices.change") == 1
    stored = v.inventory.get_unit(w.admin, unit.key)
    assert (stored.price_current, stored.version) == (Decimal(7_500_000), 2)


@pytest.mark.parametrize("days_ahead", [0, 30])
def test_a_price_change_fails_when_the_unit_moved_on(world: World, days_ahead: int) -> None:
    """A unit changed after the proposal makes it fail, whether or not the price is in force."""
    v, clock, w = world.velocity, world.clock, world
    operator = w.by_role["operator"]
    unit = _unit(v, w)
    proposal_id = reviewed(
        lambda: v.inventory.change_price(
            w.admin,
            unit.key,
            price=Decimal(8_000_000),
            effective_from=clock.now() + timedelta(days=days_ahead),
        )
    )
    v.writebacks.approve(operator, proposal_id, comment="ok")
    moved = v.inventory.update_unit(operator, unit.key, expected_version=1, floor=7)
    with pytest.raises(WritebackFailed) as caught:
        v.writebacks.execute(operator, proposal_id)
    assert caught.value.proposal_id == proposal_id
    failed = v.writebacks.get(operator, proposal_id).writeback
    assert failed.status is WritebackStatus.FAILED
    assert failed.failure_reason is not None
    assert "concurrency_conflict" in failed.failure_reason
    assert v.inventory.get_unit(w.admin, unit.key) == moved
    assert moved.price_current is None
    assert _price_rows(v, unit) == 0
    assert _actions(v, w, "inventory.prices.change") == 0


def test_a_rejected_price_change_leaves_the_unit_untouched(world: World) -> None:
    v, clock, w = world.velocity, world.clock, world
    operator = w.by_role["operator"]
    unit = _unit(v, w)
    proposal_id = reviewed(
        lambda: v.inventory.change_price(
            w.admin, unit.key, price=Decimal(6_000_000), effective_from=clock.now()
        )
    )
    rejected = v.writebacks.reject(operator, proposal_id, comment="below the floor price")
    assert rejected.status is WritebackStatus.REJECTED
    with pytest.raises(InvalidTransition):
        v.writebacks.execute(operator, proposal_id)
    assert v.inventory.get_unit(w.admin, unit.key) == unit
    assert v.inventory.current_price(w.admin, unit.key) is None
    assert _price_rows(v, unit) == 0
    assert _actions(v, w, "inventory.prices.change") == 0


def test_a_proposed_price_is_applied_by_the_price_operation(world: World) -> None:
    """A generic proposal of ``price_current`` writes a price entry, effective when executed."""
    v, clock, w = world.velocity, world.clock, world
    operator = w.by_role["operator"]
    unit = _unit(v, w)
    proposal = v.writebacks.propose(
        w.admin,
        target_table="inventory_units",
        change_kind="update",
        target_ref=unit.key,
        base_version=1,
        fields={"price_current": "7200000"},
        context={"reason": "revised rate card"},
    )
    assert proposal.status is WritebackStatus.REVIEW_REQUIRED
    assert proposal.change_json["operation"] == "inventory.prices.change"
    v.writebacks.approve(operator, proposal.key, comment="ok")
    clock.advance(hours=1)
    entry = v.writebacks.execute(operator, proposal.key).row
    assert isinstance(entry, PricingHistory)
    assert (entry.price, entry.effective_from, entry.reason) == (
        Decimal(7_200_000),
        clock.now(),
        "revised rate card",
    )
    assert v.inventory.get_unit(w.admin, unit.key).price_current == Decimal(7_200_000)


def test_proposals_cannot_bypass_a_units_own_operations(world: World) -> None:
    v, w = world.velocity, world
    unit = _unit(v, w)
    bypasses: list[tuple[dict[str, Any], str]] = [
        ({"change_kind": "update", "target_ref": unit.key, "base_version": 1}, "fields"),
        (
            {
                "change_kind": "update",
                "target_ref": unit.key,
                "base_version": 1,
                "operation": "inventory.units.update",
            },
            "fields",
        ),
    ]
    for args, field in bypasses:
        with pytest.raises(ValidationFailed) as caught:
            v.writebacks.propose(
                w.admin, target_table="inventory_units", fields={"status": "sold"}, **args
            )
        assert caught.value.field == field
    with pytest.raises(ValidationFailed) as sold:
        v.writebacks.propose(
            w.admin,
            target_table="inventory_units",
            change_kind="create",
            fields={"project_id": unit.project_id, "unit_label": "B-1", "status": "sold"},
        )
    assert sold.value.field == "status"
    assert v.writebacks.list(w.admin).items == ()
    assert [u.key for u in v.inventory.list_units(w.admin)] == [unit.key]
    assert v.inventory.get_unit(w.admin, unit.key) == unit


def test_reviewed_project_and_unit_writes_are_applied_when_executed(world: World) -> None:
    """With a host rule reviewing every project and unit write, each goes through a proposal."""
    v, w = world.velocity, world
    operator = w.by_role["operator"]
    v.governance.policy.add(
        FieldRule(
            "inventory_reviewed",
            lambda c, p: "inventory is reviewed" if c.target_domain.value == "inventory" else None,
        )
    )
    project = release(
        v, operator, lambda: v.inventory.create_project(w.admin, project_name="Lakeview")
    )
    assert v.inventory.get_project(w.admin, project.key) == project
    changed = release(
        v,
        operator,
        lambda: v.inventory.update_project(w.admin, project.key, expected_version=1, city="Pune"),
    )
    assert (changed.city, changed.version) == ("Pune", 2)
    unit = release(
        v, operator, lambda: v.inventory.add_unit(w.admin, project.key, unit_label="L-1")
    )
    assert (unit.status, unit.project_id) == (UnitStatus.AVAILABLE, project.key)
    assert len(v.inventory.availability(w.admin, unit.key)) == 1
    moved = release(
        v, operator, lambda: v.inventory.update_unit(w.admin, unit.key, expected_version=1, floor=4)
    )
    assert (moved.floor, moved.version) == (4, 2)
    assert v.inventory.get_unit(w.admin, unit.key) == moved
    for action in (
        "inventory.projects.create",
        "inventory.projects.update",
        "inventory.units.add",
        "inventory.units.update",
    ):
        assert _actions(v, w, action) == 1, action
    with pytest.raises(ConcurrencyConflict):
        v.inventory.update_unit(w.admin, unit.key, expected_version=1, floor=5)
    assert len(v.writebacks.list(operator, status="review_required").items) == 0


# -- media and locations ----------------------------------------------------------------------


def test_media_belong_to_projects_and_units(world: World) -> None:
    v, w = world.velocity, world
    unit = _unit(v, w)
    plan = v.inventory.add_media(
        w.admin,
        unit_id=unit.key,
        project_id=unit.project_id,
        media_type="floor_plan",
        storage_uri="https://cdn.example/plan.pdf",
        caption="3BHK plan",
        sort_order=2,
    )
    hero = v.inventory.add_media(
        w.admin, project_id=unit.project_id, media_type="image", storage_uri="https://cdn.ex/a.jpg"
    )
    listed = v.inventory.list_media(w.agent_a, project_id=unit.project_id)
    assert [m.key for m in listed] == [hero.key, plan.key]
    assert [m.key for m in v.inventory.list_media(w.admin, unit_id=unit.key)] == [plan.key]
    assert len(v.inventory.list_media(w.admin, media_type="image")) == 1
    other = v.inventory.create_project(w.admin, project_name="Elsewhere")
    with pytest.raises(ValidationFailed) as err:
        v.inventory.add_media(
            w.admin,
            project_id=other.key,
            unit_id=unit.key,
            media_type="image",
            storage_uri="https://cdn.ex/b.jpg",
        )
    assert err.value.field == "unit_id"
    assert _actions(v, w, "inventory.media.add") == 2


def test_locations_are_one_row_per_project_and_searchable(world: World) -> None:
    v, w = world.velocity, world
    places = {
        "Baner Heights": (Decimal("18.5590"), Decimal("73.7868"), "Baner"),
        "Kothrud Greens": (Decimal("18.5074"), Decimal("73.8077"), "Kothrud"),
        "Hinjewadi Park": (Decimal("18.5913"), Decimal("73.7389"), "Hinjewadi"),
        "Mumbai Bay": (Decimal("19.0760"), Decimal("72.8777"), "Worli"),
    }
    ids = {}
    for name, (lat, lon, market) in places.items():
        project = v.inventory.create_project(w.admin, project_name=name, city="Pune")
        ids[name] = project.key
        v.inventory.set_location(
            w.admin, project.key, latitude=Decimal(0), longitude=Decimal(0), micro_market="X"
        )
        row = v.inventory.set_location(
            w.admin, project.key, latitude=lat, longitude=lon, micro_market=market
        )
        assert (row.version, row.city, row.latitude) == (2, "Pune", lat)
        assert row.geohash is not None
        assert len(row.geohash) == 9
    assert _actions(v, w, "inventory.locations.set") == 8
    baner = v.inventory.projects_in_micro_market(w.agent_a, "Baner")
    assert [p.key for p in baner] == [ids["Baner Heights"]]
    assert len(v.inventory.projects_in_micro_market(w.admin, "X")) == 0
    # From Shivajinagar, Pune: Kothrud ~5 km, Baner ~8 km, Hinjewadi ~15 km, Mumbai ~120 km.
    near = v.inventory.projects_near(w.agent_b, 18.5308, 73.8475, 10)
    assert [n.project.project_name for n in near] == ["Kothrud Greens", "Baner Heights"]
    assert near[0].distance_km < near[1].distance_km < 10
    wide = v.inventory.projects_near(w.admin, Decimal("18.5308"), Decimal("73.8475"), 200)
    assert [n.project.project_name for n in wide][-1] == "Mumbai Bay"
    assert len(v.inventory.projects_near(w.admin, 18.5308, 73.8475, 200, limit=2)) == 2


def test_near_search_wraps_the_antimeridian(world: World) -> None:
    v, w = world.velocity, world
    fiji = v.inventory.create_project(w.admin, project_name="Fiji")
    v.inventory.set_location(w.admin, fiji.key, latitude=Decimal(-17), longitude=Decimal("179.9"))
    near = v.inventory.projects_near(w.admin, -17.0, -179.9, 50)
    assert [n.project.key for n in near] == [fiji.key]
    assert near[0].distance_km == pytest.approx(21.3, abs=0.1)


def test_near_search_matches_a_brute_force_scan(world: World) -> None:
    """The bounding-box prefilter never loses a project, at the poles and the date line too."""
    v, w = world.velocity, world
    rng = random.Random(6)
    pins: dict[UUID, tuple[float, float]] = {}
    for i in range(40):
        lat = round(rng.uniform(-89.9, 89.9), 4) if i % 4 else round(rng.uniform(84, 89.9), 4)
        lon = round(rng.uniform(-180, 180), 4)
        project = v.inventory.create_project(w.admin, project_name=f"P{i}")
        v.inventory.set_location(w.admin, project.key, latitude=lat, longitude=lon)
        pins[project.key] = (lat, lon)
    probes = [
        (88.0, 0.0, 800.0),
        (-10.0, 179.5, 3000.0),
        (0.0, -179.9, 6000.0),
        (45.0, 90.0, 9000.0),
    ]
    hits = 0
    for lat, lon, radius in probes:
        found = v.inventory.projects_near(w.admin, lat, lon, radius, limit=500)
        expected = sorted(
            (haversine_km(lat, lon, *pin), key)
            for key, pin in pins.items()
            if haversine_km(lat, lon, *pin) <= radius
        )
        assert [n.project.key for n in found] == [key for _, key in expected]
        hits += len(found)
    assert hits >= 10


# -- bad input --------------------------------------------------------------------------------

NOW = datetime(2030, 1, 1, tzinfo=UTC)
Call = Callable[[Velocity, World, Unit], Any]

BAD_INPUT: list[tuple[str, Call, str]] = [
    (
        "project name wrong type",
        lambda v, w, u: v.inventory.create_project(w.admin, project_name=7),
        "project_name",
    ),
    (
        "project name empty",
        lambda v, w, u: v.inventory.create_project(w.admin, project_name=" "),
        "project_name",
    ),
    (
        "project name oversized",
        lambda v, w, u: v.inventory.create_project(w.admin, project_name="x" * 201),
        "project_name",
    ),
    (
        "project name control char",
        lambda v, w, u: v.inventory.create_project(w.admin, project_name="a\x00b"),
        "project_name",
    ),
    (
        "project unknown field",
        lambda v, w, u: v.inventory.create_project(w.admin, project_name="P", colour="red"),
        "colour",
    ),
    (
        "project bad status",
        lambda v, w, u: v.inventory.create_project(w.admin, project_name="P", status="sold"),
        "status",
    ),
    (
        "project unknown developer",
        lambda v, w, u: v.inventory.create_project(
            w.admin, project_name="P", developer_account_id=uuid4()
        ),
        "developer_account_id",
    ),
    (
        "project possession before launch",
        lambda v, w, u: v.inventory.create_project(
            w.admin,
            project_name="P",
            launch_date=NOW.date(),
            possession_date=NOW.date() - timedelta(days=1),
        ),
        "possession_date",
    ),
    (
        "update project key",
        lambda v, w, u: v.inventory.update_project(
            w.admin, u.project_id, expected_version=1, project_id=uuid4()
        ),
        "project_id",
    ),
    (
        "update project version type",
        lambda v, w, u: v.inventory.update_project(
            w.admin, u.project_id, expected_version="1", city="X"
        ),
        "expected_version",
    ),
    (
        "list projects bad status",
        lambda v, w, u: v.inventory.list_projects(w.admin, status="gone"),
        "status",
    ),
    (
        "list projects bad limit",
        lambda v, w, u: v.inventory.list_projects(w.admin, limit=0),
        "limit",
    ),
    (
        "unit label empty",
        lambda v, w, u: v.inventory.add_unit(w.admin, u.project_id, unit_label=""),
        "unit_label",
    ),
    (
        "unit label duplicate",
        lambda v, w, u: v.inventory.add_unit(w.admin, u.project_id, unit_label=u.unit_label),
        "unit_label",
    ),
    (
        "unit area impossible",
        lambda v, w, u: v.inventory.add_unit(w.admin, u.project_id, unit_label="Z", area_sqft=0),
        "area_sqft",
    ),
    (
        "unit floor impossible",
        lambda v, w, u: v.inventory.add_unit(w.admin, u.project_id, unit_label="Z", floor=900),
        "floor",
    ),
    (
        "unit floor wrong type",
        lambda v, w, u: v.inventory.add_unit(w.admin, u.project_id, unit_label="Z", floor="3"),
        "floor",
    ),
    (
        "unit added with a status",
        lambda v, w, u: v.inventory.add_unit(w.admin, u.project_id, unit_label="Z", status="sold"),
        "status",
    ),
    (
        "unit project id wrong type",
        lambda v, w, u: v.inventory.add_unit(w.admin, "p", unit_label="Z"),
        "project_id",
    ),
    (
        "update unit price",
        lambda v, w, u: v.inventory.update_unit(
            w.admin, u.key, expected_version=1, price_current=Decimal(1)
        ),
        "price_current",
    ),
    (
        "update unit version zero",
        lambda v, w, u: v.inventory.update_unit(w.admin, u.key, expected_version=0, floor=1),
        "expected_version",
    ),
    (
        "list units bad status",
        lambda v, w, u: v.inventory.list_units(w.admin, status="free"),
        "status",
    ),
    (
        "hold naive until",
        lambda v, w, u: v.inventory.hold(
            w.admin, u.key, person_id=w.client_a.key, until=datetime(2030, 1, 1), expected_version=1
        ),
        "until",
    ),
    (
        "hold until in the past",
        lambda v, w, u: v.inventory.hold(
            w.admin,
            u.key,
            person_id=w.client_a.key,
            until=datetime(2020, 1, 1, tzinfo=UTC),
            expected_version=1,
        ),
        "until",
    ),
    (
        "hold unknown person",
        lambda v, w, u: v.inventory.hold(
            w.admin, u.key, person_id=uuid4(), until=NOW, expected_version=1
        ),
        "person_id",
    ),
    (
        "hold person wrong type",
        lambda v, w, u: v.inventory.hold(
            w.admin, u.key, person_id="asha", until=NOW, expected_version=1
        ),
        "person_id",
    ),
    (
        "hold reason control char",
        lambda v, w, u: v.inventory.hold(
            w.admin, u.key, person_id=w.client_a.key, until=NOW, expected_version=1, reason="a\x07"
        ),
        "reason",
    ),
    (
        "book unit id wrong type",
        lambda v, w, u: v.inventory.book(
            w.admin, str(u.key), person_id=w.client_a.key, expected_version=1
        ),
        "unit_id",
    ),
    (
        "book version bool",
        lambda v, w, u: v.inventory.book(
            w.admin, u.key, person_id=w.client_a.key, expected_version=True
        ),
        "expected_version",
    ),
    (
        "block reason oversized",
        lambda v, w, u: v.inventory.block(w.admin, u.key, expected_version=1, reason="r" * 501),
        "reason",
    ),
    (
        "price negative",
        lambda v, w, u: v.inventory.change_price(
            w.admin, u.key, price=Decimal(-1), effective_from=NOW
        ),
        "price",
    ),
    (
        "price float",
        lambda v, w, u: v.inventory.change_price(w.admin, u.key, price=1.5, effective_from=NOW),
        "price",
    ),
    (
        "price naive time",
        lambda v, w, u: v.inventory.change_price(
            w.admin, u.key, price=Decimal(1), effective_from=datetime(2030, 1, 1)
        ),
        "effective_from",
    ),
    (
        "current price naive at",
        lambda v, w, u: v.inventory.current_price(w.admin, u.key, at=datetime(2030, 1, 1)),
        "at",
    ),
    (
        "media without owner",
        lambda v, w, u: v.inventory.add_media(
            w.admin, media_type="image", storage_uri="https://x.example/a"
        ),
        "project_id",
    ),
    (
        "media bad type",
        lambda v, w, u: v.inventory.add_media(
            w.admin, project_id=u.project_id, media_type="gif", storage_uri="https://x.example/a"
        ),
        "media_type",
    ),
    (
        "media bad uri",
        lambda v, w, u: v.inventory.add_media(
            w.admin, project_id=u.project_id, media_type="image", storage_uri="not a url"
        ),
        "storage_uri",
    ),
    (
        "media unknown project",
        lambda v, w, u: v.inventory.add_media(
            w.admin, project_id=uuid4(), media_type="image", storage_uri="https://x.example/a"
        ),
        "project_id",
    ),
    (
        "media unknown blob",
        lambda v, w, u: v.inventory.add_media(
            w.admin,
            project_id=u.project_id,
            media_type="image",
            storage_uri="https://x.example/a",
            blob_id=uuid4(),
        ),
        "blob_id",
    ),
    (
        "media caption oversized",
        lambda v, w, u: v.inventory.add_media(
            w.admin,
            project_id=u.project_id,
            media_type="image",
            storage_uri="https://x.example/a",
            caption="c" * 501,
        ),
        "caption",
    ),
    (
        "location latitude impossible",
        lambda v, w, u: v.inventory.set_location(
            w.admin, u.project_id, latitude=Decimal(91), longitude=Decimal(0)
        ),
        "latitude",
    ),
    (
        "location longitude wrong type",
        lambda v, w, u: v.inventory.set_location(
            w.admin, u.project_id, latitude=Decimal(1), longitude="east"
        ),
        "longitude",
    ),
    (
        "location locality control char",
        lambda v, w, u: v.inventory.set_location(
            w.admin, u.project_id, latitude=1, longitude=1, locality="a\x1bb"
        ),
        "locality",
    ),
    (
        "micro market empty",
        lambda v, w, u: v.inventory.projects_in_micro_market(w.admin, ""),
        "micro_market",
    ),
    (
        "near nan latitude",
        lambda v, w, u: v.inventory.projects_near(w.admin, float("nan"), 0, 1),
        "latitude",
    ),
    (
        "near negative radius",
        lambda v, w, u: v.inventory.projects_near(w.admin, 0, 0, -1),
        "radius_km",
    ),
    ("near zero radius", lambda v, w, u: v.inventory.projects_near(w.admin, 0, 0, 0), "radius_km"),
    (
        "near bool longitude",
        lambda v, w, u: v.inventory.projects_near(w.admin, 0, True, 1),
        "longitude",
    ),
    (
        "near bad limit",
        lambda v, w, u: v.inventory.projects_near(w.admin, 0, 0, 1, limit=501),
        "limit",
    ),
]


_AREAS = {
    "projects": ("project", "update project", "list projects"),
    "units": ("unit", "update unit", "list units"),
    "status": ("hold", "book", "release", "sell", "block", "unblock"),
    "prices": ("price", "current price"),
    "media": ("media",),
    "locations": ("location", "micro market", "near"),
}


def _area(case: str) -> str:
    """The area of a bad-input case: the one whose longest prefix matches its name."""
    best = max(
        (
            (len(prefix), area)
            for area, prefixes in _AREAS.items()
            for prefix in prefixes
            if case.startswith(prefix + " ")
        ),
    )
    return best[1]


@pytest.mark.parametrize("area", sorted(_AREAS))
def test_bad_input_names_the_field(world: World, area: str) -> None:
    """Each row of BAD_INPUT (one store and world per area, to keep the run short)."""
    v, clock, w = world.velocity, world.clock, world
    clock.set(datetime(2029, 12, 31, tzinfo=UTC))
    unit = _unit(v, w)
    cases = [(case, call, field) for case, call, field in BAD_INPUT if _area(case) == area]
    assert cases
    wrong: list[str] = []
    for case, call, field in cases:
        try:
            call(v, w, unit)
            wrong.append(f"{case}: accepted")
        except ValidationFailed as err:
            if err.field != field:
                wrong.append(f"{case}: field {err.field!r}, expected {field!r} ({err})")
    assert wrong == []
    assert v.inventory.get_unit(w.admin, unit.key) == unit


def test_every_bad_input_case_has_an_area() -> None:
    assert all(_area(case) for case, _, _ in BAD_INPUT)


UNKNOWN: list[tuple[str, Call]] = [
    ("get project", lambda v, w, u: v.inventory.get_project(w.admin, uuid4())),
    (
        "update project",
        lambda v, w, u: v.inventory.update_project(w.admin, uuid4(), expected_version=1, city="X"),
    ),
    ("add unit", lambda v, w, u: v.inventory.add_unit(w.admin, uuid4(), unit_label="Z")),
    ("get unit", lambda v, w, u: v.inventory.get_unit(w.admin, uuid4())),
    ("list units", lambda v, w, u: v.inventory.list_units(w.admin, project_id=uuid4())),
    (
        "book",
        lambda v, w, u: v.inventory.book(
            w.admin, uuid4(), person_id=w.client_a.key, expected_version=1
        ),
    ),
    (
        "change price",
        lambda v, w, u: v.inventory.change_price(
            w.admin, uuid4(), price=Decimal(1), effective_from=NOW
        ),
    ),
    ("current price", lambda v, w, u: v.inventory.current_price(w.admin, uuid4())),
    ("availability", lambda v, w, u: v.inventory.availability(w.admin, uuid4())),
    ("list media", lambda v, w, u: v.inventory.list_media(w.admin, unit_id=uuid4())),
    (
        "set location",
        lambda v, w, u: v.inventory.set_location(w.admin, uuid4(), latitude=1, longitude=1),
    ),
]


def test_unknown_ids_are_not_found(world: World) -> None:
    v, w = world.velocity, world
    unit = _unit(v, w)
    wrong: list[str] = []
    for case, call in UNKNOWN:
        try:
            call(v, w, unit)
            wrong.append(f"{case}: accepted")
        except NotFound:
            pass
    assert wrong == []


def test_refused_writes_leave_no_trace(world: World) -> None:
    v, w = world.velocity, world
    unit = _unit(v, w)
    with pytest.raises(VelocityError):
        v.inventory.hold(w.admin, unit.key, person_id=uuid4(), until=NOW, expected_version=1)
    assert v.inventory.get_unit(w.admin, unit.key).version == 1
    assert len(v.inventory.availability(w.admin, unit.key)) == 1
    assert _actions(v, w, "inventory.units.hold") == 0
