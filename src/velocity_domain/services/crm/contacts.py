"""The contacts route family (``/api/crm/contacts``): people, within visibility.

Creating a person, or changing a person's name, email or phone, is checked
against the duplicate rules of the governance (``governance.person_rules``,
see :mod:`velocity_domain.crm.duplicates`): the live people (never one
merged into another) who share the email, the phone or the name (also with
its first and last words swapped) are compared with the new values, and
those a rule matches with a confidence of at least ``WARN_AT`` raise
``DuplicateSuspected`` unless the caller passes ``allow_duplicate=True``,
which the audit event records. A change is refused only for a duplicate
it makes: people the stored person already matched are not counted again
(a known namesake does not block correcting an email). By default a shared
email or phone always
warns (with a low confidence when the names differ: a family phone), and a
name that agrees warns when something corroborates it. The check spans
every person, visible or not, so duplicates cannot hide behind visibility;
the error says how many people match, on what and by which rule, and names
only those the caller may see. So that someone who sees everyone can review
it, each refusal is recorded as a ``crm.contacts.duplicate_suspected`` audit
event naming every match and its rule evidence (read with
``velocity.audit.list``, ``audit.read``).

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

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.access.visibility import Visibility, assigned_to, default_owner
from velocity_domain.crm.duplicates import DuplicateRules
from velocity_domain.crm.entities import Person
from velocity_domain.errors import (
    AlreadyExists,
    DuplicateSuspected,
    NotFound,
    PolicyDenied,
    ValidationFailed,
)
from velocity_domain.governance import engine
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.service import GovernedUpdate, Service, argument_checks, serves
from velocity_domain.kernel.arguments import UNCHANGED, ArgumentChecks, Unchanged, Version, changes
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Filter, In, Query
from velocity_domain.services.crm.contact_duplicates import (
    Suspect,
    blocked_with,
    by_block,
    duplicates,
    evidence,
    existing,
    judged,
    stored_candidates,
)
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import PolicyOutcome

__all__ = ["BulkCreate", "ContactService", "RowRefused"]

GET = register("crm.contacts.get", "crm.contacts.read", "read one contact")
LIST = register("crm.contacts.list", "crm.contacts.read", "list and search contacts")
CREATE = register("crm.contacts.create", "crm.contacts.write", "create a contact")
UPDATE = register("crm.contacts.update", "crm.contacts.write", "change a contact")
CREATE_MANY = register(
    "crm.contacts.create_many", "crm.contacts.write", "create many contacts in one call"
)

#: How many merges ``get`` follows from a merged person to its survivor.
_MERGE_HOPS = 8

#: The audit action of a create or update refused as a suspected duplicate.
DUPLICATE_SUSPECTED = "crm.contacts.duplicate_suspected"

#: The most rows one ``create_many`` call takes (split larger loads into calls).
MAX_BULK = 1000

#: The keys a row of ``create_many`` may hold: the keyword arguments of ``create``.
_ROW_FIELDS = frozenset(
    {
        "full_name",
        "primary_email",
        "primary_phone",
        "linkedin_url",
        "persona_labels",
        "source_system",
        "source_ref",
    }
)


@attrs.frozen
class RowRefused:
    """One row of a bulk call that was not written: its position, the field and why."""

    index: int
    field: str
    reason: str
    code: str


@attrs.frozen
class BulkCreate:
    """What ``create_many`` did with each row: created, sent to review, or refused."""

    created: tuple[Person, ...]
    #: ``(row index, writeback id)`` of the rows the policy sent to review.
    proposed: tuple[tuple[int, UUID], ...]
    refused: tuple[RowRefused, ...]


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


def _new_person(fields: Mapping[str, Any], now: datetime) -> Person:
    """A new person from ``create``'s keyword arguments (validated and normalised)."""
    labels = fields.get("persona_labels", ())
    if isinstance(labels, list | set | frozenset):
        labels = tuple(labels)
    return Person(**{**fields, "persona_labels": labels}, created_at=now, updated_at=now)


def _contact_points_moved(current: Person, wanted: Person) -> bool:
    """Whether a change gives the person another name, email or phone (what the rules compare)."""
    return (wanted.normalized_name, wanted.primary_email, wanted.primary_phone) != (
        current.normalized_name,
        current.primary_email,
        current.primary_phone,
    )


class _Suspected(Exception):
    """A write refused as a suspected duplicate: every match, and the error the caller gets.

    Raised inside the write's unit of work and caught outside it, so that the
    refusal is recorded after the write rolled back; it never leaves the service.
    """

    def __init__(
        self, person: Person, suspects: Sequence[Suspect], error: DuplicateSuspected
    ) -> None:
        super().__init__(error)
        self.person, self.error = person, error
        self.suspects = tuple(suspects)
        self.matched_on = suspects[0][1].field
        self.existing_ids = tuple(p.key for p, _ in suspects)


def _suspicion(
    uow: UnitOfWork, principal: Principal, person: Person, suspects: Sequence[Suspect]
) -> _Suspected:
    """The refusal of ``person`` as a duplicate of ``suspects``, naming only the visible ones."""
    ids = [p.key for p, _ in suspects]
    seen = Visibility(uow, principal).visible(ids)
    shown = [i for i in ids if i in seen]
    best = suspects[0][1]
    error = DuplicateSuspected(
        Person.table_name,
        shown,
        best.field,
        count=len(ids),
        rule=best.rule,
        confidence=best.confidence,
    )
    return _Suspected(person, suspects, error)


def _carried(change: ProposedChange) -> tuple[Any, str | None]:
    """The ``allow_duplicate`` flag and the reason a proposal carries in its context."""
    return change.context.get("allow_duplicate", False), change.context.get("reason")


def _rows_arg(rows: object) -> list[Any]:
    """The rows of a bulk call as a list, refusing what is not a collection of rows."""
    if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Iterable):
        raise ValidationFailed("rows", "must be a list of rows (mappings of field to value)")
    batch = list(rows)
    if len(batch) > MAX_BULK:
        raise ValidationFailed("rows", f"at most {MAX_BULK} rows per call", value=len(batch))
    return batch


def _row_fields(row: object, checks: ArgumentChecks) -> dict[str, Any]:
    """The fields of one bulk row; a row that is no mapping, or names another field, is refused."""
    if not isinstance(row, Mapping):
        raise ValidationFailed("row", "must be a mapping of field to value")
    for name in row:
        if name not in _ROW_FIELDS:
            raise ValidationFailed(
                str(name),
                f"is not a field of a new contact; fields: {', '.join(sorted(_ROW_FIELDS))}",
            )
    if "full_name" not in row:
        raise ValidationFailed("full_name", "is required")
    return {name: checks.check_value(name, value) for name, value in row.items()}


def _batch_clashes(
    uow: UnitOfWork,
    rules: DuplicateRules,
    people: list[tuple[int, Person]],
    allow_duplicate: bool,
) -> dict[int, RowRefused]:
    """The rows that clash with stored people or with earlier rows, by row index.

    A source reference already taken always clashes (it is a unique key); a
    row the duplicate rules match with a stored person or an earlier row
    clashes unless ``allow_duplicate``. The reason names the field and the
    rule, never the other record, which the caller may not see.
    """
    refs: set[tuple[str, str]] = set()
    stored: dict[str, list[Person]] = {}
    if not allow_duplicate:
        stored = by_block(rules, stored_candidates(uow, rules, [p for _, p in people]))
    keyed = [p for _, p in people if p.source_system is not None and p.source_ref is not None]
    for system in {str(p.source_system) for p in keyed}:
        wanted = tuple({p.source_ref for p in keyed if p.source_system == system})
        found = existing(uow, Eq("source_system", system), In("source_ref", wanted))
        refs |= {(system, str(p.source_ref)) for p in found}
    earlier: dict[str, list[Person]] = {}
    clashes: dict[int, RowRefused] = {}
    for index, person in people:
        ref = (str(person.source_system), str(person.source_ref))
        keyed_row = person.source_system is not None and person.source_ref is not None
        if keyed_row and ref in refs:
            why = "this source_system and source_ref already name a person"
            clashes[index] = RowRefused(index, "source_ref", why, AlreadyExists.code)
            continue
        if not allow_duplicate:
            others = blocked_with(rules, stored, person) + blocked_with(rules, earlier, person)
            suspects = judged(rules, person, others)
            if suspects:
                best = suspects[0][1]
                why = (
                    f"looks like another person (same {best.field}; rule {best.rule},"
                    f" confidence {best.confidence}); pass allow_duplicate=True to keep both"
                )
                clashes[index] = RowRefused(index, best.field, why, DuplicateSuspected.code)
                continue
            for key, found_people in by_block(rules, [person]).items():
                earlier.setdefault(key, []).extend(found_people)
        if keyed_row:
            refs.add(ref)
    return clashes


_UPDATE = GovernedUpdate(UPDATE, Person, "crm")


class ContactService(Service):
    """People as the contacts route family shows them."""

    @serves(GET)
    def get(self, principal: Principal, person_id: UUID) -> Person:
        """Read one contact; one the principal may not see is ``NotFound``.

        A person merged into another answers with the survivor (the one it
        was merged into, or that one's survivor), if the principal may see it.
        """
        with self._reading(principal, GET) as uow:
            rule = self._visibility(uow, principal).rule()
            person = self._seen(uow, person_id, rule)
            for _ in range(_MERGE_HOPS):
                if person.merged_into_person_id is None:
                    return person
                person = self._seen(uow, person.merged_into_person_id, rule)
            return person

    @staticmethod
    def _seen(uow: UnitOfWork, person_id: UUID, rule: Filter | None) -> Person:
        """The person ``person_id`` if visible under ``rule`` (one query), else ``NotFound``."""
        if rule is None:
            return uow.crm.people.get(person_id)
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
            rules = self._seen_only(uow, principal, [])
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
        """Create a contact; one the duplicate rules match is ``DuplicateSuspected``.

        The write passes the writeback policy first (``ApprovalRequired`` when
        it asks for a review).
        """
        now = self.clock.now()
        details: dict[str, Any] | None = None

        def screened(uow: UnitOfWork) -> Person:
            nonlocal details
            person = _new_person(
                {
                    "full_name": full_name,
                    "primary_email": primary_email,
                    "primary_phone": primary_phone,
                    "linkedin_url": linkedin_url,
                    "persona_labels": persona_labels,
                    "source_system": source_system,
                    "source_ref": source_ref,
                    "owner_user_id": default_owner(principal),
                },
                now,
            )
            details = self._screen(uow, principal, person, allow_duplicate)
            return person

        try:
            return self._governed_create(
                principal,
                CREATE,
                screened,
                context={"allow_duplicate": allow_duplicate, "reason": reason},
                insert=lambda uow, who, row: self._insert(uow, who, row, details, reason),
            )
        except _Suspected as suspected:
            raise self._refused(principal, CREATE.name, suspected) from None

    @serves(CREATE_MANY)
    def create_many(
        self,
        principal: Principal,
        rows: Iterable[Any],
        *,
        allow_duplicate: bool = False,
        reason: str | None = None,
    ) -> BulkCreate:
        """Create up to ``MAX_BULK`` contacts in one transaction; each row is judged on its own.

        A row is a mapping of ``create``'s keyword arguments, each value checked
        as ``create`` checks that argument. A row with a bad
        value, a duplicate email or phone (of an existing person or of an
        earlier row; unless ``allow_duplicate``), a source reference already
        taken, or a policy denial is refused with its reason and the others
        are written; a row the policy sends to review is stored as a proposal.
        Each created contact has its own audit event, as ``create`` writes.
        The cost is a fixed handful of statements whatever the batch size.
        """
        batch = _rows_arg(rows)
        checks = argument_checks(type(self).create)
        owner = default_owner(principal)
        if not isinstance(allow_duplicate, bool):
            raise ValidationFailed("allow_duplicate", "must be True or False")
        now = self.clock.now()
        refused: list[RowRefused] = []
        people: list[tuple[int, Person]] = []
        for index, row in enumerate(batch):
            try:
                fields = {**_row_fields(row, checks), "owner_user_id": owner}
                people.append((index, _new_person(fields, now)))
            except ValidationFailed as err:
                refused.append(RowRefused(index, err.field, err.reason, err.code))
        context = {"allow_duplicate": allow_duplicate, "reason": reason}
        created: list[Person] = []
        proposed: list[tuple[int, UUID]] = []
        with self._begin(principal, CREATE_MANY) as uow:
            rules = self.governance.person_rules
            clashes = _batch_clashes(uow, rules, people, allow_duplicate)
            for index, person in people:
                if index in clashes:
                    refused.append(clashes[index])
                    continue
                change = self._create_change(CREATE, person, context)
                verdict = self.governance.verdict(change, principal)
                if verdict.outcome is PolicyOutcome.AUTO_APPROVE:
                    created.append(person)
                elif verdict.outcome is PolicyOutcome.DENY:
                    why = f"denied by policy rule {verdict.rule}: {verdict.reason}"
                    refused.append(RowRefused(index, "row", why, PolicyDenied.code))
                else:
                    draft = engine.store(uow, self.clock, principal, change)
                    engine.classify(uow, self.clock, principal, draft, verdict)
                    proposed.append((index, draft.key))
            uow.crm.people.add_many(created)
            for person in created:
                self._audit(
                    uow,
                    principal,
                    CREATE.name,
                    target_domain="crm",
                    target_ref=person.key,
                    after=person,
                    reason=reason,
                    details={"bulk": True},
                )
            uow.commit()
        refused.sort(key=lambda r: r.index)
        return BulkCreate(tuple(created), tuple(proposed), tuple(refused))

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

        def screened(uow: UnitOfWork, current: Person, wanted: Person) -> None:
            if _contact_points_moved(current, wanted):
                self._screen(uow, principal, wanted, allow_duplicate, current)

        try:
            return self._governed_update(
                principal,
                _UPDATE,
                person_id,
                expected_version,
                named,
                context={"allow_duplicate": allow_duplicate, "reason": reason},
                check=screened,
                apply=self._apply_update,
            )
        except _Suspected as suspected:
            raise self._refused(principal, UPDATE.name, suspected) from None

    def _apply_update(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> Person:
        current, wanted = self._proposed_over(uow, change, Person)
        allow_duplicate, reason = _carried(change)
        details = None
        if _contact_points_moved(current, wanted):
            details = self._duplicate_details(uow, principal, wanted, allow_duplicate, current)
        return self._write_update(
            uow, principal, change, current, wanted, domain="crm", reason=reason, details=details
        )

    def _screen(
        self,
        uow: UnitOfWork,
        principal: Principal,
        person: Person,
        allow_duplicate: bool,
        before: Person | None = None,
    ) -> dict[str, Any] | None:
        """Look for people ``person`` duplicates under the governance's rules (one query).

        ``before`` is the stored person of a change: only duplicates the
        change makes count. Returns the audit details of an allowed
        duplicate (``None`` when nobody matches); raises :class:`_Suspected`
        for one not allowed.
        """
        if not isinstance(allow_duplicate, bool):
            raise ValidationFailed("allow_duplicate", "must be True or False")
        suspects = duplicates(uow, self.governance.person_rules, person, before)
        if not suspects:
            return None
        if not allow_duplicate:
            raise _suspicion(uow, principal, person, suspects)
        return {
            "duplicate_allowed": True,
            "matched_on": suspects[0][1].field,
            "existing_ids": [str(p.key) for p, _ in suspects],
            "matches": evidence(suspects),
        }

    def _duplicate_details(
        self,
        uow: UnitOfWork,
        principal: Principal,
        person: Person,
        allow_duplicate: bool,
        before: Person | None = None,
    ) -> dict[str, Any] | None:
        """The audit details of an allowed duplicate; refuse others (``DuplicateSuspected``)."""
        try:
            return self._screen(uow, principal, person, allow_duplicate, before)
        except _Suspected as suspected:
            raise suspected.error from None

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
                    "matches": evidence(suspected.suspects),
                },
            )
            uow.commit()
        return suspected.error
