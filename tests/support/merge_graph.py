"""A client graph for merge tests: the sample world plus a duplicate of its client.

The duplicate is referred to by a copy of every sample row that refers to the
client (leads, deals, interactions, threads, visits, reminders, QD points and
scores, relationships, evidence), and also heads the household and holds a
unit, so a merge of the two moves a row of every kind, collapses a repeated
relationship and leaves a QD summary behind. :func:`graph` reads every row
that names the given people, for before/after comparisons.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import attrs

from velocity_domain import Velocity
from velocity_domain.crm.entities import Household, Person
from velocity_domain.inventory.entities import Unit, UnitStatus
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.tableinfo import table_info
from velocity_domain.services.crm.merging import references
from velocity_domain.testing import SampleWorld, seed, seed_world, unit_of_work


@attrs.frozen
class MergeGraph:
    """The sample world, the client's duplicate, and the rows made to refer to the duplicate."""

    world: SampleWorld
    duplicate: Person
    copies: tuple[Any, ...]

    @property
    def client(self) -> Person:
        """The sample world's client: the survivor of the tests' merges."""
        return self.world.client

    @property
    def people(self) -> tuple[UUID, UUID, UUID]:
        """Client, duplicate and spouse: everyone a merge here touches."""
        return (self.world.client.key, self.duplicate.key, self.world.spouse.key)


def _copy(row: Any, field: str, person: UUID) -> Any:
    """A copy of ``row`` naming ``person`` in ``field``, its other unique values made distinct."""
    info = table_info(type(row))
    changes: dict[str, Any] = {info.key_field: new_id(), field: person}
    for unique in info.uniques:
        if field in unique.fields:
            continue
        for name in unique.fields:
            value = getattr(row, name)
            if type(value) is str:
                changes[name] = value[:40] + "-dup"
                break
    return attrs.evolve(row, **changes)


def build_graph(velocity: Velocity) -> MergeGraph:
    """Seed the sample world and a duplicate of its client with a copy of every client row."""
    world = seed_world(velocity)
    client = world.client
    duplicate = Person(
        full_name="Rao, Asha",
        primary_phone=client.primary_phone,
        linkedin_url="https://www.linkedin.com/in/asha-rao",
        created_at=client.created_at,
        updated_at=client.updated_at,
    )
    seed(velocity, duplicate)
    copies = [
        _copy(row, field, duplicate.key)
        for row in world.rows
        for cls, field in references()
        if type(row) is cls and getattr(row, field) == client.key
    ]
    household = Household(
        household_name="Rao (second)",
        head_person_id=duplicate.key,
        created_at=client.created_at,
        updated_at=client.updated_at,
    )
    unit = Unit(
        project_id=world.project.key,
        unit_label="DUP-101",
        status=UnitStatus.HELD,
        held_for_person_id=duplicate.key,
        hold_expires_at=client.created_at.replace(year=2030),
        created_at=client.created_at,
        updated_at=client.updated_at,
    )
    seed(velocity, *copies, household, unit)
    return MergeGraph(world, duplicate, (*copies, household, unit))


def _plain(row: Any) -> dict[str, Any]:
    values = attrs.asdict(row, recurse=False)
    values.pop("version", None)
    values.pop("updated_at", None)
    return values


def graph(velocity: Velocity, people: Iterable[UUID]) -> dict[tuple[str, UUID], dict[str, Any]]:
    """Every row naming one of ``people`` (and the people), as values without version or time."""
    ids = list(people)
    found: dict[tuple[str, UUID], Any] = {}
    with unit_of_work(velocity, read_only=True) as uow:
        for person in uow.crm.people.get_many(ids).values():
            found[(Person.table_name, person.key)] = person
        for cls, field in references():
            for row in uow.table(cls).where_in(field, ids):
                found[(cls.table_name, row.key)] = row
    return {key: _plain(row) for key, row in found.items()}
