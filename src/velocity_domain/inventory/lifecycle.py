"""The unit status lifecycle: which status a unit may move to, and when.

A unit is ``available`` until it is held for a buyer, booked or blocked
(taken off sale). A hold ends by a release (``available``) or a booking; a
booking by a release or a sale; a block by an unblock. ``sold`` is terminal.

A hold has an expiry, and the table alone does not say everything a live
hold forbids. While a hold is live the unit can only be released or booked
for the person it is held for; once it has lapsed the unit is as good as
available again: it may be held anew (``held -> held``), booked for anyone
or blocked. :func:`check_move` applies the table and these rules together,
and refuses a move with ``InvalidTransition`` naming the status, the target,
the moves allowed now and why.

>>> UNIT_STATUS.allowed(UnitStatus.BOOKED) == {UnitStatus.AVAILABLE, UnitStatus.SOLD}
True
>>> UNIT_STATUS.transition(UnitStatus.SOLD, UnitStatus.AVAILABLE)
Traceback (most recent call last):
...
velocity_domain.errors.InvalidTransition: unit status: cannot move from sold to available; ...
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from velocity_domain.errors import InvalidTransition
from velocity_domain.inventory.entities import Unit, UnitStatus
from velocity_domain.kernel.lifecycle import Lifecycle

__all__ = ["UNIT_STATUS", "allowed_now", "check_move", "hold_lapsed"]

_U = UnitStatus

#: Every move a unit's status may ever make (a live hold narrows it: see :func:`allowed_now`).
UNIT_STATUS: Lifecycle[UnitStatus] = Lifecycle(
    "unit status",
    {
        _U.AVAILABLE: {_U.HELD, _U.BOOKED, _U.BLOCKED},
        _U.HELD: {_U.HELD, _U.AVAILABLE, _U.BOOKED, _U.BLOCKED},
        _U.BOOKED: {_U.AVAILABLE, _U.SOLD},
        _U.BLOCKED: {_U.AVAILABLE},
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


def check_move(
    unit: Unit, target: UnitStatus, now: datetime, person_id: UUID | None = None
) -> UnitStatus:
    """Return ``target`` if ``unit`` may move there now, else raise ``InvalidTransition``.

    ``person_id`` is whom the move is for (the buyer of a hold or booking).
    The error names the status, the target, the moves allowed now and, for
    a live hold or a second booking, why.
    """
    allowed = allowed_now(unit, now, person_id)
    if target in allowed:
        return target
    reason = None
    if target is _U.BOOKED and unit.status in (_U.BOOKED, _U.SOLD):
        reason = f"double-booking refused: the unit is already {unit.status.value}"
    elif unit.status is _U.HELD and unit.hold_expires_at is not None:
        until = unit.hold_expires_at.isoformat()
        mine = person_id is not None and unit.held_for_person_id == person_id
        whom = "this person" if mine else "another person"
        reason = f"held for {whom} until {until}"
        if target is _U.BOOKED:
            reason = f"double-booking refused: {reason}"
    raise InvalidTransition(UNIT_STATUS.name, unit.status, target, allowed, reason=reason)
