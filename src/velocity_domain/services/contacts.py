"""The contacts route family (``/api/crm/contacts``): reading people, within visibility."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.crm.entities import Person
from velocity_domain.errors import NotFound
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, Page
from velocity_domain.services.base import Service

__all__ = ["ContactService"]

GET = register("crm.contacts.get", "crm.contacts.read", "read one contact")
LIST = register("crm.contacts.list", "crm.contacts.read", "list and search contacts")


class ContactService(Service):
    """People as the contacts route family shows them."""

    def get(self, principal: Principal, person_id: UUID) -> Person:
        """Read one contact; one the principal may not see is ``NotFound``."""
        with self._begin(principal, GET) as uow:
            visibility = self._visibility(uow, principal)
            if not visibility.can_see(person_id):
                raise NotFound("crm_people", person_id)
            return uow.crm.people.get(person_id)

    def list(
        self,
        principal: Principal,
        *,
        search: str | None = None,
        persona_label: str | None = None,
        source_system: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        newest_first: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Person]:
        """List the contacts the principal may see, by name (or newest first)."""
        with self._begin(principal, LIST) as uow:
            visible = self._visibility(uow, principal).people()
            return uow.crm.contact_list(
                search=search,
                persona_label=persona_label,
                source_system=source_system,
                created_from=created_from,
                created_to=created_to,
                person_ids=visible,
                newest_first=newest_first,
                limit=limit,
                cursor=cursor,
            )
