"""The interactions route family (``/api/crm/interactions``): timeline and detail.

Sensitive content (message texts, email bodies, recordings, transcripts) is
withheld from principals without ``intel.artifacts.read_sensitive``, and
every read that reveals it is audited.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.access.redaction import READ_SENSITIVE, ArtifactView, is_sensitive, view
from velocity_domain.access.visibility import Visibility
from velocity_domain.crm.entities import Lead, Opportunity, Person
from velocity_domain.errors import ValidationFailed
from velocity_domain.governance.service import Service, serves
from velocity_domain.intel.channels import check_details, visit_type
from velocity_domain.intel.entities import (
    Call,
    Channel,
    Direction,
    Email,
    Interaction,
    InteractionType,
    Message,
    Transcript,
    Visit,
    VisitStatus,
)
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, In, Query
from velocity_domain.uow import UnitOfWork

__all__ = ["InteractionDetail", "InteractionService"]

TIMELINE = register("crm.interactions.timeline", "crm.interactions.read", "a client's timeline")
GET = register(
    "crm.interactions.get", "crm.interactions.read", "one interaction with its artifacts"
)
LOG = register(
    "crm.interactions.log",
    "crm.interactions.write",
    "log an interaction with its channel detail (message, call, email, visit)",
)
SENSITIVE_READ_ACTION = "intel.artifacts.read_sensitive"


@attrs.frozen
class InteractionDetail:
    """One interaction and its channel artifacts, as the principal may see them."""

    interaction: Interaction
    artifacts: tuple[ArtifactView, ...]


class InteractionService(Service):
    """Interactions as the interactions route family shows them."""

    @serves(TIMELINE)
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
        with self._reading(principal, TIMELINE) as uow:
            self._visibility(uow, principal).check("crm_people", person_id, person_id)
            page = uow.intel.timeline(
                person_id, channels=channels, since=since, until=until, limit=limit, cursor=cursor
            )
            if not page.items:  # someone who does not exist, or was merged into another
                self._visibility(uow, principal).refuse_merged(uow.crm.people.get(person_id))
            return page

    @serves(GET)
    def get(self, principal: Principal, interaction_id: UUID) -> InteractionDetail:
        """One interaction with its messages, call, recordings, transcripts or email."""
        with self._begin(principal, GET) as uow:
            visibility = self._visibility(uow, principal)
            interaction = visibility.get(Interaction, interaction_id, "interaction_id")
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

    @serves(LOG)
    def log(
        self,
        principal: Principal,
        *,
        person_id: UUID,
        channel: Channel | str,
        happened_at: datetime,
        interaction_type: InteractionType | str = InteractionType.OTHER,
        summary: str | None = None,
        direction: Direction | str | None = None,
        lead_id: UUID | None = None,
        opportunity_id: UUID | None = None,
        message: Mapping[str, Any] | None = None,
        call: Mapping[str, Any] | None = None,
        transcript: Mapping[str, Any] | None = None,
        email: Mapping[str, Any] | None = None,
        visit: Mapping[str, Any] | None = None,
    ) -> Interaction:
        """Log an interaction and its channel detail rows in one transaction.

        Each detail is a dict of its table's fields and must fit the channel
        (``call`` and ``transcript`` for a call, ``message`` for a message or
        WhatsApp, ``email`` for an email, ``visit`` for a visit or meeting);
        a mismatch or a bad field is ``ValidationFailed`` naming ``detail.field``.
        """
        now = self.clock.now()
        with self._begin(principal, LOG) as uow:
            visibility = self._visibility(uow, principal)
            visibility.get(Person, person_id, "person_id")
            _check_links(visibility, person_id, lead_id, opportunity_id)
            fields: dict[str, Any] = {
                "person_id": person_id,
                "lead_id": lead_id,
                "opportunity_id": opportunity_id,
                "channel": channel,
                "interaction_type": interaction_type,
                "direction": direction,
                "happened_at": happened_at,
                "summary": summary,
                "recorded_by_user_id": principal.user_id,
                "recorded_at": now,
            }
            interaction = Interaction(**fields)
            given = {
                "message": message,
                "call": call,
                "transcript": transcript,
                "email": email,
                "visit": visit,
            }
            check_details(interaction.channel, (k for k, v in given.items() if v is not None))
            at = interaction.happened_at
            rows: list[Entity] = []
            if message is not None:
                rows.append(
                    _detail(
                        "message",
                        message,
                        Message,
                        {"interaction_id": interaction.key, "sent_at": at},
                    )
                )
            if call is not None:
                the_call = _detail(
                    "call",
                    call,
                    Call,
                    {
                        "interaction_id": interaction.key,
                        "started_at": at,
                        "call_direction": interaction.direction,
                    },
                )
                rows.append(the_call)
                if transcript is not None:
                    rows.append(
                        _detail("transcript", transcript, Transcript, {"call_id": the_call.key})
                    )
            if email is not None:
                rows.append(
                    _detail(
                        "email", email, Email, {"interaction_id": interaction.key, "sent_at": at}
                    )
                )
            if visit is not None:
                rows.append(
                    _detail(
                        "visit",
                        visit,
                        Visit,
                        {
                            "interaction_id": interaction.key,
                            "person_id": person_id,
                            "opportunity_id": opportunity_id,
                            "visited_at": at,
                            "status": VisitStatus.DONE,
                            "visit_type": visit_type(interaction.channel),
                            "created_at": now,
                            "updated_at": now,
                        },
                    )
                )
            names = {
                Message: "message",
                Call: "call",
                Transcript: "transcript",
                Email: "email",
                Visit: "visit",
            }
            for row in rows:
                _check_refs(uow, names[type(row)], row)
            uow.intel.interactions.add(interaction)
            for row in rows:
                self._add_detail(uow, row)
            self._audit(
                uow,
                principal,
                LOG.name,
                target_domain="intel",
                target_ref=interaction.key,
                after=interaction,
                details={"detail_rows": [f"{row.table_name}:{row.key}" for row in rows]},
            )
            uow.commit()
        return interaction

    @staticmethod
    def _add_detail(uow: UnitOfWork, row: Entity) -> None:
        if isinstance(row, Message):
            uow.intel.messages.add(row)
        elif isinstance(row, Call):
            uow.intel.calls.add(row)
        elif isinstance(row, Transcript):
            uow.intel.transcripts.add(row)
        elif isinstance(row, Email):
            uow.intel.emails.add(row)
        elif isinstance(row, Visit):
            uow.intel.visits.add(row)


#: The fields a caller may give in each detail; keys and links are the service's.
_DETAIL_FIELDS: dict[str, frozenset[str]] = {
    "message": frozenset(
        {"sender_role", "message_text", "sent_at", "delivered_at", "metadata_json"}
        | {"source_system", "source_ref"}
    ),
    "call": frozenset(
        {"call_direction", "outcome", "from_phone", "to_phone", "agent_user_id", "started_at"}
        | {"ended_at", "duration_seconds", "recording_ref", "transcript_ref"}
    ),
    "transcript": frozenset(
        {"full_text", "language", "speaker_segments_json", "confidence", "engine"}
        | {"transcribed_at"}
    ),
    "email": frozenset(
        {"message_id_header", "in_reply_to", "subject", "from_address", "to_addresses"}
        | {"cc_addresses", "bcc_addresses", "body", "body_html", "attachments_json"}
        | {"sent_at", "received_at"}
    ),
    "visit": frozenset(
        {"project_id", "unit_id", "visit_type", "status", "visited_at", "visit_notes"}
        | {"host_user_id"}
    ),
}


def _detail(
    name: str,
    given: Mapping[str, Any],
    build: Callable[..., Entity],
    defaults: Mapping[str, Any],
) -> Entity:
    """Build one channel detail row from the caller's dict (a mapping, checked as an argument).

    Errors name ``name.field``.
    """
    unknown = sorted(str(k) for k in given if k not in _DETAIL_FIELDS[name])
    if unknown:
        raise ValidationFailed(
            f"{name}.{unknown[0]}",
            f"is not a field of the {name} detail; allowed: "
            + ", ".join(sorted(_DETAIL_FIELDS[name])),
        )
    values = {**defaults, **{k: v for k, v in given.items() if v is not None}}
    try:
        return build(**values)
    except ValidationFailed as err:
        raise ValidationFailed(
            f"{name}.{err.field}", err.reason, value=err.value, entity=err.entity
        ) from None


def _check_links(
    visibility: Visibility, person_id: UUID, lead_id: UUID | None, opportunity_id: UUID | None
) -> None:
    """Refuse a lead or opportunity that does not exist (or is hidden) or is another person's."""
    links: tuple[tuple[str, type[Lead | Opportunity], UUID | None], ...] = (
        ("lead_id", Lead, lead_id),
        ("opportunity_id", Opportunity, opportunity_id),
    )
    for field, cls, key in links:
        if key is None:
            continue
        row = visibility.referenced(cls, key, field)
        if row.person_id != person_id:
            raise ValidationFailed(field, "belongs to another person", value=key)


def _check_refs(uow: UnitOfWork, name: str, row: Entity) -> None:
    """Refuse a detail naming a user, project or unit that does not exist."""
    checks: tuple[tuple[str, Any], ...] = (
        ("agent_user_id", uow.identity.users),
        ("host_user_id", uow.identity.users),
        ("project_id", uow.inventory.projects),
        ("unit_id", uow.inventory.units),
    )
    for field, table in checks:
        key = getattr(row, field, None)
        if key is not None and table.find(key) is None:
            raise ValidationFailed(f"{name}.{field}", "names no row", value=key)


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
