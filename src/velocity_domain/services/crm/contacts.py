"""The contacts route family (``/api/crm/contacts``): people, within visibility.

Creating or changing a person whose normalised email or phone already
belongs to someone else raises ``DuplicateSuspected`` unless the caller
passes ``allow_duplicate=True``, which the audit event records. The check
spans every person, visible or not, so duplicates cannot hide behind
visibility; the error says how many people match and on what, and names
only those the caller may see. So that someone who sees everyone can review
it, each refusal is recorded as a ``crm.contacts.duplicate_suspected`` audit
event naming every match (read with ``velocity.audit.list``, ``audit.read``).

A contact created by a principal who sees only their own clients is owned by
them (``owner_user_id``), so they see it before any lead or deal names it.

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
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.access.visibility import Visibility, assigned_to, default_owner
from velocity_domain.crm.entities import Person
from velocity_domain.errors import (
    ConcurrencyConflict,
    DuplicateSuspected,
    NotFound,
    ValidationFailed,
)
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.service import Service
from velocity_domain.kernel.arguments import uuid_arg, version_arg
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from velocity_domain.kernel.query import Among, Eq, Query, Source
from velocity_domain.uow import UnitOfWork

__all__ = ["ContactService"]

GET = register("crm.contacts.get", "crm.contacts.read", "read one contact")
LIST = register("crm.contacts.list", "crm.contacts.read", "list and search contacts")
CREATE = register("crm.contacts.create", "crm.contacts.write", "create a contact")
UPDATE = register("crm.contacts.update", "crm.contacts.write", "change a contact")
#: The audit action of a create or update refused as a suspected duplicate.
DUPLICATE_SUSPECTED = "crm.contacts.duplicate_suspected"

#: The fields ``update`` may change (households are set by the relationships service).
UPDATABLE = frozenset(
    {
        "full_name",
        "primary_email",
        "primary_phone",
        "linkedin_url",
        "persona_labels",
        "source_confidence",
        "source_system",
        "source_ref",
    }
)


def check_changes(changes: dict[str, Any], allowed: frozenset[str]) -> None:
    """Refuse an empty change set or a field that is not in ``allowed``."""
    for name in changes:
        if name not in allowed:
            raise ValidationFailed(
                name, f"cannot be changed here; changeable: {', '.join(sorted(allowed))}"
            )
    if not changes:
        raise ValidationFailed("changes", "name at least one field to change")


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


@attrs.frozen
class _Suspected:
    """A write refused as a suspected duplicate: every match, and the error the caller gets."""

    person: Person
    matched_on: str
    existing_ids: tuple[UUID, ...]
    error: DuplicateSuspected


def _suspicion(
    uow: UnitOfWork, principal: Principal, person: Person, matched_on: str, ids: list[UUID]
) -> _Suspected:
    """The refusal of ``person`` as a duplicate of ``ids``, naming only the visible ones."""
    seen = Visibility(uow, principal).visible(ids)
    shown = [i for i in ids if i in seen]
    error = DuplicateSuspected(Person.table_name, shown, matched_on, count=len(ids))
    return _Suspected(person, matched_on, tuple(ids), error)


def _carried(change: ProposedChange) -> tuple[Any, str | None]:
    """The ``allow_duplicate`` flag and the reason a proposal carries in its context."""
    return change.context.get("allow_duplicate", False), change.context.get("reason")


class ContactService(Service):
    """People as the contacts route family shows them."""

    def get(self, principal: Principal, person_id: UUID) -> Person:
        """Read one contact; one the principal may not see is ``NotFound``."""
        person_id = uuid_arg(person_id, "person_id")
        with self._reading(principal, GET) as uow:
            rule = self._visibility(uow, principal).rule()
            if rule is None:
                return uow.crm.people.get(person_id)
            # One query: the person, if the principal may see them.
            found = uow.crm.people.list(Query((Eq("person_id", person_id), rule), limit=1))
            if not found.items:
                raise NotFound("crm_people", person_id)
            return found.items[0]

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
            owner = default_owner(principal)
            labels: Any = (
                tuple(persona_labels)
                if isinstance(persona_labels, list | tuple | set | frozenset)
                else persona_labels
            )
            person = Person(
                full_name=full_name,
                primary_email=primary_email,
                primary_phone=primary_phone,
                linkedin_url=linkedin_url,
                persona_labels=labels,
                source_system=source_system,
                source_ref=source_ref,
                owner_user_id=owner,
                created_at=now,
                updated_at=now,
            )
            details, suspected = self._screen(uow, principal, person, allow_duplicate)
            if suspected is None:
                context = {"allow_duplicate": allow_duplicate, "reason": reason}
                self._gate(uow, principal, self._create_change(CREATE, person, context))
                created = self._insert(uow, principal, person, details, reason)
                uow.commit()
                return created
        raise self._refused(principal, CREATE.name, suspected)

    def _apply_create(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> Person:
        person = self._new_row(change, Person)
        allow_duplicate, reason = _carried(change)
        # Checked again: a duplicate may have appeared since the proposal was made.
        details = self._duplicate_details(uow, principal, person, allow_duplicate)
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

    def update(
        self,
        principal: Principal,
        person_id: UUID,
        *,
        expected_version: int,
        allow_duplicate: bool = False,
        reason: str | None = None,
        **changes: Any,
    ) -> Person:
        """Change a contact's fields (see ``UPDATABLE``) if it is still at ``expected_version``.

        A stale version is ``ConcurrencyConflict`` at once. The change passes
        the writeback policy first: an agent's change of contact details is
        stored for review and ``ApprovalRequired`` is raised.
        """
        version = version_arg(expected_version)
        check_changes(changes, UPDATABLE)
        if isinstance(changes.get("persona_labels"), list | set | frozenset):
            changes["persona_labels"] = tuple(changes["persona_labels"])
        with self._begin(principal, UPDATE) as uow:
            current = self._visibility(uow, principal).get(Person, person_id, "person_id")
            if current.version != version:
                raise ConcurrencyConflict(Person.table_name, current.key, version, current.version)
            wanted = attrs.evolve(current, **changes)  # validates and normalises the values
            suspected = None
            if _contact_points_moved(current, wanted):
                _, suspected = self._screen(uow, principal, wanted, allow_duplicate)
            if suspected is None:
                change = self._update_change(
                    UPDATE,
                    current,
                    {name: getattr(wanted, name) for name in changes},
                    version,
                    context={"allow_duplicate": allow_duplicate, "reason": reason},
                )
                self._gate(uow, principal, change)
                changed = self._apply_update(uow, principal, change)
                uow.commit()
                return changed
        raise self._refused(principal, UPDATE.name, suspected)

    def _apply_update(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> Person:
        current, wanted = self._proposed_over(uow, change, Person)
        allow_duplicate, reason = _carried(change)
        details = None
        if _contact_points_moved(current, wanted):
            details = self._duplicate_details(uow, principal, wanted, allow_duplicate)
        return self._write_update(
            uow, principal, change, current, wanted, domain="crm", reason=reason, details=details
        )

    @staticmethod
    def _screen(
        uow: UnitOfWork, principal: Principal, person: Person, allow_duplicate: bool
    ) -> tuple[dict[str, Any] | None, _Suspected | None]:
        """Look for people ``person`` duplicates (one query).

        Returns the audit details of an allowed duplicate, or the refusal of
        one that is not allowed (or neither, when nobody matches).
        """
        if not isinstance(allow_duplicate, bool):
            raise ValidationFailed("allow_duplicate", "must be True or False")
        found = _duplicates(uow, person)
        if found is None:
            return None, None
        matched_on, ids = found
        if not allow_duplicate:
            return None, _suspicion(uow, principal, person, matched_on, ids)
        details = {
            "duplicate_allowed": True,
            "matched_on": matched_on,
            "existing_ids": [str(i) for i in ids],
        }
        return details, None

    def _duplicate_details(
        self, uow: UnitOfWork, principal: Principal, person: Person, allow_duplicate: bool
    ) -> dict[str, Any] | None:
        """The audit details of an allowed duplicate; refuse others (``DuplicateSuspected``)."""
        details, suspected = self._screen(uow, principal, person, allow_duplicate)
        if suspected is not None:
            raise suspected.error
        return details

    def _refused(
        self, principal: Principal, action: str, suspected: _Suspected
    ) -> DuplicateSuspected:
        """Record a refused duplicate for review (every match); return the caller's error.

        The event has its own unit of work, since the refused write leaves
        nothing behind; its target is the first match, its details name all.
        """
        with self._unit_of_work() as uow:
            self._audit(
                uow,
                principal,
                DUPLICATE_SUSPECTED,
                target_domain="crm",
                target_ref=suspected.existing_ids[0],
                details={
                    "refused_action": action,
                    "attempted_person_id": str(suspected.person.key),
                    "matched_on": suspected.matched_on,
                    "value": getattr(suspected.person, suspected.matched_on),
                    "existing_ids": [str(i) for i in suspected.existing_ids],
                },
            )
            uow.commit()
        return suspected.error
