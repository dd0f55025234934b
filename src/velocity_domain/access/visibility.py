"""Record-level visibility: which clients a principal may see, as a query the store runs.

One rule for every read path (lists, gets, timelines, artifacts, and later
client 360 and imports): a principal holding ``crm.contacts.read_all`` sees
everyone; anyone else sees only the people whose leads or opportunities are
assigned to them. A record outside that set is reported as not found, so its
existence does not leak.

The rule is a filter (:func:`assigned_to`, a semi-join on the leads and
opportunities a user holds), never a set of ids fetched into Python: a list
adds it to its own query, a single record is checked with one indexed count.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from velocity_domain.access.principal import Principal
from velocity_domain.errors import NotFound, ValidationFailed
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE
from velocity_domain.kernel.query import Among, Eq, Filter, In, Query, Source
from velocity_domain.uow import UnitOfWork

__all__ = [
    "READ_ALL",
    "Visibility",
    "assigned_to",
    "check_person_for_new_record",
    "default_assignee",
]

READ_ALL = "crm.contacts.read_all"


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
        return assigned_to(self._principal.user_id, field)

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


def check_person_for_new_record(uow: UnitOfWork, principal: Principal, person_id: UUID) -> None:
    """Refuse a new lead or opportunity for an unknown person, or another agent's client.

    A principal without ``crm.contacts.read_all`` may open records for the
    clients they see and for people nobody holds yet (a fresh contact);
    another agent's client is reported exactly like an unknown person.
    """
    if uow.crm.people.find(person_id) is None:
        raise ValidationFailed("person_id", "no such person", value=person_id)
    if Visibility(uow, principal).can_see(person_id):
        return
    held = Eq("person_id", person_id)
    if uow.crm.leads.count(held) or uow.crm.opportunities.count(held):
        raise ValidationFailed("person_id", "no such person", value=person_id)


def default_assignee(principal: Principal, assigned_user_id: UUID | None) -> UUID | None:
    """A principal who sees only their own clients keeps what they create."""
    if assigned_user_id is None and not principal.has(READ_ALL):
        return principal.user_id
    return assigned_user_id
