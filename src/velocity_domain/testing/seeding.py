"""Seeding and inspecting a store in tests, beneath the services.

A host's tests often need data in place before the behaviour they test:
fifty contacts, a deal in negotiation, another agent's client. Making each
through the services would test the services again, slowly; these helpers
write rows straight into the store instead. They skip permissions, the
writeback policy and the audit trail, so they belong in tests only; the
application itself goes through the services on
:class:`~velocity_domain.Velocity`.

>>> from velocity_domain import Principal, Velocity
>>> from velocity_domain.crm.entities import Person
>>> velocity = Velocity.in_memory()
>>> asha, ravi = seed(velocity, Person(full_name="Asha Rao"), Person(full_name="Ravi Iyer"))
>>> office = Principal.system("test")
>>> [p.full_name for p in velocity.contacts.list(office)]
['Asha Rao', 'Ravi Iyer']
>>> count(velocity, Person)
2
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.query import Filter
from velocity_domain.testing.samples import SampleWorld
from velocity_domain.uow import UnitOfWork

if TYPE_CHECKING:
    from velocity_domain.kernel.repository import Store
    from velocity_domain.velocity import Velocity

__all__ = ["count", "seed", "seed_world", "store_of", "unit_of_work"]

E = TypeVar("E", bound=Entity)


def unit_of_work(velocity: Velocity, *, read_only: bool = False) -> UnitOfWork:
    """A raw unit of work over ``velocity``'s store, for arranging and inspecting test data.

    It hands out every repository with no principal, policy or audit: use it
    to set up a state or to check what a service wrote, never in the
    application.
    """
    return velocity._unit_of_work(read_only=read_only)


def store_of(velocity: Velocity) -> Store:
    """The store under ``velocity`` (for tests of a store adapter itself)."""
    return velocity._store


def seed(velocity: Velocity, *rows: E) -> tuple[E, ...]:
    """Add ``rows`` in one transaction, in the order given (parents before children).

    A row that breaks a rule of the store (a duplicate key, a missing parent)
    fails the whole call with the library's error, and nothing is written.
    """
    with unit_of_work(velocity) as uow:
        for row in rows:
            uow.table(type(row)).add(row)
        uow.commit()
    return rows


def seed_world(velocity: Velocity) -> SampleWorld:
    """Seed a fresh :class:`~velocity_domain.testing.SampleWorld` (a row in every table)."""
    world = SampleWorld.build()
    seed(velocity, *world.rows)
    return world


def count(velocity: Velocity, table: type[Entity], *filters: Filter) -> int:
    """How many rows of ``table`` match ``filters`` (all of them without filters)."""
    with unit_of_work(velocity, read_only=True) as uow:
        return uow.table(table).count(*filters)
