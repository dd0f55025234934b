"""``/api/crm/client-360/{client_id}``: one client's whole picture in one answer (domain: crm).

The route serves ``velocity.client_graph.client_360``: the person, accounts,
household, relationships, leads, deals, interests, a page of the latest
interactions, visits, open tasks, the QD summary and the merges into the
client. Parts the caller may not read are empty and named in ``omitted``;
a client the caller may not see is 404. The interactions part pages on its
own: its ``next_cursor`` goes back as the ``cursor`` query parameter.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

import attrs

from velocity_domain.api.routing import Call, Family, Param, Route, cursor_param
from velocity_domain.client_graph.client360 import Client360, Deal, Interest
from velocity_domain.crm.entities import (
    Account,
    Household,
    Lead,
    Opportunity,
    Person,
    PersonMerge,
    Relationship,
)
from velocity_domain.intel.entities import Interaction, QdScore, Reminder, Visit
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page

__all__ = ["FAMILY", "Client360View", "DealView"]

PREFIX = "/api/crm/client-360"


@attrs.frozen
class DealView:
    """A deal of the client with the time it entered its stage and the whole seconds since."""

    opportunity: Opportunity
    stage_since: datetime
    #: Whole seconds the deal has been in its current stage, as of the read.
    seconds_in_stage: int

    @classmethod
    def of(cls, deal: Deal) -> DealView:
        """The view of ``deal`` (its time in stage in whole seconds)."""
        return cls(deal.opportunity, deal.stage_since, int(deal.time_in_stage.total_seconds()))


@attrs.frozen
class Client360View:
    """The client 360 as sent: every part the caller may see, read at one moment.

    As :class:`~velocity_domain.client_graph.client360.Client360`, with each
    deal's time in stage in whole seconds. ``interactions`` is a page of the
    latest interactions (metadata only), newest first; ``omitted`` names the
    parts left empty because the caller lacks their read permission.
    """

    person: Person
    accounts: tuple[Account, ...]
    household: Household | None
    household_members: tuple[Person, ...]
    relationships_from: tuple[Relationship, ...]
    relationships_to: tuple[Relationship, ...]
    leads: tuple[Lead, ...]
    deals: tuple[DealView, ...]
    interests: tuple[Interest, ...]
    interactions: Page[Interaction]
    visits: tuple[Visit, ...]
    open_tasks: tuple[Reminder, ...]
    qd: tuple[QdScore, ...]
    merged_from: tuple[PersonMerge, ...]
    interactions_by_channel: dict[str, int]
    open_deals: int
    pipeline_value: dict[str, Decimal]
    omitted: tuple[str, ...]

    @classmethod
    def of(cls, view: Client360) -> Client360View:
        """The view of ``view`` as the route sends it."""
        parts = attrs.asdict(view, recurse=False)
        return cls(**{**parts, "deals": tuple(DealView.of(d) for d in view.deals)})


def _read(call: Call) -> Client360View:
    found = call.velocity.client_graph.client_360(
        call.principal, call["client_id"], **call.query("interactions", "cursor")
    )
    return Client360View.of(found)


FAMILY = Family(
    name="crm.client_360",
    domain="crm",
    prefix=PREFIX,
    summary="Client 360: one client's dossier, every part the caller may see, read at once.",
    routes=(
        Route(
            "GET",
            "/{client_id}",
            "crm.client_360.read",
            "Read a client's 360 view (a merged client answers with its survivor).",
            _read,
            params=(
                Param("client_id", UUID, where="path", description="the client's person_id"),
                Param(
                    "interactions",
                    int,
                    default=DEFAULT_PAGE_SIZE,
                    description=f"latest interactions per page, 1 to {MAX_PAGE_SIZE}",
                    minimum=1,
                    maximum=MAX_PAGE_SIZE,
                ),
                attrs.evolve(
                    cursor_param(), description="the interactions' next_cursor, for more of them"
                ),
            ),
            returns=Client360View,
        ),
    ),
)
