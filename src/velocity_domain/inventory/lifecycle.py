"""The unit status lifecycle: which operation moves a unit from which status to which.

A unit is ``available`` until it is held for a buyer, booked or blocked
(taken off sale). A hold ends by a release (``available``) or a booking; a
booking by a release or a sale; a block by an unblock. ``sold`` is terminal.
:data:`MOVES` is the table of the six status operations (the statuses each
starts from, the one it reaches); :data:`UNIT_STATUS` is the lifecycle they
make together.

A hold has an expiry, and the table alone does not say everything a live
hold forbids. While a hold is live the unit can only be released or booked
for the person it is held for; once it has lapsed the unit is as good as
available again: it may be held anew (``held -> held``), booked for anyone
or blocked. :func:`check_move` applies the table and these rules together,
and refuses a move with ``InvalidTransition`` naming the status, the target,
the statuses reachable now and why.

>>> UNIT_STATUS.allowed(UnitStatus.BOOKED) == {UnitStatus.AVAILABLE, UnitStatus.SOLD}
True
>>> UNIT_STATUS.transition(UnitStatus.SOLD, UnitStatus.AVAILABLE)
Traceback (most recent call last):
...
velocity_domain.errors.InvalidTransition: unit status: cannot move from sold to available; ...
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

import attrs

from velocity_domain.errors import InvalidTransition
from velocity_domain.inventory.entities import Unit, UnitStatus
from velocity_domain.kernel.lifecycle import Lifecycle

__all__ = ["MOVES", "UNIT_STATUS", "UnitMove", "allowed_now", "check_move", "hold_lapsed"]

_U = UnitStatus


@attrs.frozen
class UnitMove:
    """One status operation: the statuses it starts from and the status it reaches."""

    name: str
    sources: frozenset[UnitStatus]
    target: UnitStatus


#: The status operations. A hold, a booking or a block starting from ``held``
#: needs the hold to have lapsed (or, for a booking, to be the buyer's own).
MOVES: Mapping[str, UnitMove] = {
    move.name: move
    for move in (
        UnitMove("hold", frozenset({_U.AVAILABLE, _U.HELD}), _U.HELD),
        UnitMove("book", frozenset({_U.AVAILABLE, _U.HELD}), _U.BOOKED),
        UnitMove("release", frozenset({_U.HELD, _U.BOOKED}), _U.AVAILABLE),
        UnitMove("mark_sold", frozenset({_U.BOOKED}), _U.SOLD),
        UnitMove("block", frozenset({_U.AVAILABLE, _U.HELD}), _U.BLOCKED),
        UnitMove("unblock", frozenset({_U.BLOCKED}), _U.AVAILABLE),
    )
}

#: Every move a unit's status may ever make (a live hold narrows it: see :func:`allowed_now`).
UNIT_STATUS: Lifecycle[UnitStatus] = Lifecycle(
    "unit status",
    {
        status: {move.target for move in MOVES.values() if status in move.sources}
        for status in UnitStatus
    },
)


def hold_lapsed(unit: Unit, now: datetime) -> bool:
    """Say whether ``unit`` is held and its hold expired at or before ``now``."""
    expires = unit.hold_expires_at
    return unit.status is _U.HELD and expires is not None and expires <= now


def allowed_now(unit: Unit, now: datetime, person_id: UUID | None = None) -> frozenset[UnitStatus]:
    """The statuses ``unit`` may move to at ``now``, for a move made for ``person_id``.

    A live hold allows only a release, and a booking for the person it is
    held for; everything else follows :data:`UNIT_STATUS`.
    """
    allowed = UNIT_STATUS.allowed(unit.status)
    if unit.status is not _U.HELD or hold_lapsed(unit, now):
        return allowed
    if person_id is not None and unit.held_for_person_id == person_id:
        return frozenset({_U.AVAILABLE, _U.BOOKED})
    return frozenset({_U.AVAILABLE})


def check_move(unit: Unit, move: str, now: datetime, person_id: UUID | None = None) -> UnitStatus:
    """Return the status ``move`` takes ``unit`` to now, or raise ``InvalidTransition``.

    ``move`` names a row of :data:`MOVES`; ``person_id`` is whom the move is
    for (the buyer of a hold or a booking). The error names the status, the
    target, the statuses reachable now and, when the table alone does not
    say it, why (a live hold, a second booking, an operation that does not
    start from this status).
    """
    step = MOVES[move]
    allowed = allowed_now(unit, now, person_id)
    if unit.status in step.sources and step.target in allowed:
        return step.target
    reason = None
    if step.target is _U.BOOKED and unit.status in (_U.BOOKED, _U.SOLD):
        reason = f"double-booking refused: the unit is already {unit.status.value}"
    elif unit.status is _U.HELD and unit.hold_expires_at is not None and step.target not in allowed:
        until = unit.hold_expires_at.isoformat()
        mine = person_id is not None and unit.held_for_person_id == person_id
        reason = f"held for {'this' if mine else 'another'} person until {until}"
        if step.target is _U.BOOKED:
            reason = f"double-booking refused: {reason}"
    elif step.target in allowed:
        starts = ", ".join(sorted(s.value for s in step.sources))
        reason = f"{step.name} starts only from {starts}"
    raise InvalidTransition(UNIT_STATUS.name, unit.status, step.target, allowed, reason=reason)
