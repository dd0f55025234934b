"""Households and typed relationships between people.

A household groups people (``crm_people.household_id``) and may name one
member as its head. A relationship is stored in both directions, each with
the inverse kind (a parent's ``parent`` row has a ``child`` row beside it),
so either person reads it from their side. Writes need
``crm.contacts.write``, reads ``crm.contacts.read``; every person involved
must be visible to the principal, or the call is ``NotFound``. A link that
already exists (same people, same kind) raises ``AlreadyExists``.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import attrs

from velocity_domain.access.operations import Operation, register
from velocity_domain.access.principal import Principal
from velocity_domain.access.visibility import Visibility
from velocity_domain.crm.entities import Household, Person, Relationship, RelationshipKind
from velocity_domain.errors import AlreadyExists, ValidationFailed
from velocity_domain.governance.service import Service, serves
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE
from velocity_domain.kernel.query import Eq, Query, asc
from velocity_domain.uow import UnitOfWork

__all__ = ["INVERSE", "RelationshipService"]

WRITE = "crm.contacts.write"
READ = "crm.contacts.read"
CREATE_HOUSEHOLD = register("crm.households.create", WRITE, "create a household")
ADD_MEMBER = register("crm.households.add_member", WRITE, "put a person in a household")
REMOVE_MEMBER = register("crm.households.remove_member", WRITE, "take a person out of one")
SET_HEAD = register("crm.households.set_head", WRITE, "name a member head of the household")
GET_HOUSEHOLD = register("crm.households.get", READ, "read a household and its members")
RELATE = register("crm.relationships.relate", WRITE, "link two people (both directions)")
UNRELATE = register("crm.relationships.unrelate", WRITE, "remove a link (both directions)")
LIST_RELATIONSHIPS = register("crm.relationships.list", READ, "a person's relationships")

#: The kind of the reverse row for each kind ("A is parent of B" -> "B is child of A").
INVERSE: dict[RelationshipKind, RelationshipKind] = {
    RelationshipKind.SPOUSE: RelationshipKind.SPOUSE,
    RelationshipKind.PARENT: RelationshipKind.CHILD,
    RelationshipKind.CHILD: RelationshipKind.PARENT,
    RelationshipKind.SIBLING: RelationshipKind.SIBLING,
    RelationshipKind.EMPLOYER: RelationshipKind.EMPLOYEE,
    RelationshipKind.EMPLOYEE: RelationshipKind.EMPLOYER,
    RelationshipKind.REFERRED_BY: RelationshipKind.REFERRER,
    RelationshipKind.REFERRER: RelationshipKind.REFERRED_BY,
    RelationshipKind.COLLEAGUE: RelationshipKind.COLLEAGUE,
    RelationshipKind.OTHER: RelationshipKind.OTHER,
}


@attrs.frozen
class HouseholdView:
    """A household and the members the principal may see."""

    household: Household
    members: tuple[Person, ...]


def _person(uow: UnitOfWork, visibility: Visibility, field: str, person_id: object) -> Person:
    """Return a visible person; a bad id is ``ValidationFailed``, an unseen one ``NotFound``."""
    return visibility.get(Person, person_id, field)


def _household(visibility: Visibility, household_id: object) -> Household:
    """Return a visible household (one with a visible member, or none); else ``NotFound``."""
    return visibility.get(Household, household_id, "household_id")


def _members(uow: UnitOfWork, household_id: UUID) -> list[Person]:
    query = Query((Eq("household_id", household_id),), (asc("normalized_name"),), MAX_PAGE_SIZE)
    return list(uow.crm.people.list(query))


class RelationshipService(Service):
    """Households and typed relationships between people."""

    @serves(CREATE_HOUSEHOLD)
    def create_household(
        self, principal: Principal, *, household_name: str, notes: str | None = None
    ) -> Household:
        """Create an empty household."""
        now = self.clock.now()
        return self._create_audited(
            principal,
            CREATE_HOUSEHOLD,
            lambda _uow: Household(
                household_name=household_name, notes=notes, created_at=now, updated_at=now
            ),
            domain="crm",
        )

    @serves(GET_HOUSEHOLD)
    def get_household(self, principal: Principal, household_id: UUID) -> HouseholdView:
        """Read a household with its visible members; one with none visible is ``NotFound``."""
        with self._begin(principal, GET_HOUSEHOLD) as uow:
            visibility = self._visibility(uow, principal)
            household = _household(visibility, household_id)
            everyone = _members(uow, household.key)
            seen = visibility.visible(m.key for m in everyone)
            members = [m for m in everyone if m.key in seen]
            return HouseholdView(household, tuple(members))

    @serves(ADD_MEMBER)
    def add_member(self, principal: Principal, household_id: UUID, person_id: UUID) -> Person:
        """Put a person in a household; one already in another household must leave it first."""
        with self._begin(principal, ADD_MEMBER) as uow:
            household, person = self._membership(uow, principal, household_id, person_id)
            if person.household_id == household.key:
                return person
            if person.household_id is not None:
                raise ValidationFailed(
                    "person_id",
                    f"already belongs to household {person.household_id}; remove them first",
                    value=person_id,
                )
            changed = self._move(uow, principal, ADD_MEMBER, household, person, to=household.key)
            uow.commit()
        return changed

    @serves(REMOVE_MEMBER)
    def remove_member(self, principal: Principal, household_id: UUID, person_id: UUID) -> Person:
        """Take a member out of a household (and out of its head, if they were)."""
        with self._begin(principal, REMOVE_MEMBER) as uow:
            household, person = self._membership(uow, principal, household_id, person_id)
            if person.household_id != household.key:
                raise ValidationFailed(
                    "person_id", f"is not a member of household {household.key}", value=person_id
                )
            changed = self._move(uow, principal, REMOVE_MEMBER, household, person, to=None)
            if household.head_person_id == person.key:
                headless = attrs.evolve(household, head_person_id=None)
                why = "the head left the household"
                self._update_audited(
                    uow, principal, SET_HEAD.name, household, headless, domain="crm", reason=why
                )
            uow.commit()
        return changed

    @serves(SET_HEAD)
    def set_head(self, principal: Principal, household_id: UUID, person_id: UUID) -> Household:
        """Name a member as the head of their household."""
        with self._begin(principal, SET_HEAD) as uow:
            household, person = self._membership(uow, principal, household_id, person_id)
            if person.household_id != household.key:
                raise ValidationFailed(
                    "person_id", "the head must be a member of the household", value=person_id
                )
            if household.head_person_id == person.key:
                return household
            headed = attrs.evolve(household, head_person_id=person.key)
            changed = self._update_audited(
                uow, principal, SET_HEAD.name, household, headed, domain="crm"
            )
            uow.commit()
        return changed

    def _membership(
        self, uow: UnitOfWork, principal: Principal, household_id: UUID, person_id: UUID
    ) -> tuple[Household, Person]:
        """The household and the person a membership call names, both visible (or refused)."""
        visibility = self._visibility(uow, principal)
        return _household(visibility, household_id), _person(
            uow, visibility, "person_id", person_id
        )

    def _move(
        self,
        uow: UnitOfWork,
        principal: Principal,
        operation: Operation,
        household: Household,
        person: Person,
        *,
        to: UUID | None,
    ) -> Person:
        """Put ``person`` in household ``to`` (``None``: none), audited on ``household``."""
        moved = attrs.evolve(person, household_id=to)
        return self._update_audited(
            uow, principal, operation.name, person, moved, domain="crm", target_ref=household.key
        )

    @serves(RELATE)
    def relate(
        self,
        principal: Principal,
        from_person_id: UUID,
        to_person_id: UUID,
        kind: RelationshipKind | str,
        since: date | None = None,
    ) -> Relationship:
        """Link two people both ways ("from is KIND of to"); return the forward row."""
        now = self.clock.now()
        with self._begin(principal, RELATE) as uow:
            forward = Relationship(
                from_person_id=from_person_id,
                to_person_id=to_person_id,
                kind=RelationshipKind(kind),
                since=since,
                created_at=now,
                updated_at=now,
            )
            backward = Relationship(
                from_person_id=forward.to_person_id,
                to_person_id=forward.from_person_id,
                kind=INVERSE[forward.kind],
                since=since,
                created_at=now,
                updated_at=now,
            )
            visibility = self._visibility(uow, principal)
            _person(uow, visibility, "from_person_id", from_person_id)
            _person(uow, visibility, "to_person_id", to_person_id)
            for row in (forward, backward):
                same = (
                    Eq("from_person_id", row.from_person_id),
                    Eq("to_person_id", row.to_person_id),
                    Eq("kind", row.kind),
                )
                if uow.crm.relationships.count(*same) > 0:
                    raise AlreadyExists(
                        "crm_relationships",
                        "from_person_id, to_person_id, kind",
                        {
                            "from_person_id": row.from_person_id,
                            "to_person_id": row.to_person_id,
                            "kind": row.kind.value,
                        },
                    )
            uow.crm.relationships.add_many([forward, backward])
            self._audit(
                uow,
                principal,
                RELATE.name,
                target_domain="crm",
                target_ref=forward.key,
                after=forward,
                details={"inverse_relationship_id": str(backward.key)},
            )
            uow.commit()
        return forward

    @serves(UNRELATE)
    def unrelate(self, principal: Principal, relationship_id: UUID) -> None:
        """Remove a link and its inverse row."""
        with self._begin(principal, UNRELATE) as uow:
            visibility = self._visibility(uow, principal)
            row = visibility.get(Relationship, relationship_id, "relationship_id")
            inverse = uow.crm.relationships.list(
                Query(
                    (
                        Eq("from_person_id", row.to_person_id),
                        Eq("to_person_id", row.from_person_id),
                        Eq("kind", INVERSE[row.kind]),
                    ),
                    limit=1,
                )
            )
            uow.crm.relationships.delete(row.key)
            for other in inverse:
                uow.crm.relationships.delete(other.key)
            self._audit(
                uow,
                principal,
                UNRELATE.name,
                target_domain="crm",
                target_ref=row.key,
                before=row,
                details={"inverse_relationship_ids": [str(o.key) for o in inverse]},
            )
            uow.commit()

    @serves(LIST_RELATIONSHIPS)
    def relationships_of(self, principal: Principal, person_id: UUID) -> list[Relationship]:
        """A person's links, read from their side, to people the principal may see."""
        with self._begin(principal, LIST_RELATIONSHIPS) as uow:
            visibility = self._visibility(uow, principal)
            _person(uow, visibility, "person_id", person_id)
            query = Query(
                (Eq("from_person_id", person_id),),
                (asc("kind"), asc("created_at")),
                MAX_PAGE_SIZE,
            )
            links = uow.crm.relationships.list(query).items
            seen = visibility.visible(r.to_person_id for r in links)
            return [r for r in links if r.to_person_id in seen]
