"""Record-level visibility: which clients a principal may see, as a query the store runs.

One rule for every read path (lists, gets, timelines, artifacts, and later
client 360 and imports): a principal holding ``crm.contacts.read_all`` sees
everyone; anyone else sees the people they own (``crm_people.owner_user_id``,
set when they create a contact) and the people whose leads or opportunities
are assigned to them. A record outside that set is reported as not found, so
its existence does not leak.

The rule is a filter (:func:`visible_to`, a semi-join on the people a user
owns and the leads and opportunities they hold), never a set of ids fetched
into Python: a list adds it to its own query, a single record is checked
with one indexed read.

Every id a caller passes that names another record goes through
:meth:`Visibility.find` (or its two refusing forms, :meth:`Visibility.get`
and :meth:`Visibility.referenced`), so a record the caller may not see fails
exactly as an id that names nothing: same error, same field, same message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar
from uuid import UUID

from velocity_domain.access.principal import Principal
from velocity_domain.crm.entities import Household, Person, Relationship
from velocity_domain.errors import MergedRecord, NotFound, ValidationFailed
from velocity_domain.intel.entities import Reminder
from velocity_domain.kernel.arguments import uuid_arg
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE
from velocity_domain.kernel.query import Among, Eq, Filter, In, Query, Source
from velocity_domain.uow import UnitOfWork

__all__ = [
    "READ_ALL",
    "Visibility",
    "assigned_to",
    "check_person_for_new_record",
    "default_assignee",
    "default_owner",
    "visible_to",
]

READ_ALL = "crm.contacts.read_all"

E = TypeVar("E", bound=Entity)


def assigned_to(user_id: UUID | None, field: str = "person_id") -> Filter:
    """Keep the rows whose ``field`` names a person with a lead or deal assigned to ``user_id``.

    ``None`` (a principal that is no user) keeps nothing.

    >>> import uuid
    >>> rule = assigned_to(uuid.UUID(int=7))
    >>> [s.table for s in rule.sources]
    ['crm_leads', 'crm_opportunities']
    """
    if user_id is None:
        return In(field, ())
    theirs = (Eq("assigned_user_id", user_id),)
    return Among(
        field,
        (
            Source("crm_leads", "person_id", theirs),
            Source("crm_opportunities", "person_id", theirs),
        ),
    )


def visible_to(user_id: UUID | None, field: str = "person_id") -> Filter:
    """Keep the rows whose ``field`` names a person ``user_id`` owns or holds a lead or deal of.

    ``None`` (a principal that is no user) keeps nothing.

    >>> import uuid
    >>> rule = visible_to(uuid.UUID(int=7))
    >>> [s.table for s in rule.sources]
    ['crm_leads', 'crm_opportunities', 'crm_people']
    """
    held = assigned_to(user_id, field)
    if not isinstance(held, Among):
        return held
    owned = Source(Person.table_name, "person_id", (Eq("owner_user_id", user_id),))
    return Among(field, (*held.sources, owned))


def _noun(cls: type[Entity]) -> str:
    """``PropertyInterest`` -> ``property interest``: how a refusal names a missing record."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()


class Visibility:
    """What one principal may see inside one unit of work."""

    def __init__(self, uow: UnitOfWork, principal: Principal) -> None:
        self._uow = uow
        self._principal = principal
        self._seen: dict[UUID, bool] = {}

    @property
    def sees_everyone(self) -> bool:
        """Whether no restriction applies."""
        return self._principal.has(READ_ALL)

    def rule(self, field: str = "person_id") -> Filter | None:
        """The filter that keeps the rows whose ``field`` person is visible (``None``: all are)."""
        if self.sees_everyone:
            return None
        return visible_to(self._principal.user_id, field)

    def visible(self, person_ids: Iterable[UUID]) -> frozenset[UUID]:
        """Return those of ``person_ids`` the principal may see, with at most one query."""
        wanted = [p for p in dict.fromkeys(person_ids) if p is not None]
        rule = self.rule()
        if rule is None:
            return frozenset(wanted)
        unknown = [p for p in wanted if p not in self._seen]
        for start in range(0, len(unknown), MAX_PAGE_SIZE):
            chunk = unknown[start : start + MAX_PAGE_SIZE]
            query = Query((In("person_id", chunk), rule), limit=MAX_PAGE_SIZE)
            found = {p.key for p in self._uow.crm.people.list(query)}
            self._seen.update((p, p in found) for p in chunk)
        return frozenset(p for p in wanted if self._seen[p])

    def can_see(self, person_id: UUID | None) -> bool:
        """Say whether the person ``person_id`` is visible (records without a person are)."""
        return person_id is None or person_id in self.visible((person_id,))

    def check(self, entity: str, key: object, person_id: UUID | None) -> None:
        """Raise ``NotFound`` for ``entity`` ``key`` unless its person is visible."""
        if not self.can_see(person_id):
            raise NotFound(entity, key)

    def may_see(self, row: Entity) -> bool:
        """Say whether the principal may see ``row``, which exists.

        A person, or a row of a person (a lead, a deal, an interest, an
        interaction), follows the person; a task is also its assignee's and
        its creator's; a household is seen through a visible member (an empty
        one holds no client, and is open to whoever may write contacts); a
        relationship needs both its people. Rows of no client (accounts,
        projects, units, users) are not restricted.
        """
        if self.sees_everyone:
            return True
        if isinstance(row, Person):
            return self.can_see(row.key)
        if isinstance(row, Relationship):
            ends = (row.from_person_id, row.to_person_id)
            return len(self.visible(ends)) == len(set(ends))
        if isinstance(row, Household):
            return self._household_visible(row.key)
        user = self._principal.user_id
        if isinstance(row, Reminder) and user in (row.assigned_user_id, row.created_by_user_id):
            return True
        person_id = getattr(row, "person_id", None)
        return not isinstance(person_id, UUID) or self.can_see(person_id)

    def _household_visible(self, household_id: UUID) -> bool:
        members = Eq("household_id", household_id)
        rule = self.rule()
        assert rule is not None
        if self._uow.crm.people.list(Query((members, rule), limit=1)).items:
            return True
        return self._uow.crm.people.count(members) == 0

    def find(self, cls: type[E], key: object, field: str) -> E | None:
        """Return the row ``key`` of ``cls`` if it exists and the principal may see it.

        A key that is not a UUID is ``ValidationFailed`` naming ``field``; a
        missing row and a hidden one are both ``None``. A person merged into
        another is ``MergedRecord`` naming the survivor (``None`` when the
        principal may not see the survivor).
        """
        row = self._uow.table(cls).find(uuid_arg(key, field))
        if row is None or not self.may_see(row):
            return None
        if isinstance(row, Person) and row.merged_into_person_id is not None:
            self.refuse_merged(row)
            return None
        return row

    def refuse_merged(self, person: Person) -> None:
        """Raise ``MergedRecord`` naming the survivor of a merged ``person`` the principal sees.

        A merged person changes no more and has no rows of its own; a call
        naming it is pointed to its survivor (when the principal may not see
        the survivor, nothing is raised and the caller treats the person as
        unknown).
        """
        survivor = person.merged_into_person_id
        if survivor is not None and self.can_see(survivor):
            raise MergedRecord(Person.table_name, person.key, survivor)

    def refuse_merged_id(self, person_id: UUID) -> None:
        """:meth:`refuse_merged` for an id (one read), for lists filtered by a person."""
        person = self._uow.crm.people.find(person_id)
        if person is not None:
            self.refuse_merged(person)

    def get(self, cls: type[E], key: object, field: str) -> E:
        """The row ``key`` the call is about, or ``NotFound`` (missing and hidden alike)."""
        row = self.find(cls, key, field)
        if row is None:
            raise NotFound(cls.table_name, key)
        return row

    def referenced(self, cls: type[E], key: object, field: str) -> E:
        """The row an argument ``field`` refers to, or ``ValidationFailed`` "names no ...".

        Missing and hidden rows get the same error, which names only the
        caller's own ``field`` (its ``value`` is the caller's own ``key``).
        """
        row = self.find(cls, key, field)
        if row is None:
            raise ValidationFailed(field, f"names no {_noun(cls)}", value=key)
        return row


def check_person_for_new_record(uow: UnitOfWork, principal: Principal, person_id: UUID) -> None:
    """Refuse a new lead or opportunity for an unknown person, or another agent's client.

    A principal without ``crm.contacts.read_all`` may open records for the
    clients they see and for people nobody owns or holds yet (a contact
    created by a manager or an import); another agent's client is reported
    exactly like an unknown person.
    """
    person = uow.crm.people.find(uuid_arg(person_id, "person_id"))
    visibility = Visibility(uow, principal)
    if person is not None and person.merged_into_person_id is not None:
        visibility.refuse_merged(person)
        person = None
    if person is not None and visibility.may_see(person):
        return
    if person is not None and person.owner_user_id is None:
        held = Eq("person_id", person_id)
        if not uow.crm.leads.count(held) and not uow.crm.opportunities.count(held):
            return
    raise ValidationFailed("person_id", "no such person", value=person_id)


def default_assignee(principal: Principal, assigned_user_id: UUID | None) -> UUID | None:
    """A principal who sees only their own clients keeps what they create."""
    if assigned_user_id is None and not principal.has(READ_ALL):
        return principal.user_id
    return assigned_user_id


def default_owner(principal: Principal) -> UUID | None:
    """The owner of a contact ``principal`` creates: themself, unless they see everyone."""
    return default_assignee(principal, None)
