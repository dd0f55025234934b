"""Unit status changes and prices: holds, bookings, releases, sales, blocks, price history.

Every status change is guarded by the caller's ``expected_version`` and
appends an ``inventory_availability`` row in the same transaction, so two
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

from datetime import datetime
from decimal import Decimal
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.crm.entities import Person
from velocity_domain.errors import ConcurrencyConflict, ValidationFailed
from velocity_domain.governance.change import ProposedChange, plain_values
from velocity_domain.governance.service import Service, serves
from velocity_domain.inventory.entities import (
    Availability,
    PricingHistory,
    Unit,
    UnitStatus,
)
from velocity_domain.kernel.arguments import (
    uuid_arg,
    version_arg,
)
from velocity_domain.kernel.convert import converter
from velocity_domain.kernel.model import VersionedEntity
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Query, Range, desc
from velocity_domain.uow import UnitOfWork

__all__ = ["PRICE_FIELDS", "UnitStatusMixin", "check_version"]

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


class UnitStatusMixin(Service):
    """The status and price operations of :class:`InventoryService`."""

    @serves(HOLD)
    def hold(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        person_id: UUID,
        until: datetime,
        expected_version: int,
        reason: str | None = None,
    ) -> Unit:
        """Hold an available unit (or one whose hold has lapsed) for a person until ``until``."""
        now = self.clock.now()
        with self._begin(principal, HOLD) as uow:
            if not isinstance(until, datetime) or until.tzinfo is None:
                raise ValidationFailed("until", "must be a timezone-aware datetime")
            if until <= now:
                raise ValidationFailed("until", f"must be in the future (now is {now.isoformat()})")
            unit = self._unit_at(uow, unit_id, expected_version)
            self._check_person(uow, principal, person_id)
            if unit.status is not UnitStatus.AVAILABLE and not self._lapsed(unit, now):
                raise ValidationFailed(
                    "unit_id",
                    f"is {self._describe(unit)}; only an available unit, or one whose hold"
                    " has lapsed, can be held",
                )
            changed = attrs.evolve(
                unit, status=UnitStatus.HELD, hold_expires_at=until, held_for_person_id=person_id
            )
            return self._change_status(
                uow,
                principal,
                HOLD.name,
                unit=unit,
                changed=changed,
                person_id=person_id,
                reason=reason,
                valid_to=until,
            )

    @serves(BOOK)
    def book(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        person_id: UUID,
        expected_version: int,
        reason: str | None = None,
    ) -> Unit:
        """Book a unit for a person; double-booking is refused.

        A unit already booked or sold, blocked, or under a live hold for
        someone else is refused with ``ValidationFailed`` on ``unit_id``.
        """
        now = self.clock.now()
        with self._begin(principal, BOOK) as uow:
            unit = self._unit_at(uow, unit_id, expected_version)
            self._check_person(uow, principal, person_id)
            if unit.status in (UnitStatus.BOOKED, UnitStatus.SOLD):
                raise ValidationFailed(
                    "unit_id", f"double-booking refused: the unit is already {unit.status}"
                )
            if unit.status is UnitStatus.BLOCKED:
                raise ValidationFailed("unit_id", "is blocked; unblock it before booking")
            if (
                unit.status is UnitStatus.HELD
                and unit.held_for_person_id != person_id
                and not self._lapsed(unit, now)
            ):
                raise ValidationFailed(
                    "unit_id", f"double-booking refused: the unit is {self._describe(unit)}"
                )
            changed = attrs.evolve(
                unit, status=UnitStatus.BOOKED, hold_expires_at=None, held_for_person_id=None
            )
            return self._change_status(
                uow,
                principal,
                BOOK.name,
                unit=unit,
                changed=changed,
                person_id=person_id,
                reason=reason,
            )

    @serves(RELEASE)
    def release(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        expected_version: int,
        reason: str | None = None,
    ) -> Unit:
        """Make a held or booked unit available again."""
        with self._begin(principal, RELEASE) as uow:
            unit = self._unit_at(uow, unit_id, expected_version)
            if unit.status not in (UnitStatus.HELD, UnitStatus.BOOKED):
                raise ValidationFailed(
                    "unit_id", f"is {unit.status}; only a held or booked unit can be released"
                )
            changed = attrs.evolve(
                unit, status=UnitStatus.AVAILABLE, hold_expires_at=None, held_for_person_id=None
            )
            return self._change_status(
                uow,
                principal,
                RELEASE.name,
                unit=unit,
                changed=changed,
                person_id=None,
                reason=reason,
            )

    @serves(MARK_SOLD)
    def mark_sold(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        expected_version: int,
        reason: str | None = None,
    ) -> Unit:
        """Mark a booked unit sold, to the person it was booked for."""
        with self._begin(principal, MARK_SOLD) as uow:
            unit = self._unit_at(uow, unit_id, expected_version)
            if unit.status is not UnitStatus.BOOKED:
                raise ValidationFailed(
                    "unit_id", f"is {unit.status}; only a booked unit can be marked sold"
                )
            last = uow.inventory.availability.list(
                Query((Eq("unit_id", unit.key),), (desc("valid_from"), desc("recorded_at")), 1)
            ).items
            buyer = last[0].person_id if last and last[0].status is UnitStatus.BOOKED else None
            changed = attrs.evolve(unit, status=UnitStatus.SOLD)
            return self._change_status(
                uow,
                principal,
                MARK_SOLD.name,
                unit=unit,
                changed=changed,
                person_id=buyer,
                reason=reason,
            )

    @serves(BLOCK)
    def block(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        expected_version: int,
        reason: str | None = None,
    ) -> Unit:
        """Take an available unit (or one whose hold has lapsed) off sale."""
        now = self.clock.now()
        with self._begin(principal, BLOCK) as uow:
            unit = self._unit_at(uow, unit_id, expected_version)
            if unit.status is not UnitStatus.AVAILABLE and not self._lapsed(unit, now):
                raise ValidationFailed(
                    "unit_id", f"is {self._describe(unit)}; only an available unit can be blocked"
                )
            changed = attrs.evolve(
                unit, status=UnitStatus.BLOCKED, hold_expires_at=None, held_for_person_id=None
            )
            return self._change_status(
                uow,
                principal,
                BLOCK.name,
                unit=unit,
                changed=changed,
                person_id=None,
                reason=reason,
            )

    @serves(UNBLOCK)
    def unblock(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        expected_version: int,
        reason: str | None = None,
    ) -> Unit:
        """Put a blocked unit back on sale."""
        with self._begin(principal, UNBLOCK) as uow:
            unit = self._unit_at(uow, unit_id, expected_version)
            if unit.status is not UnitStatus.BLOCKED:
                raise ValidationFailed(
                    "unit_id", f"is {unit.status}; only a blocked unit can be unblocked"
                )
            changed = attrs.evolve(unit, status=UnitStatus.AVAILABLE)
            return self._change_status(
                uow,
                principal,
                UNBLOCK.name,
                unit=unit,
                changed=changed,
                person_id=None,
                reason=reason,
            )

    @serves(AVAILABILITY)
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
            uow.inventory.units.get(uuid_arg(unit_id, "unit_id"))
            order = (desc("valid_from"), desc("recorded_at"), desc("availability_id"))
            query = Query((Eq("unit_id", unit_id),), order, limit, cursor)
            return uow.inventory.availability.list(query)

    @staticmethod
    def _unit_at(uow: UnitOfWork, unit_id: UUID, expected_version: int) -> Unit:
        """The unit, refused as a conflict unless it is still at ``expected_version``."""
        version = version_arg(expected_version)
        unit = uow.inventory.units.get(uuid_arg(unit_id, "unit_id"))
        check_version(unit, version)
        return unit

    def _check_person(self, uow: UnitOfWork, principal: Principal, person_id: UUID) -> None:
        """Refuse a person who does not exist or whom the principal may not see (alike)."""
        self._visibility(uow, principal).referenced(Person, person_id, "person_id")

    @staticmethod
    def _lapsed(unit: Unit, now: datetime) -> bool:
        expires = unit.hold_expires_at
        return unit.status is UnitStatus.HELD and expires is not None and expires <= now

    @staticmethod
    def _describe(unit: Unit) -> str:
        if unit.status is not UnitStatus.HELD or unit.hold_expires_at is None:
            return str(unit.status)
        # Whom it is held for is a client the caller may not see: not named.
        return f"held until {unit.hold_expires_at.isoformat()}"

    def _change_status(
        self,
        uow: UnitOfWork,
        principal: Principal,
        action: str,
        *,
        unit: Unit,
        changed: Unit,
        person_id: UUID | None,
        reason: str | None,
        valid_to: datetime | None = None,
    ) -> Unit:
        stored = uow.inventory.units.update(changed, expected_version=unit.version)
        self._append_availability(
            uow, principal, stored, reason=reason, person_id=person_id, valid_to=valid_to
        )
        self._audit(
            uow,
            principal,
            action,
            target_domain="inventory",
            target_ref=unit.key,
            before=unit,
            after=stored,
            reason=reason,
        )
        uow.commit()
        return stored

    def _append_availability(
        self,
        uow: UnitOfWork,
        principal: Principal,
        unit: Unit,
        *,
        reason: str | None,
        person_id: UUID | None,
        valid_to: datetime | None = None,
    ) -> None:
        now = self.clock.now()
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

    # -- prices ---------------------------------------------------------------------------

    @serves(CHANGE_PRICE)
    def change_price(
        self,
        principal: Principal,
        unit_id: UUID,
        *,
        price: Decimal,
        effective_from: datetime,
        reason: str | None = None,
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
        """
        now = self.clock.now()
        with self._begin(principal, CHANGE_PRICE) as uow:
            unit = uow.inventory.units.get(uuid_arg(unit_id, "unit_id"))
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
            change = self._update_change(
                CHANGE_PRICE,
                unit,
                {"price_current": entry.price},
                unit.version,
                context=plain_values({"effective_from": entry.effective_from, "reason": reason}),
            )
            self._gate(uow, principal, change)
            written = self._apply_price(uow, principal, change)
            uow.commit()
        return written

    def _apply_price(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> PricingHistory:
        """Write the price entry (and ``price_current``) of an approved price change.

        The unit must still be at the version the change was based on; a
        change without an ``effective_from`` in its context takes effect now.
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

    @serves(CURRENT_PRICE)
    def current_price(
        self, principal: Principal, unit_id: UUID, at: datetime | None = None
    ) -> PricingHistory | None:
        """The price entry in force at ``at`` (default now), or ``None`` if it had no price."""
        with self._begin(principal, CURRENT_PRICE) as uow:
            if at is not None and (not isinstance(at, datetime) or at.tzinfo is None):
                raise ValidationFailed("at", "must be a timezone-aware datetime")
            uow.inventory.units.get(uuid_arg(unit_id, "unit_id"))
            return self._price_at(uow, unit_id, at or self.clock.now())

    @staticmethod
    def _price_at(uow: UnitOfWork, unit_id: UUID, at: datetime) -> PricingHistory | None:
        order = (desc("effective_from"), desc("recorded_at"), desc("pricing_history_id"))
        where = (Eq("unit_id", unit_id), Range("effective_from", lte=at))
        found = uow.inventory.pricing_history.list(Query(where, order, 1)).items
        return found[0] if found else None

    # -- media ----------------------------------------------------------------------------
