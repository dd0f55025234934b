"""``/api/crm/interactions``: a client's timeline, one touch in detail, logging one (domain: intel).

Sensitive content (message texts, email bodies, transcripts, recordings) is
sent only to a caller with ``intel.artifacts.read_sensitive``; for anyone
else those fields are ``null`` and named in the artifact's
``redacted_fields``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.api.routing import (
    REQUIRED,
    Call,
    Created,
    Family,
    Param,
    Route,
    page_params,
)
from velocity_domain.errors import MergedRecord, NotFound
from velocity_domain.intel.entities import Channel, Direction, Interaction, InteractionType
from velocity_domain.services.intel.interactions import InteractionDetail

__all__ = ["FAMILY", "InteractionDraft"]

PREFIX = "/api/crm/interactions"


@attrs.frozen
class InteractionDraft:
    """One contact with a client to log, with the detail of its channel.

    Each detail is an object of its table's fields and must fit the channel:
    ``call`` (and ``transcript``) for a call, ``message`` for a message or
    WhatsApp, ``email`` for an email, ``visit`` for a visit or meeting. A
    bad detail field is refused naming ``detail.field`` (``call.outcome``).
    ``lead_id`` and ``opportunity_id`` must be of the same client.
    """

    person_id: UUID
    channel: Channel
    happened_at: datetime
    interaction_type: InteractionType = InteractionType.OTHER
    summary: str | None = None
    direction: Direction | None = None
    lead_id: UUID | None = None
    opportunity_id: UUID | None = None
    message: dict[str, Any] | None = None
    call: dict[str, Any] | None = None
    transcript: dict[str, Any] | None = None
    email: dict[str, Any] | None = None
    visit: dict[str, Any] | None = None


def _timeline(call: Call) -> Any:
    return call.velocity.interactions.timeline(
        call.principal,
        call["person_id"],
        channels=call.params.get("channel"),
        **call.query("since", "until", "limit", "cursor"),
    )


def _get(call: Call) -> InteractionDetail:
    return call.velocity.interactions.get(call.principal, call["interaction_id"])


def _log(call: Call) -> Created:
    interaction = call.velocity.interactions.log(call.principal, **call.arguments())
    return Created(interaction, f"{PREFIX}/{interaction.interaction_id}")


FAMILY = Family(
    name="crm.interactions",
    domain="intel",
    prefix=PREFIX,
    summary="Interactions: a client's timeline of calls, messages, emails and visits.",
    routes=(
        Route(
            "GET",
            "",
            "crm.interactions.timeline",
            "A client's interactions, newest first, on the channels and in the time asked.",
            _timeline,
            params=(
                Param("person_id", UUID, default=REQUIRED, description="the client"),
                Param(
                    "channel",
                    list[Channel] | None,
                    description="only these channels (repeat the parameter for more than one)",
                ),
                Param("since", datetime | None, description="inclusive"),
                Param("until", datetime | None, description="exclusive"),
                *page_params(),
            ),
            returns=Interaction,
            many=True,
            errors=(MergedRecord, NotFound),
        ),
        Route(
            "POST",
            "",
            "crm.interactions.log",
            "Log an interaction with a client and its channel detail, in one transaction.",
            _log,
            body=InteractionDraft,
            returns=Interaction,
            status=201,
            errors=(NotFound,),
        ),
        Route(
            "GET",
            "/{interaction_id}",
            "crm.interactions.get",
            "One interaction with its messages, call, transcripts, recordings or email"
            " (sensitive content only with intel.artifacts.read_sensitive).",
            _get,
            params=(
                Param(
                    "interaction_id",
                    UUID,
                    where="path",
                    description="the interaction's interaction_id",
                ),
            ),
            returns=InteractionDetail,
        ),
    ),
)
