"""``/api/crm/opportunities``: the deal pipeline, its stage moves and history (domain: crm)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.api.routing import Call, Created, Family, Param, Route, page_params
from velocity_domain.crm.entities import Opportunity, OpportunityStage
from velocity_domain.errors import ConcurrencyConflict, InvalidTransition, MergedRecord

__all__ = ["FAMILY", "OpportunityChange", "OpportunityDraft", "StageMove", "StageStay"]

PREFIX = "/api/crm/opportunities"


@attrs.frozen
class OpportunityDraft:
    """A new deal of a person, opened at the pipeline's first stage (``new``).

    ``lead_id`` must be a lead of the same person. A caller who sees only
    their own clients holds the deal unless they name ``assigned_user_id``.
    """

    person_id: UUID
    lead_id: UUID | None = None
    account_id: UUID | None = None
    project_id: UUID | None = None
    unit_id: UUID | None = None
    value: Decimal | None = None
    currency: str = "INR"
    probability: Decimal | None = None
    expected_close_date: date | None = None
    next_action: str | None = None
    assigned_user_id: UUID | None = None
    source_system: str | None = None
    source_ref: str | None = None


@attrs.frozen
class OpportunityChange:
    """The details of a deal to change (not its stage); left out keeps, ``null`` clears.

    A change of ``value`` or ``assigned_user_id`` is held for approval by
    default (202 with the proposal's address).
    """

    account_id: UUID | None = None
    project_id: UUID | None = None
    unit_id: UUID | None = None
    value: Decimal | None = None
    currency: str | None = None
    probability: Decimal | None = None
    expected_close_date: date | None = None
    next_action: str | None = None
    assigned_user_id: UUID | None = None


@attrs.frozen
class StageMove:
    """A move of a deal to another stage of the pipeline.

    ``lost_reason`` is required for ``lost`` and refused for any other
    stage; ``reason`` is written to the stage history. A move to ``won`` or
    ``lost`` is held for approval by default.
    """

    to_stage: OpportunityStage
    reason: str | None = None
    lost_reason: str | None = None


@attrs.frozen
class StageStay:
    """One stay of a deal in a stage: when it entered, left (``null``: still there), how long.

    ``duration_seconds`` runs to now for the current open stage and is 0
    for the ``won`` or ``lost`` that closed the deal.
    """

    stage: OpportunityStage
    entered_at: datetime
    left_at: datetime | None
    duration_seconds: float


def _list(call: Call) -> Any:
    return call.velocity.opportunities.list(
        call.principal,
        **call.query("stage", "assigned_user_id", "project_id", "person_id", "limit", "cursor"),
    )


def _get(call: Call) -> Opportunity:
    return call.velocity.opportunities.get(call.principal, call["opportunity_id"])


def _create(call: Call) -> Created:
    deal = call.velocity.opportunities.create(call.principal, **call.arguments())
    return Created(deal, f"{PREFIX}/{deal.opportunity_id}")


def _update(call: Call) -> Opportunity:
    assert call.version is not None  # a conditional route always has one
    return call.velocity.opportunities.update(
        call.principal, call["opportunity_id"], expected_version=call.version, **call.given()
    )


def _move(call: Call) -> Opportunity:
    assert call.version is not None
    move: StageMove = call.body
    return call.velocity.opportunities.move_stage(
        call.principal,
        call["opportunity_id"],
        move.to_stage,
        expected_version=call.version,
        reason=move.reason,
        lost_reason=move.lost_reason,
    )


def _time_in_stages(call: Call) -> tuple[StageStay, ...]:
    spans = call.velocity.opportunities.time_in_stages(call.principal, call["opportunity_id"])
    return tuple(
        StageStay(span.stage, span.entered_at, span.left_at, span.duration.total_seconds())
        for span in spans
    )


_ID = Param("opportunity_id", UUID, where="path", description="the deal's opportunity_id")

FAMILY = Family(
    name="crm.opportunities",
    domain="crm",
    prefix=PREFIX,
    summary="Opportunities: the deal pipeline, moved stage by stage.",
    routes=(
        Route(
            "GET",
            "",
            "crm.opportunities.list",
            "List the deals the caller may see, newest first, by stage, assignee, project or"
            " person.",
            _list,
            params=(
                Param("stage", OpportunityStage | None),
                Param("assigned_user_id", UUID | None),
                Param("project_id", UUID | None),
                Param("person_id", UUID | None, description="the deals of this client"),
                *page_params(),
            ),
            returns=Opportunity,
            many=True,
            errors=(MergedRecord,),
        ),
        Route(
            "POST",
            "",
            "crm.opportunities.create",
            "Open a deal at the first stage of the pipeline.",
            _create,
            body=OpportunityDraft,
            returns=Opportunity,
            status=201,
            errors=(MergedRecord,),
        ),
        Route(
            "GET",
            "/{opportunity_id}",
            "crm.opportunities.get",
            "Read one deal (one of a client the caller may not see is not found).",
            _get,
            params=(_ID,),
            returns=Opportunity,
        ),
        Route(
            "PUT",
            "/{opportunity_id}",
            "crm.opportunities.update",
            "Change the details the body names, if the deal is at the If-Match version.",
            _update,
            params=(_ID,),
            body=OpportunityChange,
            returns=Opportunity,
            conditional=True,
            errors=(ConcurrencyConflict,),
        ),
        Route(
            "POST",
            "/{opportunity_id}/stage",
            "crm.opportunities.move_stage",
            "Move the deal to another stage, if the pipeline allows it and the deal is at the"
            " If-Match version.",
            _move,
            params=(_ID,),
            body=StageMove,
            returns=Opportunity,
            conditional=True,
            errors=(ConcurrencyConflict, InvalidTransition),
        ),
        Route(
            "GET",
            "/{opportunity_id}/time-in-stages",
            "crm.opportunities.time_in_stages",
            "Each stay of the deal in a stage, oldest first, with its duration.",
            _time_in_stages,
            params=(_ID,),
            returns=tuple[StageStay, ...],
        ),
    ),
)
