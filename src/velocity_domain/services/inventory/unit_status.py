"""Unit status changes and prices: holds, bookings, releases, sales, blocks, price history.

:class:`UnitStatusService` carries out the status methods of
``velocity.inventory``: each is one move along the unit status lifecycle
(:mod:`velocity_domain.inventory.lifecycle`, which refuses an illegal move
with ``InvalidTransition``), guarded by the caller's ``expected_version``,
and appends an ``inventory_availability`` row in the same transaction, so two
bookings of one unit based on the same version cannot both succeed.

A price change passes the writeback policy: a new price is a change of the
money field ``price_current``, which the default policy sends to review (rule
``price_or_value``); the call then stores a proposal and raises
``ApprovalRequired``, and the approved writeback's execution writes the price
history row and ``price_current`` exactly as a direct change would. Recording
the price the unit already has changes no money and goes straight on.

The status changes (hold, book, release, mark_sold, block, unblock) are not
gated by the policy: a booking must take effect at once or be refused, and
its own concurrency rule (the caller's ``expected_version``) already keeps
two of them on one unit from both succeeding.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import attrs

from velocity_domain.access.operations import Operation, register
from velocity_domain.access.principal import Principal
from velocity_domain.crm.entities import Person
from velocity_domain.errors import ConcurrencyConflict, ValidationFailed
from velocity_domain.governance.change import ProposedChange, plain_values
from velocity_domain.governance.service import GovernedUpdate, Service, serves
from velocity_domain.inventory.entities import (
    Availability,
    PricingHistory,
    Unit,
    UnitStatus,
)
from velocity_domain.inventory.lifecycle import MOVES, check_move
from velocity_domain.kernel.arguments import Version
from velocity_domain.kernel.clock import Clock, ensure_utc
from velocity_domain.kernel.convert import converter
from velocity_domain.kernel.model import VersionedEntity
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Query, Range, desc
from velocity_domain.uow import UnitOfWork

__all__ = [
    "MOVE_OF",
    "PRICE_FIELDS",
    "UnitStatusService",
    "check_version",
    "record_availability",
]

READ = "inventory.read"
WRITE = "inventory.write"
HOLD = register("inventory.units.hold", WRITE, "hold a unit for a person until a time")
BOOK = register("inventory.units.book", WRITE, "book a unit for a person")
RELEASE = register("inventory.units.release", WRITE, "release a held or booked unit")
MARK_SOLD = register("inventory.units.mark_sold", WRITE, "mark a booked unit sold")
BLOCK = register("inventory.units.block", WRITE, "take a unit off sale")
UNBLOCK = register("inventory.units.unblock", WRITE, "put a blocked unit back on sale")
AVAILABILITY = register("inventory.availability.list", READ, "a unit's status history")
CHANGE_PRICE = register("inventory.prices.change", WRITE, "record a unit's price from a moment")
CURRENT_PRICE = register("inventory.prices.current", READ, "a unit's price at a moment")

#: The row of the unit status table (:data:`~velocity_domain.inventory.lifecycle.MOVES`)
#: each status operation follows.
MOVE_OF: dict[str, str] = {
    HOLD.name: "hold",
    BOOK.name: "book",
    RELEASE.name: "release",
    MARK_SOLD.name: "mark_sold",
    BLOCK.name: "block",
    UNBLOCK.name: "unblock",
}

#: The unit fields a price change proposes (its moment and reason travel as context).
PRICE_FIELDS = ("price_current",)


def check_version(row: VersionedEntity, version: int) -> None:
    """Refuse a write based on ``version`` of ``row`` once the row has moved on from it."""
    if row.version != version:
        raise ConcurrencyConflict(row.table_name, row.key, version, row.version)


def _moment(value: object) -> datetime:
    try:
        return converter.structure(value, datetime)
    except (TypeError, ValueError):
        raise ValidationFailed("effective_from", "must be an ISO 8601 time", value=value) from None


def _import_job(uow: UnitOfWork, value: object) -> UUID | None:
    """The import job a price change names in its context, if it names one that exists."""
    if value is None:
        return None
    try:
        key = converter.structure(value, UUID)
    except (TypeError, ValueError):
        raise ValidationFailed("import_job_id", "must be a UUID", value=value) from None
    return key if uow.inventory.import_jobs.find(key) is not None else None


def record_availability(
    uow: UnitOfWork,
    clock: Clock,
    principal: Principal,
    unit: Unit,
    *,
    reason: str | None,
    person_id: UUID | None,
    valid_to: datetime | None = None,
) -> None:
    """Append the unit's status, as it now is, to its availability history."""
    now = clock.now()
    uow.inventory.availability.add(
        Availability(
            unit_id=unit.key,
            status=unit.status,
            valid_from=now,
            valid_to=valid_to,
            reason=reason,
            person_id=person_id,
            recorded_by_user_id=principal.user_id,
            recorded_at=now,
        )
    )


_CHANGE_PRICE = GovernedUpdate(CHANGE_PRICE, Unit, "inventory")


def _plain_move(name: str, operation: Operation, doc: str) -> Callable[..., Unit]:
    """A status method taking no person: one move along the lifecycle, to ``operation``'s status."""

    @serves(None)
    def move(
        self: UnitStatusService,
        principal: Principal,
        unit_id: UUID,
        *,
        expected_version: Version,
        reason: str | None = None,
    ) -> Unit:
        return self._move(principal, operation, unit_id, expected_version, reason=reason)

    move.__name__ = name
    move.__qualname__ = f"UnitStatusService.{name}"
    move.__doc__ = doc
    return move


class UnitStatusService(Service):
    """A unit's status moves and prices, behind the status methods of ``velocity.inventory``.

    Every status operation (hold, book, release, sale, block, unblock) is one
    :meth:`_move` along the unit status lifecycle
    (:mod:`velocity_domain.inventory.lifecycle`); this object owns the
    availability ledger those moves append to and the unit's price history.
    """

    @serves(None)
    def hold(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        person_id: UUID,
        until: datetime,
        expected_version: Version,
        reason: str | None = None,
    ) -> Unit:
        """Hold an available unit (or one whose hold has lapsed) for a person until ``until``."""
        return self._move(
            principal,
            HOLD,
            unit_id,
            expected_version,
            person_id=person_id,
            reason=reason,
            until=until,
        )

    @serves(None)
    def book(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        person_id: UUID,
        expected_version: Version,
        reason: str | None = None,
    ) -> Unit:
        """Book a unit for a person; double-booking is refused.

        A unit already booked or sold, blocked, or under a live hold for
        someone else is refused with ``InvalidTransition``.
        """
        return self._move(
            principal, BOOK, unit_id, expected_version, person_id=person_id, reason=reason
        )

    release = _plain_move("release", RELEASE, "Make a held or booked unit available again.")
    mark_sold = _plain_move("mark_sold", MARK_SOLD, "Mark a booked unit sold, to its buyer.")
    block = _plain_move("block", BLOCK, "Take an available unit (or a lapsed hold) off sale.")
    unblock = _plain_move("unblock", UNBLOCK, "Put a blocked unit back on sale.")

    def _move(
        self,
        principal: Principal,
        operation: Operation,
        unit_id: UUID,
        expected_version: int,
        *,
        person_id: UUID | None = None,
        reason: str | None = None,
        until: datetime | None = None,
    ) -> Unit:
        """Move a unit to the status of ``operation``, with its availability row and audit event.

        A hold or a booking is for ``person_id`` (a hold until ``until``);
        a move the lifecycle refuses raises ``InvalidTransition``.
        """
        move = MOVE_OF[operation.name]
        target = MOVES[move].target
        now = self.clock.now()
        with self._begin(principal, operation) as uow:
            if until is not None and until <= now:
                raise ValidationFailed("until", f"must be in the future (now is {now.isoformat()})")
            unit = uow.inventory.units.get(unit_id)
            check_version(unit, expected_version)
            if target in (UnitStatus.HELD, UnitStatus.BOOKED):
                self._check_person(uow, principal, person_id)
            check_move(unit, move, now, person_id)
            held = target is UnitStatus.HELD
            changed = attrs.evolve(
                unit,
                status=target,
                hold_expires_at=until if held else None,
                held_for_person_id=person_id if held else None,
            )
            if target is UnitStatus.SOLD:
                person_id = self._booked_for(uow, unit)
            elif target not in (UnitStatus.HELD, UnitStatus.BOOKED):
                person_id = None
            stored = self._update_audited(
                uow, principal, operation.name, unit, changed, domain="inventory", reason=reason
            )
            record_availability(
                uow,
                self.clock,
                principal,
                stored,
                reason=reason,
                person_id=person_id,
                valid_to=until,
            )
            uow.commit()
        return stored

    @serves(None)
    def availability(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Availability]:
        """A unit's status history, newest first."""
        with self._begin(principal, AVAILABILITY) as uow:
            uow.inventory.units.get(unit_id)
            order = (desc("valid_from"), desc("recorded_at"), desc("availability_id"))
            query = Query((Eq("unit_id", unit_id),), order, limit, cursor)
            return uow.inventory.availability.list(query)

    def _check_person(self, uow: UnitOfWork, principal: Principal, person_id: UUID | None) -> None:
        """Refuse a person who does not exist or whom the principal may not see (alike)."""
        if person_id is None:
            raise ValidationFailed("person_id", "is required for this move")
        self._visibility(uow, principal).referenced(Person, person_id, "person_id")

    @staticmethod
    def _booked_for(uow: UnitOfWork, unit: Unit) -> UUID | None:
        """The person the unit's latest availability row booked it for (its buyer)."""
        last = uow.inventory.availability.list(
            Query((Eq("unit_id", unit.key),), (desc("valid_from"), desc("recorded_at")), 1)
        ).items
        return last[0].person_id if last and last[0].status is UnitStatus.BOOKED else None

    # -- prices ---------------------------------------------------------------------------

    @serves(None)
    def change_price(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        price: Decimal,
        effective_from: datetime,
        reason: str | None = None,
        import_job_id: UUID | None = None,
    ) -> PricingHistory:
        """Record a unit's price from ``effective_from`` (past, now or future).

        ``price_current`` takes the new price only when the new entry is, now,
        the latest effective one: a future price waits, a back-dated one behind
        a later price is history only (``price_current`` is then brought up to
        the latest effective entry, should a future price have come into force).

        A price other than the unit's ``price_current`` is a money change: by
        default it is stored for approval (based on the unit's version now)
        and ``ApprovalRequired`` is raised; nothing is written until the
        approved proposal is executed, and a unit changed meanwhile makes the
        execution fail.

        ``import_job_id`` names the inventory import job the price comes from
        (a developer's price sheet); the price entry carries it, and it
        travels with a proposal. It must name an existing job.
        """
        now = self.clock.now()

        def priced(unit: Unit) -> dict[str, Decimal]:
            # Refuse bad values before the policy sees them (and scale the price as stored).
            entry = PricingHistory(
                unit_id=unit.key,
                price=price,
                currency=unit.currency,
                effective_from=effective_from,
                recorded_at=now,
                changed_by_user_id=principal.user_id,
                reason=reason,
            )
            return {"price_current": entry.price}

        moment = ensure_utc(effective_from, "effective_from")
        context: dict[str, object] = {"effective_from": moment, "reason": reason}
        if import_job_id is not None:  # only then, so other proposals read as before
            context["import_job_id"] = import_job_id

        def known_job(uow: UnitOfWork, _before: Unit, _after: Unit) -> None:
            if import_job_id is not None and uow.inventory.import_jobs.find(import_job_id) is None:
                raise ValidationFailed("import_job_id", "names no import job", value=import_job_id)

        return self._governed_update(
            principal,
            _CHANGE_PRICE,
            unit_id,
            None,
            priced,
            context=plain_values(context),
            apply=self.apply_price,
            check=known_job,
        )

    @serves(None)
    def apply_price(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> PricingHistory:
        """Write the price entry (and ``price_current``) of an approved price change.

        The unit must still be at the version the change was based on; a
        change without an ``effective_from`` in its context takes effect now.
        An ``import_job_id`` in the context is kept on the entry while the
        job still exists.
        """
        assert change.target_ref is not None
        assert change.base_version is not None
        unit = uow.inventory.units.get(change.target_ref)
        check_version(unit, change.base_version)
        price = change.typed_fields(unit)["price_current"]
        if price is None:
            raise ValidationFailed("price_current", "a price entry needs a price")
        now = self.clock.now()
        moment = change.context.get("effective_from")
        reason = change.context.get("reason")
        entry = PricingHistory(
            unit_id=unit.key,
            price=price,
            currency=unit.currency,
            effective_from=now if moment is None else _moment(moment),
            recorded_at=now,
            changed_by_user_id=principal.user_id,
            import_job_id=_import_job(uow, change.context.get("import_job_id")),
            reason=reason,
        )
        uow.inventory.pricing_history.add(entry)
        current = self._price_at(uow, unit.key, now)
        after = unit
        # The latest effective entry wins: normally the new one; a back-dated entry
        # also brings along a future price that has come into force since.
        if current is not None and unit.price_current != current.price:
            after = uow.inventory.units.update(
                attrs.evolve(unit, price_current=current.price),
                expected_version=change.base_version,
            )
        self._audit(
            uow,
            principal,
            CHANGE_PRICE.name,
            target_domain="inventory",
            target_ref=unit.key,
            before=unit,
            after=after,
            reason=reason,
            details={
                "pricing_history_id": str(entry.key),
                "price": str(entry.price),
                "effective_from": entry.effective_from.isoformat(),
            },
        )
        return entry

    @serves(None)
    def current_price(
        self, principal: Principal, unit_id: UUID, at: datetime | None = None
    ) -> PricingHistory | None:
        """The price entry in force at ``at`` (default now), or ``None`` if it had no price."""
        with self._begin(principal, CURRENT_PRICE) as uow:
            uow.inventory.units.get(unit_id)
            return self._price_at(uow, unit_id, at or self.clock.now())

    @staticmethod
    def _price_at(uow: UnitOfWork, unit_id: UUID, at: datetime) -> PricingHistory | None:
        order = (desc("effective_from"), desc("recorded_at"), desc("pricing_history_id"))
        where = (Eq("unit_id", unit_id), Range("effective_from", lte=at))
        found = uow.inventory.pricing_history.list(Query(where, order, 1)).items
        return found[0] if found else None
