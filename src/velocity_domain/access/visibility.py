"""Record-level visibility: which clients a principal may see.

One rule for every read path (lists, gets, timelines, artifacts, and later
client 360 and imports): a principal holding ``crm.contacts.read_all`` sees
everyone; anyone else sees only the people whose leads or opportunities are
assigned to them. A record outside that set is reported as not found, so its
existence does not leak.
"""

from __future__ import annotations

from uuid import UUID

from velocity_domain.access.principal import Principal
from velocity_domain.errors import NotFound
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE
from velocity_domain.kernel.query import Eq, Query
from velocity_domain.uow import UnitOfWork

__all__ = ["READ_ALL", "Visibility", "assigned_people"]

READ_ALL = "crm.contacts.read_all"


def assigned_people(uow: UnitOfWork, user_id: UUID) -> frozenset[UUID]:
    """Return the people whose leads or opportunities are assigned to ``user_id``."""
    found: set[UUID] = set()
    theirs = Eq("assigned_user_id", user_id)
    for table in (uow.crm.leads, uow.crm.opportunities):
        cursor: str | None = None
        while True:
            page = table.list(Query((theirs,), limit=MAX_PAGE_SIZE, cursor=cursor))
            found.update(row.person_id for row in page)
            cursor = page.next_cursor
            if cursor is None:
                break
    return frozenset(found)


class Visibility:
    """The set of clients one principal may see inside one unit of work."""

    def __init__(self, uow: UnitOfWork, principal: Principal) -> None:
        self._uow = uow
        self._principal = principal
        self._people: frozenset[UUID] | None = None
        self._loaded = False

    @property
    def sees_everyone(self) -> bool:
        """Whether no restriction applies."""
        return self._principal.has(READ_ALL)

    def people(self) -> frozenset[UUID] | None:
        """Return the visible person ids, or ``None`` when everyone is visible (two reads, once)."""
        if self.sees_everyone:
            return None
        if not self._loaded:
            self._people = self._assigned() if self._principal.user_id else frozenset()
            self._loaded = True
        return self._people

    def _assigned(self) -> frozenset[UUID]:
        assert self._principal.user_id is not None
        return assigned_people(self._uow, self._principal.user_id)

    def can_see(self, person_id: UUID | None) -> bool:
        """Say whether the person ``person_id`` is visible (records without a person are)."""
        people = self.people()
        return people is None or person_id is None or person_id in people

    def check(self, entity: str, key: object, person_id: UUID | None) -> None:
        """Raise ``NotFound`` for ``entity`` ``key`` unless its person is visible."""
        if not self.can_see(person_id):
            raise NotFound(entity, key)
