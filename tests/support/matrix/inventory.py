"""Matrix rows of the inventory route family (issue 6): reads for all, writes for operators."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

from tests.support.governance import reviewed
from tests.support.matrix import ALL_ROLES, Row

WRITERS = frozenset({"admin", "operator"})
_serial = itertools.count()


def _project(v: Any, w: Any) -> Any:
    return v.inventory.create_project(w.admin, project_name=f"Matrix Heights {next(_serial)}")


def _unit(v: Any, w: Any) -> Any:
    return v.inventory.add_unit(w.admin, _project(v, w).key, unit_label="A-101")


def _until(v: Any) -> Any:
    return v.clock.now() + timedelta(days=2)


def _held(v: Any, w: Any) -> Any:
    unit = _unit(v, w)
    return v.inventory.hold(
        w.admin, unit.key, person_id=w.client_a.key, until=_until(v), expected_version=1
    )


def _booked(v: Any, w: Any) -> Any:
    unit = _unit(v, w)
    return v.inventory.book(w.admin, unit.key, person_id=w.client_a.key, expected_version=1)


def _blocked(v: Any, w: Any) -> Any:
    return v.inventory.block(w.admin, _unit(v, w).key, expected_version=1)


ROWS: dict[str, Row] = {
    "inventory.projects.create": Row(
        WRITERS, lambda v, w, p: v.inventory.create_project(p, project_name="New Launch")
    ),
    "inventory.projects.update": Row(
        WRITERS,
        lambda v, w, p: v.inventory.update_project(
            p, _project(v, w).key, expected_version=1, city="Pune"
        ),
    ),
    "inventory.projects.get": Row(
        ALL_ROLES, lambda v, w, p: v.inventory.get_project(p, _project(v, w).key)
    ),
    "inventory.projects.list": Row(ALL_ROLES, lambda v, w, p: v.inventory.list_projects(p)),
    "inventory.units.add": Row(
        WRITERS, lambda v, w, p: v.inventory.add_unit(p, _project(v, w).key, unit_label="B-1")
    ),
    "inventory.units.update": Row(
        WRITERS,
        lambda v, w, p: v.inventory.update_unit(p, _unit(v, w).key, expected_version=1, floor=3),
    ),
    "inventory.units.get": Row(ALL_ROLES, lambda v, w, p: v.inventory.get_unit(p, _unit(v, w).key)),
    "inventory.units.list": Row(ALL_ROLES, lambda v, w, p: v.inventory.list_units(p)),
    "inventory.units.hold": Row(
        WRITERS,
        lambda v, w, p: v.inventory.hold(
            p, _unit(v, w).key, person_id=w.client_a.key, until=_until(v), expected_version=1
        ),
    ),
    "inventory.units.book": Row(
        WRITERS,
        lambda v, w, p: v.inventory.book(
            p, _unit(v, w).key, person_id=w.client_a.key, expected_version=1
        ),
        "a unit booked, sold or held for someone else is refused (no double-booking)",
    ),
    "inventory.units.release": Row(
        WRITERS,
        lambda v, w, p: v.inventory.release(p, _held(v, w).key, expected_version=2),
    ),
    "inventory.units.mark_sold": Row(
        WRITERS,
        lambda v, w, p: v.inventory.mark_sold(p, _booked(v, w).key, expected_version=2),
    ),
    "inventory.units.block": Row(
        WRITERS, lambda v, w, p: v.inventory.block(p, _unit(v, w).key, expected_version=1)
    ),
    "inventory.units.unblock": Row(
        WRITERS, lambda v, w, p: v.inventory.unblock(p, _blocked(v, w).key, expected_version=2)
    ),
    "inventory.availability.list": Row(
        ALL_ROLES, lambda v, w, p: v.inventory.availability(p, _unit(v, w).key)
    ),
    "inventory.prices.change": Row(
        WRITERS,
        lambda v, w, p: reviewed(
            lambda: v.inventory.change_price(
                p, _unit(v, w).key, price=Decimal("9500000"), effective_from=v.clock.now()
            )
        ),
        "a new price is a money change: it is stored for an operator's approval",
    ),
    "inventory.prices.current": Row(
        ALL_ROLES, lambda v, w, p: v.inventory.current_price(p, _unit(v, w).key)
    ),
    "inventory.media.add": Row(
        WRITERS,
        lambda v, w, p: v.inventory.add_media(
            p,
            project_id=_project(v, w).key,
            media_type="brochure",
            storage_uri="https://cdn.example/brochure.pdf",
        ),
    ),
    "inventory.media.list": Row(
        ALL_ROLES, lambda v, w, p: v.inventory.list_media(p, project_id=_project(v, w).key)
    ),
    "inventory.locations.set": Row(
        WRITERS,
        lambda v, w, p: v.inventory.set_location(
            p, _project(v, w).key, latitude=Decimal("18.5204"), longitude=Decimal("73.8567")
        ),
    ),
    "inventory.locations.in_micro_market": Row(
        ALL_ROLES, lambda v, w, p: v.inventory.projects_in_micro_market(p, "Baner")
    ),
    "inventory.locations.near": Row(
        ALL_ROLES, lambda v, w, p: v.inventory.projects_near(p, 18.52, 73.85, 5)
    ),
}
