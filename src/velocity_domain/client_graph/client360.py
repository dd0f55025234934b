"""Client 360 (``/api/crm/client-360/{client_id}``): one client's whole picture, read at once.

A derived read model (spec section 2): nothing here is stored; every part is
read from the canonical tables when asked, in a fixed number of statements
whatever the client's history. Record visibility applies to every part: a
client the principal may not see is ``NotFound``; related people they may not
see are left out of the household and the relationships. A part whose read
permission the principal lacks (leads without ``crm.leads.read``, the
interactions without ``crm.interactions.read``, ...) is left empty and named
in :attr:`Client360.omitted`. Interactions are the timeline's metadata, as
``velocity.interactions.timeline`` gives them; their contents are read
through the interactions service, redacted and audited there.

A merged person answers with its survivor (``Client360.person`` is the
survivor), as ``velocity.contacts.get`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.access.visibility import Visibility
from velocity_domain.client_graph.ports import Client360Reader, Client360Rows
from velocity_domain.client_graph.summaries import SummaryListing
from velocity_domain.crm.entities import (
    Account,
    Household,
    Lead,
    MergeStatus,
    Opportunity,
    OpportunityStage,
    Person,
    PersonMerge,
    PropertyInterest,
    Relationship,
    StagedEntity,
    StageHistory,
)
from velocity_domain.errors import NotFound, ValidationFailed
from velocity_domain.governance.service import serves
from velocity_domain.intel.entities import (
    Channel,
    Interaction,
    QdScore,
    Reminder,
    ReminderStatus,
    Visit,
)
from velocity_domain.inventory.entities import Project, Unit
from velocity_domain.kernel.arguments import uuid_arg
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Filter, IsNull
from velocity_domain.kernel.repository import ReadTable, every
from velocity_domain.uow import UnitOfWork

__all__ = ["CLIENT_360", "Client360", "ClientGraphService", "Deal", "Interest"]

CLIENT_360 = register("crm.client_360.read", "crm.contacts.read", "read a client's 360 view")

#: How many merges ``client_360`` follows from a merged person to its survivor.
_MERGE_HOPS = 8
#: The stages after which a deal is no longer open.
_CLOSED = frozenset({OpportunityStage.WON, OpportunityStage.LOST})
#: The read permission each part needs, besides seeing the client.
_PARTS = {
    "leads": "crm.leads.read",
    "opportunities": "crm.opportunities.read",
    "accounts": "crm.accounts.read",
    "interactions": "crm.interactions.read",
    "visits": "crm.interactions.read",
    "tasks": "crm.tasks.read",
    "qd": "crm.qd.read",
    "inventory": "inventory.read",
}


@attrs.frozen
class Deal:
    """An opportunity with how long it has been in its current stage."""

    opportunity: Opportunity
    #: When the deal entered its current stage (its creation, if it never moved).
    stage_since: datetime
    time_in_stage: timedelta


@attrs.frozen
class Interest:
    """A property interest with the inventory it names (``None`` when unnamed or not readable)."""

    interest: PropertyInterest
    project: Project | None
    unit: Unit | None


@attrs.frozen
class Client360:
    """Everything about one client the principal may see, read at one moment."""

    person: Person
    accounts: tuple[Account, ...]
    household: Household | None
    #: The household's members the principal sees (the client among them), by id.
    household_members: tuple[Person, ...]
    #: Relationships from the client, and to the client, with people the principal sees, by id.
    relationships_from: tuple[Relationship, ...]
    relationships_to: tuple[Relationship, ...]
    leads: tuple[Lead, ...]
    deals: tuple[Deal, ...]
    interests: tuple[Interest, ...]
    #: The latest interactions across every channel, newest first; more with ``next_cursor``.
    interactions: Page[Interaction]
    #: The client's visits, the latest first.
    visits: tuple[Visit, ...]
    open_tasks: tuple[Reminder, ...]
    #: The QD summary: the latest score of each type.
    qd: tuple[QdScore, ...]
    #: Merges into this client (who was merged into it), newest first.
    merged_from: tuple[PersonMerge, ...]
    #: How many interactions the client has on each channel that has any, by channel name.
    interactions_by_channel: dict[str, int]
    open_deals: int
    #: The value of the open deals, by currency (both dictionaries in key order).
    pipeline_value: dict[str, Decimal]
    #: The parts left empty because the principal lacks their read permission.
    omitted: tuple[str, ...] = ()


def _limit(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
        raise ValidationFailed("interactions", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return value


class ClientGraphService(SummaryListing):
    """The client graph aggregation gateway (spec section 6): client 360 and the summary list."""

    @serves(CLIENT_360)
    def client_360(
        self,
        principal: Principal,
        client_id: UUID,
        *,
        interactions: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Client360:
        """The 360 view of ``client_id``: a fixed number of statements whatever its history.

        ``interactions`` is the size of the page of latest interactions;
        ``cursor`` (a page's ``next_cursor``) continues it. On a store with
        its own :class:`~velocity_domain.client_graph.ports.Client360Reader`
        (PostgreSQL) the rows are read in one statement, else part by part.
        """
        size = _limit(interactions)
        key = uuid_arg(client_id, "client_id")
        with self._reading(principal, CLIENT_360) as uow:
            parts = frozenset(part for part, p in _PARTS.items() if principal.has(p))
            seen = self._visibility(uow, principal)
            store = uow.extension(Client360Reader)  # type: ignore[type-abstract]
            if store is None:
                person = self._client(uow, seen, key)
                rows = _read(uow, seen, person, parts, size=size, cursor=cursor)
            else:
                found = store.read(
                    key,
                    visible=seen.rule(),
                    parts=parts,
                    interactions=size,
                    cursor=cursor,
                    merge_hops=_MERGE_HOPS,
                )
                if found is None:
                    raise NotFound(Person.table_name, key)
                rows = found
            omitted = tuple(part for part in _PARTS if part not in parts)
            return _view(rows, self.clock.now(), omitted)

    @staticmethod
    def _client(uow: UnitOfWork, seen: Visibility, key: UUID) -> Person:
        person = uow.crm.people.find(key)
        for _ in range(_MERGE_HOPS):
            if person is None or not seen.may_see(person):
                raise NotFound(Person.table_name, key)
            if person.merged_into_person_id is None:
                return person
            person = uow.crm.people.find(person.merged_into_person_id)
        raise NotFound(Person.table_name, key)


def _read(
    uow: UnitOfWork,
    seen: Visibility,
    person: Person,
    parts: frozenset[str],
    *,
    size: int,
    cursor: str | None,
) -> Client360Rows:
    """The rows of ``person``'s view, part by part: the generic path of any store."""
    pid = person.key
    mine = Eq("person_id", pid)
    leads = _rows(uow.crm.leads, mine) if "leads" in parts else []
    deals = _rows(uow.crm.opportunities, mine) if "opportunities" in parts else []
    account_ids = {r.account_id for r in (*leads, *deals) if r.account_id is not None}
    accounts = list(uow.crm.accounts.get_many(account_ids).values()) if "accounts" in parts else []
    household = (
        None if person.household_id is None else uow.crm.households.find(person.household_id)
    )
    members: list[Person] = []
    if household is not None:
        members = _rows(
            uow.crm.people, Eq("household_id", household.key), IsNull("merged_into_person_id")
        )
    outgoing = uow.crm.relationships.where_in("from_person_id", [pid])
    incoming = uow.crm.relationships.where_in("to_person_id", [pid])
    others = {r.to_person_id for r in outgoing} | {r.from_person_id for r in incoming}
    visible = seen.visible([*others, *(m.key for m in members)])
    interests = _rows(uow.crm.property_interests, mine)
    projects: dict[UUID, Project] = {}
    units: dict[UUID, Unit] = {}
    if "inventory" in parts:
        projects = dict(
            uow.inventory.projects.get_many({i.project_id for i in interests if i.project_id})
        )
        units = dict(uow.inventory.units.get_many({i.unit_id for i in interests if i.unit_id}))
    page: Page[Interaction] = Page((), None)
    counts: dict[Channel, int] = {}
    visits: list[Visit] = []
    if "interactions" in parts:
        page = uow.intel.timeline(pid, limit=size, cursor=cursor)
        by_channel = uow.intel.interactions.count_by("channel", mine)
        counts = {Channel(c): n for c, n in by_channel.items()}
    if "visits" in parts:
        visits = _rows(uow.intel.visits, mine)
    tasks = (
        _rows(uow.intel.reminders, mine, Eq("status", ReminderStatus.OPEN))
        if "tasks" in parts
        else []
    )
    qd = _rows(uow.table(QdScore), mine, IsNull("interaction_id")) if "qd" in parts else []
    merged_from = uow.table(PersonMerge).where_in(
        "survivor_person_id", [pid], Eq("status", MergeStatus.EXECUTED)
    )
    return Client360Rows(
        person=person,
        leads=tuple(leads),
        opportunities=tuple(deals),
        stage_changed=_stage_changed(uow, deals),
        accounts=tuple(accounts),
        household=household,
        household_members=tuple(m for m in members if m.key in visible),
        relationships_from=tuple(r for r in outgoing if r.to_person_id in visible),
        relationships_to=tuple(r for r in incoming if r.from_person_id in visible),
        interests=tuple(interests),
        projects=projects,
        units=units,
        interactions=page,
        interactions_by_channel=counts,
        visits=tuple(visits),
        open_tasks=tuple(tasks),
        qd=tuple(qd),
        merged_from=tuple(merged_from),
    )


def _stage_changed(uow: UnitOfWork, deals: list[Opportunity]) -> dict[UUID, datetime]:
    """When each deal last changed stage, for those that ever did."""
    moves = uow.table(StageHistory).where_in(
        "entity_id", [d.key for d in deals], Eq("entity_type", StagedEntity.OPPORTUNITY)
    )
    changed: dict[UUID, datetime] = {}
    for move in moves:
        if move.entity_id not in changed or move.changed_at > changed[move.entity_id]:
            changed[move.entity_id] = move.changed_at
    return changed


def _view(rows: Client360Rows, now: datetime, omitted: tuple[str, ...]) -> Client360:
    """The view of a client from its rows: every part in its order, the sums made."""
    deals = rows.opportunities
    counts = {channel.value: n for channel, n in rows.interactions_by_channel.items() if n}
    return Client360(
        person=rows.person,
        accounts=tuple(sorted(rows.accounts, key=lambda a: (a.account_name, a.key))),
        household=rows.household,
        household_members=tuple(sorted(rows.household_members, key=lambda m: m.key)),
        relationships_from=tuple(sorted(rows.relationships_from, key=lambda r: r.key)),
        relationships_to=tuple(sorted(rows.relationships_to, key=lambda r: r.key)),
        leads=tuple(sorted(rows.leads, key=_newest, reverse=True)),
        deals=_deals(deals, rows.stage_changed, now),
        interests=_interests(rows),
        interactions=rows.interactions,
        visits=tuple(sorted(rows.visits, key=lambda v: (v.visited_at, v.key), reverse=True)),
        open_tasks=tuple(sorted(rows.open_tasks, key=lambda t: (t.due_at, t.key))),
        qd=tuple(sorted(rows.qd, key=lambda s: s.score_type.value)),
        merged_from=tuple(sorted(rows.merged_from, key=_newest, reverse=True)),
        interactions_by_channel=dict(sorted(counts.items())),
        open_deals=sum(1 for d in deals if d.stage not in _CLOSED),
        pipeline_value=_pipeline(deals),
        omitted=omitted,
    )


def _deals(
    deals: tuple[Opportunity, ...], changed: Mapping[UUID, datetime], now: datetime
) -> tuple[Deal, ...]:
    found = [
        Deal(d, changed.get(d.key, d.created_at), now - changed.get(d.key, d.created_at))
        for d in deals
    ]
    return tuple(sorted(found, key=lambda d: _newest(d.opportunity), reverse=True))


def _newest(row: Any) -> tuple[datetime, str]:
    return (row.created_at, str(row.key))


def _rows(table: ReadTable[Any], *where: Filter) -> list[Any]:
    return list(every(table, *where))


def _interests(rows: Client360Rows) -> tuple[Interest, ...]:
    found = [
        Interest(
            i,
            None if i.project_id is None else rows.projects.get(i.project_id),
            None if i.unit_id is None else rows.units.get(i.unit_id),
        )
        for i in rows.interests
    ]
    return tuple(sorted(found, key=lambda i: _newest(i.interest), reverse=True))


def _pipeline(deals: tuple[Opportunity, ...]) -> dict[str, Decimal]:
    values: dict[str, Decimal] = {}
    for deal in deals:
        if deal.stage not in _CLOSED and deal.value is not None:
            values[deal.currency] = values.get(deal.currency, Decimal(0)) + deal.value
    return dict(sorted(values.items()))
