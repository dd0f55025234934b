"""The contacts route family (``/api/crm/contacts``): people, within visibility.

Creating or changing a person whose normalised email or phone already
belongs to someone else raises ``DuplicateSuspected`` naming the existing
ids (the check spans every person, visible or not, so duplicates cannot hide
behind visibility) unless the caller passes ``allow_duplicate=True``, which
the audit event records.

Both writes pass the writeback policy (spec section 9) before anything is
written. By default a person's own change goes straight on, while an
automated agent's change of contact details (rule ``agent_contact_details``)
is stored for review and ``ApprovalRequired`` is raised. The duplicate check
runs when the call is made (so a duplicate is never proposed) and again when
the change is applied (so a duplicate that appeared meanwhile cannot slip in
through an approval); ``allow_duplicate`` and ``reason`` travel with the
proposal.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.access.visibility import assigned_to
from velocity_domain.crm.entities import Person
from velocity_domain.errors import (
    ConcurrencyConflict,
    DuplicateSuspected,
    NotFound,
    ValidationFailed,
)
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.service import Service, serves
from velocity_domain.kernel.arguments import UNCHANGED, Unchanged, Version, changes
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from velocity_domain.kernel.query import Among, Eq, Query, Source
from velocity_domain.uow import UnitOfWork

__all__ = ["ContactService"]

GET = register("crm.contacts.get", "crm.contacts.read", "read one contact")
LIST = register("crm.contacts.list", "crm.contacts.read", "list and search contacts")
CREATE = register("crm.contacts.create", "crm.contacts.write", "create a contact")
UPDATE = register("crm.contacts.update", "crm.contacts.write", "change a contact")

#: The fields ``update`` may change (households are set by the relationships service).
UPDATABLE = (
    "full_name",
    "primary_email",
    "primary_phone",
    "linkedin_url",
    "persona_labels",
    "source_confidence",
    "source_system",
    "source_ref",
)


_CONTACT_POINTS = ("primary_email", "primary_phone")


def _duplicates(uow: UnitOfWork, person: Person) -> tuple[str, list[UUID]] | None:
    """Return what ``person`` shares with other people (email first, then phone), if anything.

    One indexed query: the people holding the same email or the same phone.
    """
    sources = tuple(
        Source(Person.table_name, "person_id", (Eq(field, getattr(person, field)),))
        for field in _CONTACT_POINTS
        if getattr(person, field) is not None
    )
    if not sources:
        return None
    found = uow.crm.people.list(Query((Among("person_id", sources),), limit=MAX_PAGE_SIZE))
    for field in _CONTACT_POINTS:
        value = getattr(person, field)
        ids = [p.key for p in found if p.key != person.key and getattr(p, field) == value]
        if value is not None and ids:
            return field, ids
    return None


def _contact_points_moved(current: Person, wanted: Person) -> bool:
    """Whether a change gives the person another email or phone (the duplicate keys)."""
    return (wanted.primary_email, wanted.primary_phone) != (
        current.primary_email,
        current.primary_phone,
    )


def _carried(change: ProposedChange) -> tuple[Any, str | None]:
    """The ``allow_duplicate`` flag and the reason a proposal carries in its context."""
    return change.context.get("allow_duplicate", False), change.context.get("reason")


class ContactService(Service):
    """People as the contacts route family shows them."""

    @serves(GET)
    def get(self, principal: Principal, person_id: UUID) -> Person:
        """Read one contact; one the principal may not see is ``NotFound``."""
        with self._reading(principal, GET) as uow:
            rule = self._visibility(uow, principal).rule()
            if rule is None:
                return uow.crm.people.get(person_id)
            # One query: the person, if the principal may see them.
            found = uow.crm.people.list(Query((Eq("person_id", person_id), rule), limit=1))
            if not found.items:
                raise NotFound("crm_people", person_id)
            return found.items[0]

    @serves(LIST)
    def list(
        self,
        principal: Principal,
        *,
        search: str | None = None,
        persona_label: str | None = None,
        source_system: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
        assigned_user_id: UUID | None = None,
        newest_first: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Person]:
        """List the contacts the principal may see, by name (or newest first).

        ``assigned_user_id`` keeps the people whose leads or opportunities that
        user holds; time ranges are half-open (``from`` inclusive).
        """
        with self._reading(principal, LIST) as uow:
            rule = self._visibility(uow, principal).rule()
            rules = [] if rule is None else [rule]
            if assigned_user_id is not None:
                rules.append(assigned_to(assigned_user_id))
            return uow.crm.contact_list(
                search=search,
                persona_label=persona_label,
                source_system=source_system,
                created_from=created_from,
                created_to=created_to,
                updated_from=updated_from,
                updated_to=updated_to,
                rules=rules,
                newest_first=newest_first,
                limit=limit,
                cursor=cursor,
            )

    @serves(CREATE)
    def create(
        self,
        principal: Principal,
        *,
        full_name: str,
        primary_email: str | None = None,
        primary_phone: str | None = None,
        linkedin_url: str | None = None,
        persona_labels: Iterable[str] = (),
        source_system: str | None = None,
        source_ref: str | None = None,
        allow_duplicate: bool = False,
        reason: str | None = None,
    ) -> Person:
        """Create a contact; one sharing an email or phone is ``DuplicateSuspected``.

        The write passes the writeback policy first (``ApprovalRequired`` when
        it asks for a review).
        """
        now = self.clock.now()
        with self._begin(principal, CREATE) as uow:
            person = Person(
                full_name=full_name,
                primary_email=primary_email,
                primary_phone=primary_phone,
                linkedin_url=linkedin_url,
                persona_labels=tuple(persona_labels),
                source_system=source_system,
                source_ref=source_ref,
                created_at=now,
                updated_at=now,
            )
            details = self._duplicate_details(uow, person, allow_duplicate)
            context = {"allow_duplicate": allow_duplicate, "reason": reason}
            self._gate(uow, principal, self._create_change(CREATE, person, context))
            created = self._insert(uow, principal, person, details, reason)
            uow.commit()
        return created

    def _apply_create(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> Person:
        person = self._new_row(change, Person)
        allow_duplicate, reason = _carried(change)
        # Checked again: a duplicate may have appeared since the proposal was made.
        details = self._duplicate_details(uow, person, allow_duplicate)
        return self._insert(uow, principal, person, details, reason)

    def _insert(
        self,
        uow: UnitOfWork,
        principal: Principal,
        person: Person,
        details: dict[str, Any] | None,
        reason: str | None,
    ) -> Person:
        self._add_audited(
            uow, principal, CREATE.name, person, domain="crm", reason=reason, details=details
        )
        return person

    @serves(UPDATE)
    def update(
        self,
        principal: Principal,
        person_id: UUID,
        *,
        expected_version: Version,
        full_name: str | Unchanged = UNCHANGED,
        primary_email: str | Unchanged | None = UNCHANGED,
        primary_phone: str | Unchanged | None = UNCHANGED,
        linkedin_url: str | Unchanged | None = UNCHANGED,
        persona_labels: Iterable[str] | Unchanged = UNCHANGED,
        source_confidence: Decimal | Unchanged | None = UNCHANGED,
        source_system: str | Unchanged | None = UNCHANGED,
        source_ref: str | Unchanged | None = UNCHANGED,
        allow_duplicate: bool = False,
        reason: str | None = None,
    ) -> Person:
        """Change the named fields of a contact if it is still at ``expected_version``.

        A stale version is ``ConcurrencyConflict`` at once. The change passes
        the writeback policy first: an agent's change of contact details is
        stored for review and ``ApprovalRequired`` is raised.
        """
        named = changes(
            full_name=full_name,
            primary_email=primary_email,
            primary_phone=primary_phone,
            linkedin_url=linkedin_url,
            persona_labels=persona_labels,
            source_confidence=source_confidence,
            source_system=source_system,
            source_ref=source_ref,
        )
        with self._begin(principal, UPDATE) as uow:
            self._visibility(uow, principal).check("crm_people", person_id, person_id)
            current = uow.crm.people.get(person_id)
            if current.version != expected_version:
                raise ConcurrencyConflict(
                    Person.table_name, current.key, expected_version, current.version
                )
            wanted = attrs.evolve(current, **named)  # validates and normalises the values
            if _contact_points_moved(current, wanted):
                self._duplicate_details(uow, wanted, allow_duplicate)
            change = self._update_change(
                UPDATE,
                current,
                {name: getattr(wanted, name) for name in named},
                expected_version,
                context={"allow_duplicate": allow_duplicate, "reason": reason},
            )
            self._gate(uow, principal, change)
            changed = self._apply_update(uow, principal, change)
            uow.commit()
        return changed

    def _apply_update(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> Person:
        current, wanted = self._proposed_over(uow, change, Person)
        allow_duplicate, reason = _carried(change)
        details = None
        if _contact_points_moved(current, wanted):
            details = self._duplicate_details(uow, wanted, allow_duplicate)
        return self._write_update(
            uow, principal, change, current, wanted, domain="crm", reason=reason, details=details
        )

    @staticmethod
    def _duplicate_details(
        uow: UnitOfWork, person: Person, allow_duplicate: bool
    ) -> dict[str, Any] | None:
        if not isinstance(allow_duplicate, bool):
            raise ValidationFailed("allow_duplicate", "must be True or False")
        found = _duplicates(uow, person)
        if found is None:
            return None
        matched_on, ids = found
        if not allow_duplicate:
            raise DuplicateSuspected("crm_people", ids, matched_on)
        return {
            "duplicate_allowed": True,
            "matched_on": matched_on,
            "existing_ids": [str(i) for i in ids],
        }
