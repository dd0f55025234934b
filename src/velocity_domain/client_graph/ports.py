"""Client 360's store port: one client's rows, read where a store can read them at once.

:class:`Client360Reader` is an extension port (``uow.extension``): a store
that has one answers every part of a client's view in one round trip; a
store without one (in memory) leaves client 360 to its generic reads. Both
hand :class:`Client360Rows` to the same assembly, so the answers can only
differ in the rows read, which the tests compare store by store.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Protocol
from uuid import UUID

import attrs

from velocity_domain.crm.entities import (
    Account,
    Household,
    Lead,
    Opportunity,
    Person,
    PersonMerge,
    PropertyInterest,
    Relationship,
)
from velocity_domain.intel.entities import Channel, Interaction, QdScore, Reminder, Visit
from velocity_domain.inventory.entities import Project, Unit
from velocity_domain.kernel.pagination import Page
from velocity_domain.kernel.query import Filter

__all__ = ["PARTS", "Client360Reader", "Client360Rows"]

#: The parts of a client's view that need a read permission besides seeing the client.
PARTS = ("leads", "opportunities", "accounts", "interactions", "visits", "tasks", "qd", "inventory")


@attrs.frozen
class Client360Rows:
    """The rows of one client's view, as stored; the service sorts and sums them.

    A part left out of ``parts`` is empty; the related people (household
    members, the other ends of relationships) are only those visible.
    """

    #: The client: the survivor of the merges followed from the id asked for.
    person: Person
    leads: tuple[Lead, ...]
    opportunities: tuple[Opportunity, ...]
    #: When each of ``opportunities`` last changed stage (those that never moved are absent).
    stage_changed: Mapping[UUID, datetime]
    #: The accounts of ``leads`` and ``opportunities``.
    accounts: tuple[Account, ...]
    household: Household | None
    #: The household's members not merged into another, the client among them.
    household_members: tuple[Person, ...]
    relationships_from: tuple[Relationship, ...]
    relationships_to: tuple[Relationship, ...]
    interests: tuple[PropertyInterest, ...]
    #: The projects and units the interests name, by key (empty without ``inventory``).
    projects: Mapping[UUID, Project]
    units: Mapping[UUID, Unit]
    #: A page of ``uow.intel.timeline`` for the client: the same rows and cursor.
    interactions: Page[Interaction]
    #: How many interactions the client has per channel (channels without any are absent).
    interactions_by_channel: Mapping[Channel, int]
    visits: tuple[Visit, ...]
    #: The client's reminders still open.
    open_tasks: tuple[Reminder, ...]
    #: The client's QD summary: its scores not tied to an interaction.
    qd: tuple[QdScore, ...]
    #: The executed merges into the client.
    merged_from: tuple[PersonMerge, ...]


class Client360Reader(Protocol):
    """A store's reading of every part of a client's view at once (an extension port)."""

    def read(
        self,
        client_id: UUID,
        *,
        visible: Filter | None,
        parts: Collection[str],
        interactions: int,
        cursor: str | None,
        merge_hops: int,
    ) -> Client360Rows | None:
        """The rows of ``client_id``'s view, or ``None`` when it is not found.

        ``visible`` is the filter on people keeping those the principal
        sees (``None``: everyone); the client, and every merged person
        followed to it, must pass it. A merged person is followed to its
        survivor over at most ``merge_hops`` people (the one asked for
        included). ``parts`` names the parts of :data:`PARTS` to read;
        ``interactions`` and ``cursor`` choose the page of the timeline, as
        ``uow.intel.timeline`` does (a cursor of another listing raises
        ``InvalidCursor``). A cursor is only looked at when the
        interactions are read.
        """
        ...
