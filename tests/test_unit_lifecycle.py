"""The unit status lifecycle: its table, the rules of a live hold, and the service on both stores.

1. The transition table, checked against a literal one written here.
2. :func:`check_move` for random units (any status, a hold live or lapsed,
   for the buyer or someone else) against a small model of those rules.
3. Every status operation of ``velocity.inventory`` from every status, on
   both stores: the allowed ones move the unit, the others raise
   ``InvalidTransition`` and change nothing (no new version, availability
   row or audit event).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.errors import Conflict, InvalidTransition
from velocity_domain.inventory.entities import Unit, UnitStatus
from velocity_domain.inventory.lifecycle import MOVES, UNIT_STATUS, allowed_now, check_move

# --- 1. the table -----------------------------------------------------------------------------

#: Each operation: the statuses it starts from and the one it reaches (from the docs).
OPERATIONS: dict[str, tuple[set[str], str]] = {
    "hold": ({"available", "held"}, "held"),
    "book": ({"available", "held"}, "booked"),
    "release": ({"held", "booked"}, "available"),
    "mark_sold": ({"booked"}, "sold"),
    "block": ({"available", "held"}, "blocked"),
    "unblock": ({"blocked"}, "available"),
}
TABLE: dict[str, set[str]] = {
    "available": {"held", "booked", "blocked"},
    "held": {"held", "available", "booked", "blocked"},
    "booked": {"available", "sold"},
    "blocked": {"available"},
    "sold": set(),
}


def test_the_unit_status_tables_are_the_documented_ones() -> None:
    moves = {m.name: ({s.value for s in m.sources}, m.target.value) for m in MOVES.values()}
    assert moves == OPERATIONS
    edges = {s.value: {t.value for t in targets} for s, targets in UNIT_STATUS.edges.items()}
    assert edges == TABLE
    assert UNIT_STATUS.is_terminal(UnitStatus.SOLD)


# --- 2. check_move against a model ---------------------------------------------------------------

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
BUYER, OTHER = UUID(int=1), UUID(int=2)


def _reachable(status: str, lapsed: bool, holder: UUID | None, buyer: UUID | None) -> set[str]:
    """What a move may reach now: the table, narrowed by a live hold."""
    if status != "held" or lapsed:
        return TABLE[status]
    return {"available", "booked"} if buyer is not None and holder == buyer else {"available"}


@given(
    status=st.sampled_from(list(UnitStatus)),
    lapsed=st.booleans(),
    holder=st.sampled_from([BUYER, OTHER, None]),
    buyer=st.sampled_from([BUYER, OTHER, None]),
    move=st.sampled_from(sorted(OPERATIONS)),
)
def test_check_move_follows_the_table_and_the_hold(
    status: UnitStatus, lapsed: bool, holder: UUID | None, buyer: UUID | None, move: str
) -> None:
    held = status is UnitStatus.HELD
    expires = NOW - timedelta(minutes=1) if lapsed else NOW + timedelta(hours=1)
    unit = Unit(
        project_id=uuid4(),
        unit_label="A-1",
        status=status,
        hold_expires_at=expires if held else None,
        held_for_person_id=holder if held else None,
    )
    reachable = _reachable(status.value, lapsed, holder if held else None, buyer)
    assert {s.value for s in allowed_now(unit, NOW, buyer)} == reachable
    sources, target = OPERATIONS[move]
    if status.value in sources and target in reachable:
        assert check_move(unit, move, NOW, buyer).value == target
        return
    with pytest.raises(InvalidTransition) as err:
        check_move(unit, move, NOW, buyer)
    assert (err.value.current, err.value.target) == (status, UnitStatus(target))
    assert set(err.value.allowed) == reachable
    assert isinstance(err.value, Conflict)
    if target in reachable:
        assert err.value.reason == f"{move} starts only from {', '.join(sorted(sources))}"
    if held and not lapsed and target not in reachable:
        assert err.value.reason is not None
        assert "held for" in err.value.reason
        assert str(holder) not in str(err.value)


# --- 3. the service, every operation from every status, on both stores --------------------------

Op = Callable[[Velocity, World, Unit], Unit]


def _hold(who: str) -> Op:
    def run(v: Velocity, w: World, u: Unit) -> Unit:
        person = w.client_a if who == "a" else w.client_b
        until = v.clock.now() + timedelta(hours=1)
        return v.inventory.hold(
            w.admin, u.key, person_id=person.key, until=until, expected_version=u.version
        )

    return run


def _book(who: str) -> Op:
    def run(v: Velocity, w: World, u: Unit) -> Unit:
        person = w.client_a if who == "a" else w.client_b
        return v.inventory.book(w.admin, u.key, person_id=person.key, expected_version=u.version)

    return run


OPS: dict[str, Op] = {
    "hold_a": _hold("a"),
    "hold_b": _hold("b"),
    "book_a": _book("a"),
    "book_b": _book("b"),
    "release": lambda v, w, u: v.inventory.release(w.admin, u.key, expected_version=u.version),
    "sell": lambda v, w, u: v.inventory.mark_sold(w.admin, u.key, expected_version=u.version),
    "block": lambda v, w, u: v.inventory.block(w.admin, u.key, expected_version=u.version),
    "unblock": lambda v, w, u: v.inventory.unblock(w.admin, u.key, expected_version=u.version),
}

#: How to reach each starting state from a new unit, and when time passes (a lapsed hold).
SETUP: dict[str, tuple[tuple[str, ...], bool]] = {
    "available": ((), False),
    "held for a": (("hold_a",), False),
    "hold of a lapsed": (("hold_a",), True),
    "booked for a": (("book_a",), False),
    "sold": (("book_a", "sell"), False),
    "blocked": (("block",), False),
}

#: The status each operation reaches from each starting state; missing: refused.
OUTCOMES: dict[str, dict[str, str]] = {
    "available": {"hold_a": "held", "hold_b": "held", "book_a": "booked", "book_b": "booked"}
    | {"block": "blocked"},
    "held for a": {"book_a": "booked", "release": "available"},
    "hold of a lapsed": {"hold_a": "held", "hold_b": "held", "book_a": "booked"}
    | {"book_b": "booked", "release": "available", "block": "blocked"},
    "booked for a": {"release": "available", "sell": "sold"},
    "sold": {},
    "blocked": {"unblock": "available"},
}


def _histories(v: Velocity, w: World, unit: Unit) -> tuple[int, int]:
    rows = len(v.inventory.availability(w.admin, unit.key, limit=200))
    events = len(v.audit.list(w.admin, target_ref=unit.key, limit=200).items)
    return rows, events


@pytest.mark.parametrize("start", sorted(SETUP))
def test_every_status_operation_from_every_status(world: World, start: str) -> None:
    v, clock, w = world.velocity, world.clock, world
    project = v.inventory.create_project(w.admin, project_name="Skyline")
    wrong: list[str] = []
    for index, (name, op) in enumerate(sorted(OPS.items())):
        unit = v.inventory.add_unit(w.admin, project.key, unit_label=f"{start}-{index}")
        steps, lapse = SETUP[start]
        for step in steps:
            unit = OPS[step](v, w, unit)
        if lapse:
            clock.advance(hours=2)
        before = _histories(v, w, unit)
        expected = OUTCOMES[start].get(name)
        try:
            after = op(v, w, unit)
        except InvalidTransition as err:
            if expected is not None:
                wrong.append(f"{name}: refused ({err}), expected {expected}")
            elif v.inventory.get_unit(w.admin, unit.key) != unit:
                wrong.append(f"{name}: refused but the unit changed")
            elif _histories(v, w, unit) != before:
                wrong.append(f"{name}: refused but history was written")
            continue
        if after.status.value != expected:
            wrong.append(f"{name}: reached {after.status.value}, expected {expected or 'refusal'}")
        elif (after.version, _histories(v, w, unit)) != (
            unit.version + 1,
            (before[0] + 1, before[1] + 1),
        ):
            wrong.append(f"{name}: moved without one new version, availability row and event")
    assert wrong == []
