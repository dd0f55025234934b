"""The client summary list (spec section 11): every client in one line, filtered, sorted, paged.

One line per live client (a person not merged into another): the name, the
assigned user (the contact's owner), the time and channel of the latest
interaction, the number and value of the open deals, and the QD summary (the
``overall`` score and its :class:`QdBand`). Filters: a user's slice
(``assigned_user_id``: the clients that user owns or holds a lead or a deal
of, exactly what that user sees without ``crm.contacts.read_all``), a deal
stage, a project of interest (an active interest naming the project), a
last-activity range and a QD band. Sorts: by last activity (the default,
newest first), by QD (highest first) or by name (``Person.normalized_name``,
by code point); clients with no activity or no score come last. Pages follow
a signed keyset cursor, so the cost of a page does not grow with its depth.

Visibility: a principal with ``crm.contacts.read_all`` sees everyone; anyone
else sees only their own slice, as every other read does.

The list is a derived read model, never a second source of truth. The
generic path (:class:`GenericSummaryPages`, the in-memory store's) computes
every line from the canonical tables when asked. A store may answer from a
projection of its own (PostgreSQL keeps ``crm_client_summaries`` in step
with every write in the same transaction) as long as its answers are the
generic path's: the contract suite compares them. The line, the filter, the
sorts and the store port are in :mod:`.summary_ports`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.client_graph.summary_ports import (
    EVERYONE,
    NO_ACTIVITY,
    NO_SCORE,
    ClientSummary,
    QdBand,
    SummaryFilter,
    SummaryPages,
    SummarySort,
)
from velocity_domain.crm.entities import (
    Lead,
    Opportunity,
    OpportunityStage,
    Person,
    PropertyInterest,
    PropertyInterestStatus,
)
from velocity_domain.errors import ValidationFailed
from velocity_domain.governance.service import Service, serves
from velocity_domain.intel.entities import Interaction, QdScore, QdScoreType
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, CursorValue, Page, PageRequest
from velocity_domain.kernel.query import Eq, IsNull
from velocity_domain.kernel.repository import every
from velocity_domain.uow import UnitOfWork

__all__ = [
    "CLIENT_SUMMARIES",
    "GenericSummaryPages",
    "SummaryLine",
    "SummaryListing",
    "summary_lines",
]

#: The deal stages after which a deal is no longer open.
_CLOSED = frozenset({OpportunityStage.WON, OpportunityStage.LOST})
#: The permission that reveals each part of a line.
_PART_PERMISSIONS = {
    "activity": "crm.interactions.read",
    "deals": "crm.opportunities.read",
    "qd": "crm.qd.read",
}


@attrs.frozen
class SummaryLine:
    """A client's summary with what the filters and sorts need (the generic path's row)."""

    summary: ClientSummary
    name_key: str
    #: The users whose slice holds the client (owner and assignees), :data:`EVERYONE` included.
    viewers: frozenset[UUID]
    stages: frozenset[OpportunityStage]
    project_ids: frozenset[UUID]

    def sort_key(self, sort: SummarySort) -> tuple[CursorValue, UUID]:
        """The keyset key of this line in ``sort`` (the client's id breaks ties)."""
        s = self.summary
        if sort is SummarySort.NAME:
            return (self.name_key, s.person_id)
        if sort is SummarySort.QD:
            return (NO_SCORE if s.qd is None else s.qd, s.person_id)
        return (s.last_activity_at or NO_ACTIVITY, s.person_id)

    def keeps(self, viewer: UUID, where: SummaryFilter) -> bool:
        """Whether this line is in ``viewer``'s slice and passes ``where``."""
        s = self.summary
        low, high = (None, None) if where.qd_band is None else where.qd_band.bounds
        score = NO_SCORE if s.qd is None else s.qd
        return (
            viewer in self.viewers
            and (where.assigned_user_id is None or where.assigned_user_id in self.viewers)
            and (where.stage is None or where.stage in self.stages)
            and (where.project_id is None or where.project_id in self.project_ids)
            and _active_within(s.last_activity_at, where)
            and (low is None or high is None or low <= score < high)
        )


def _active_within(active: datetime | None, where: SummaryFilter) -> bool:
    """Whether ``active`` is in ``where``'s activity range (no activity is in none)."""
    if where.active_from is None and where.active_to is None:
        return True
    return (
        active is not None
        and (where.active_from is None or active >= where.active_from)
        and (where.active_to is None or active < where.active_to)
    )


class GenericSummaryPages:
    """The summary list computed from the canonical tables at read time (any store)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def page(
        self,
        viewer: UUID,
        where: SummaryFilter,
        sort: SummarySort,
        after: tuple[CursorValue, UUID] | None,
        limit: int,
    ) -> list[tuple[ClientSummary, tuple[CursorValue, UUID]]]:
        """See :meth:`SummaryPages.page`."""
        down = sort.descending
        keyed = [
            (line.sort_key(sort), line.summary)
            for line in summary_lines(self._uow)
            if line.keeps(viewer, where)
        ]
        if after is not None:
            keyed = [k for k in keyed if (_before(k[0], after) if down else _before(after, k[0]))]
        keyed.sort(key=lambda k: k[0], reverse=down)
        return [(summary, key) for key, summary in keyed[:limit]]


def _before(a: tuple[CursorValue, UUID], b: tuple[CursorValue, UUID]) -> bool:
    """Whether key ``a`` sorts before key ``b`` (both keys of the same sort)."""
    first, second = a[0], b[0]
    if first != second:
        return first < second  # type: ignore[operator]
    return a[1] < b[1]


def summary_lines(uow: UnitOfWork) -> list[SummaryLine]:
    """Every live client's :class:`SummaryLine`, computed from the canonical tables.

    This is the definition of the summary list: a store's own projection
    must give the same lines.
    """
    latest: dict[UUID, Interaction] = {}
    for i in every(uow.intel.interactions):
        held = latest.get(i.person_id)
        if held is None or (i.happened_at, i.key) > (held.happened_at, held.key):
            latest[i.person_id] = i
    deals: dict[UUID, list[Opportunity]] = {}
    for deal in every(uow.crm.opportunities):
        deals.setdefault(deal.person_id, []).append(deal)
    leads: dict[UUID, list[Lead]] = {}
    for lead in every(uow.crm.leads):
        leads.setdefault(lead.person_id, []).append(lead)
    projects: dict[UUID, set[UUID]] = {}
    active = Eq("status", PropertyInterestStatus.ACTIVE)
    interest: PropertyInterest
    for interest in every(uow.crm.property_interests, active):
        if interest.project_id is not None:
            projects.setdefault(interest.person_id, set()).add(interest.project_id)
    scores = {
        s.person_id: s.current_value
        for s in every(
            uow.table(QdScore), IsNull("interaction_id"), Eq("score_type", QdScoreType.OVERALL)
        )
    }
    return [
        _line(
            p,
            latest=latest.get(p.key),
            deals=deals.get(p.key, []),
            leads=leads.get(p.key, []),
            projects=projects.get(p.key, set()),
            score=scores.get(p.key),
        )
        for p in every(uow.crm.people, IsNull("merged_into_person_id"))
    ]


def _line(
    person: Person,
    *,
    latest: Interaction | None,
    deals: list[Opportunity],
    leads: list[Lead],
    projects: set[UUID],
    score: Decimal | None,
) -> SummaryLine:
    open_deals = [d for d in deals if d.stage not in _CLOSED]
    pipeline: dict[str, Decimal] = {}
    for deal in open_deals:
        if deal.value is not None:
            pipeline[deal.currency] = pipeline.get(deal.currency, Decimal(0)) + deal.value
    holders = {
        person.owner_user_id,
        *(lead.assigned_user_id for lead in leads),
        *(deal.assigned_user_id for deal in deals),
    }
    return SummaryLine(
        summary=ClientSummary(
            person_id=person.key,
            full_name=person.full_name,
            assigned_user_id=person.owner_user_id,
            last_activity_at=None if latest is None else latest.happened_at,
            last_channel=None if latest is None else latest.channel,
            open_deals=len(open_deals),
            pipeline_value=pipeline,
            qd=score,
            qd_band=QdBand.of(score),
        ),
        name_key=person.normalized_name,
        viewers=frozenset({EVERYONE, *(h for h in holders if h is not None)}),
        stages=frozenset(d.stage for d in deals),
        project_ids=frozenset(projects),
    )


CLIENT_SUMMARIES = register(
    "crm.client_summaries.read",
    "crm.contacts.read",
    "list clients with their latest activity, open deals and QD",
)


def _sort_cursor_key(raw: tuple[CursorValue, ...], sort: SummarySort) -> tuple[CursorValue, UUID]:
    kinds = {SummarySort.NAME: str, SummarySort.QD: Decimal, SummarySort.LAST_ACTIVITY: datetime}
    if len(raw) != 2 or not isinstance(raw[0], kinds[sort]) or not isinstance(raw[1], UUID):
        raise ValidationFailed("cursor", "does not fit this listing's order")
    return (raw[0], raw[1])


class SummaryListing(Service):
    """The client summary list of the client graph gateway."""

    @serves(CLIENT_SUMMARIES)
    def summaries(
        self,
        principal: Principal,
        *,
        sort: SummarySort | str = SummarySort.LAST_ACTIVITY,
        assigned_user_id: UUID | None = None,
        stage: OpportunityStage | str | None = None,
        project_id: UUID | None = None,
        active_from: datetime | None = None,
        active_to: datetime | None = None,
        qd_band: QdBand | str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[ClientSummary]:
        """One page of the clients ``principal`` sees, filtered and sorted; see the module.

        ``sort`` is ``last_activity`` (newest first), ``qd`` (highest first)
        or ``name``. Every filter given must hold. ``cursor`` (a page's
        ``next_cursor``) continues the same listing: same sort, same filters.
        A part the principal may not read (activity without
        ``crm.interactions.read``, deals without ``crm.opportunities.read``,
        QD without ``crm.qd.read``) is empty in every line and named in its
        ``omitted``; sorting or filtering by such a part is ``PermissionDenied``.
        """
        order = SummarySort(sort)
        where = SummaryFilter(
            assigned_user_id=assigned_user_id,
            stage=None if stage is None else OpportunityStage(stage),
            project_id=project_id,
            active_from=active_from,
            active_to=active_to,
            qd_band=None if qd_band is None else QdBand(qd_band),
        )
        PageRequest(limit, cursor)  # refuses a limit out of range, naming it
        hidden = [p for p, need in _PART_PERMISSIONS.items() if not principal.has(need)]
        _refuse_hidden_use(principal, hidden, order, where)
        with self._reading(principal, CLIENT_SUMMARIES) as uow:
            seen = self._visibility(uow, principal)
            viewer = EVERYONE if seen.sees_everyone else principal.user_id
            if viewer is None:
                return Page(())
            scope = f"client_summaries:{order.value}:{viewer}:{where.scope}"
            after = None
            if cursor is not None:
                after = _sort_cursor_key(uow.cursors.decode(cursor, scope), order)
            pages: SummaryPages = uow.extension(SummaryPages) or GenericSummaryPages(uow)  # type: ignore[type-abstract]
            found = list(pages.page(viewer, where, order, after, limit + 1))
            more = len(found) > limit
            lines = found[:limit]
            next_cursor = uow.cursors.encode(scope, lines[-1][1]) if more else None
            return Page(tuple(s.without(hidden) for s, _ in lines), next_cursor)


def _refuse_hidden_use(
    principal: Principal, hidden: list[str], order: SummarySort, where: SummaryFilter
) -> None:
    """Raise ``PermissionDenied`` for a sort or a filter on a part ``principal`` may not read."""
    uses = {
        "activity": order is SummarySort.LAST_ACTIVITY
        or where.active_from is not None
        or where.active_to is not None,
        "deals": where.stage is not None,
        "qd": order is SummarySort.QD or where.qd_band is not None,
    }
    for part in hidden:
        if uses[part]:
            principal.require(_PART_PERMISSIONS[part], CLIENT_SUMMARIES.name)
