"""``/api/crm/client-summaries``: every client the caller sees, one line each (domain: crm).

The route serves ``velocity.client_graph.summaries``: the clients' latest
activity, open deals and QD, filtered by the query parameters, in one of
three orders, in pages. A caller without ``crm.contacts.read_all`` lists
only their own slice; sorting or filtering by a part the caller may not
read (QD without ``crm.qd.read``, say) is 403.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from velocity_domain.api.routing import Call, Family, Param, Route, page_params
from velocity_domain.client_graph.summary_ports import ClientSummary, QdBand, SummarySort
from velocity_domain.crm.entities import OpportunityStage

__all__ = ["FAMILY"]

PREFIX = "/api/crm/client-summaries"


def _list(call: Call) -> Any:
    return call.velocity.client_graph.summaries(
        call.principal,
        **call.query(
            "sort",
            "assigned_user_id",
            "stage",
            "project_id",
            "active_from",
            "active_to",
            "qd_band",
            "limit",
            "cursor",
        ),
    )


FAMILY = Family(
    name="crm.client_summaries",
    domain="crm",
    prefix=PREFIX,
    summary="Client summaries: each client in one line, filtered, sorted and paged.",
    routes=(
        Route(
            "GET",
            "",
            "crm.client_summaries.read",
            "List the clients the caller sees with their latest activity, open deals and QD.",
            _list,
            params=(
                Param(
                    "sort",
                    SummarySort,
                    default=SummarySort.LAST_ACTIVITY,
                    description="last_activity (newest first), qd (highest first) or name",
                ),
                Param(
                    "assigned_user_id",
                    UUID | None,
                    description="the clients this user owns or holds a lead or deal of",
                ),
                Param("stage", OpportunityStage | None, description="clients with a deal in it"),
                Param(
                    "project_id",
                    UUID | None,
                    description="clients with an active interest naming this project",
                ),
                Param("active_from", datetime | None, description="latest activity, inclusive"),
                Param("active_to", datetime | None, description="latest activity, exclusive"),
                Param("qd_band", QdBand | None, description="the band of the overall QD score"),
                *page_params(),
            ),
            returns=ClientSummary,
            many=True,
        ),
    ),
)
