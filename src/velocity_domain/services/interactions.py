"""The interactions route family (``/api/crm/interactions``): timeline and detail.

Sensitive content (message texts, email bodies, recordings, transcripts) is
withheld from principals without ``intel.artifacts.read_sensitive``, and
every read that reveals it is audited.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.access.redaction import READ_SENSITIVE, ArtifactView, is_sensitive, view
from velocity_domain.errors import NotFound
from velocity_domain.intel.entities import Channel, Interaction
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, In, Query
from velocity_domain.services.base import Service
from velocity_domain.uow import UnitOfWork

__all__ = ["InteractionDetail", "InteractionService"]

TIMELINE = register("crm.interactions.timeline", "crm.interactions.read", "a client's timeline")
GET = register(
    "crm.interactions.get", "crm.interactions.read", "one interaction with its artifacts"
)
SENSITIVE_READ_ACTION = "intel.artifacts.read_sensitive"


@attrs.frozen
class InteractionDetail:
    """One interaction and its channel artifacts, as the principal may see them."""

    interaction: Interaction
    artifacts: tuple[ArtifactView, ...]


class InteractionService(Service):
    """Interactions as the interactions route family shows them."""

    def timeline(
        self,
        principal: Principal,
        person_id: UUID,
        *,
        channels: list[Channel | str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Interaction]:
        """A client's interactions, newest first; a client one may not see is ``NotFound``."""
        with self._begin(principal, TIMELINE) as uow:
            self._visibility(uow, principal).check("crm_people", person_id, person_id)
            uow.crm.people.get(person_id)
            return uow.intel.timeline(
                person_id, channels=channels, since=since, until=until, limit=limit, cursor=cursor
            )

    def get(self, principal: Principal, interaction_id: UUID) -> InteractionDetail:
        """One interaction with its messages, call, recordings, transcripts or email."""
        with self._begin(principal, GET) as uow:
            interaction = uow.intel.interactions.get(interaction_id)
            visibility = self._visibility(uow, principal)
            if not visibility.can_see(interaction.person_id):
                raise NotFound("intel_interactions", interaction_id)
            reveal = principal.has(READ_SENSITIVE)
            rows = _artifacts_of(uow, interaction_id)
            views = tuple(view(row, reveal=reveal) for row in rows)
            revealed = [v for v, row in zip(views, rows, strict=True) if is_sensitive(type(row))]
            if reveal and revealed:
                self._audit(
                    uow,
                    principal,
                    SENSITIVE_READ_ACTION,
                    target_domain="intel",
                    target_ref=interaction_id,
                    details={"artifacts": [f"{v.table}:{v.key}" for v in revealed]},
                )
                uow.commit()
            return InteractionDetail(interaction, views)


def _artifacts_of(uow: UnitOfWork, interaction_id: UUID) -> list[Entity]:
    """The channel rows of one interaction: a fixed number of reads, whatever their count."""
    by_interaction = Query((Eq("interaction_id", interaction_id),), limit=MAX_PAGE_SIZE)
    rows: list[Entity] = []
    rows.extend(uow.intel.messages.list(by_interaction))
    rows.extend(uow.intel.emails.list(by_interaction))
    calls = list(uow.intel.calls.list(by_interaction))
    rows.extend(calls)
    if calls:
        by_call = Query((In("call_id", [c.key for c in calls]),), limit=MAX_PAGE_SIZE)
        rows.extend(uow.intel.call_recordings.list(by_call))
        rows.extend(uow.intel.transcripts.list(by_call))
    return rows
