"""Interaction and evidence graph entities: one attrs class per ``intel_*`` table.

An interaction is the umbrella record of one contact with a person on one
channel; its messages, call (with recordings and transcripts) and email hang
off it. Raw evidence is append-only: those rows are never updated and never
cascade-deleted. Visits, reminders (the CRM tasks), WhatsApp threads and the
latest QD scores are mutable rows with a ``version``. Vehicle, perception and
CCTV evidence and the content-addressed blob index complete the graph.

>>> from datetime import UTC, datetime
>>> from uuid import uuid4
>>> c = Call(interaction_id=uuid4(), call_direction="inbound",
...          started_at=datetime(2026, 1, 5, 10, 0, tzinfo=UTC), duration_seconds=95)
>>> (c.call_direction, c.duration_seconds)
(<Direction.INBOUND: 'inbound'>, 95)
"""

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

import attrs

from velocity_domain.kernel import fields
from velocity_domain.kernel.constraints import Unique
from velocity_domain.kernel.fields import (
    choice,
    count,
    decimal,
    email,
    id_field,
    invalid,
    json_field,
    labels,
    long_text,
    phone,
    ratio,
    ref,
    sha256_hex,
    text,
    timestamp,
    url,
)
from velocity_domain.kernel.model import (
    Entity,
    VersionedEntity,
    check_not_before,
    check_only_when,
    check_set_exactly_when,
    check_source_pair,
)
from velocity_domain.kernel.query import IsNull

__all__ = [
    "LANGUAGE_TAG_PATTERN",
    "Call",
    "CallOutcome",
    "CallRecording",
    "CctvLink",
    "Channel",
    "Direction",
    "Email",
    "Interaction",
    "InteractionType",
    "Message",
    "PerceptionEvent",
    "PerceptionEventType",
    "QdScore",
    "QdScoreType",
    "QdTimeseriesPoint",
    "RecordingFormat",
    "Reminder",
    "ReminderPriority",
    "ReminderStatus",
    "ReminderType",
    "SenderRole",
    "SignalSource",
    "StoredBlob",
    "Transcript",
    "VehicleEvent",
    "VehicleMovement",
    "Visit",
    "VisitStatus",
    "VisitType",
    "WhatsAppThread",
]


class Channel(enum.StrEnum):
    """The channel an interaction happened on."""

    MESSAGE = "message"
    CALL = "call"
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    VISIT = "visit"
    MEETING = "meeting"
    OTHER = "other"


class InteractionType(enum.StrEnum):
    """What an interaction was for, in the sales conversation."""

    ENQUIRY = "enquiry"
    FOLLOW_UP = "follow_up"
    SITE_VISIT = "site_visit"
    NEGOTIATION = "negotiation"
    BOOKING = "booking"
    AFTER_SALES = "after_sales"
    BROADCAST = "broadcast"
    NOTE = "note"
    OTHER = "other"


class Direction(enum.StrEnum):
    """Who started a contact: the client (inbound), us (outbound) or staff among themselves."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class SenderRole(enum.StrEnum):
    """Who wrote a message."""

    CLIENT = "client"
    AGENT = "agent"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    OTHER = "other"


class CallOutcome(enum.StrEnum):
    """How a call ended."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    FAILED = "failed"


class RecordingFormat(enum.StrEnum):
    """The audio container or codec of a call recording."""

    MP3 = "mp3"
    WAV = "wav"
    OGG = "ogg"
    OPUS = "opus"
    M4A = "m4a"
    WEBM = "webm"
    AMR = "amr"
    OTHER = "other"


class VisitType(enum.StrEnum):
    """Where a visit or meeting took place."""

    SITE_VISIT = "site_visit"
    MEETING = "meeting"
    VIRTUAL = "virtual"


class VisitStatus(enum.StrEnum):
    """Whether a visit is still planned, happened, or did not."""

    SCHEDULED = "scheduled"
    DONE = "done"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class ReminderType(enum.StrEnum):
    """What a reminder (CRM task) asks someone to do."""

    FOLLOW_UP = "follow_up"
    CALL_BACK = "call_back"
    SITE_VISIT = "site_visit"
    DOCUMENTS = "documents"
    PAYMENT = "payment"
    OTHER = "other"


class ReminderStatus(enum.StrEnum):
    """Whether a reminder is still to do."""

    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ReminderPriority(enum.StrEnum):
    """How pressing a reminder is."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class QdScoreType(enum.StrEnum):
    """Which QD dimension a score or a time-series point measures."""

    OVERALL = "overall"
    INTENT = "intent"
    URGENCY = "urgency"
    AFFORDABILITY = "affordability"
    ENGAGEMENT = "engagement"
    SENTIMENT = "sentiment"


class SignalSource(enum.StrEnum):
    """The kind of evidence a QD time-series point was derived from."""

    MESSAGE = "message"
    CALL = "call"
    TRANSCRIPT = "transcript"
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    VISIT = "visit"
    PERCEPTION = "perception"
    VEHICLE = "vehicle"
    MANUAL = "manual"
    MODEL = "model"


class VehicleMovement(enum.StrEnum):
    """Which way a vehicle passed a camera."""

    ENTRY = "entry"
    EXIT = "exit"
    PASSING = "passing"


class PerceptionEventType(enum.StrEnum):
    """What a perception system observed."""

    PRESENCE = "presence"
    FACE_MATCH = "face_match"
    ENTRY = "entry"
    EXIT = "exit"
    DWELL = "dwell"
    ENGAGEMENT = "engagement"
    EMOTION = "emotion"
    SCENE = "scene"
    OTHER = "other"


#: A BCP 47 language tag such as ``en``, ``hi`` or ``en-IN``.
LANGUAGE_TAG_PATTERN = r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*"


@attrs.frozen(kw_only=True)
class Interaction(Entity):
    """One contact with a person on one channel: the timeline's umbrella record (append-only)."""

    table_name: ClassVar[str] = "intel_interactions"
    key_field: ClassVar[str] = "interaction_id"

    interaction_id: UUID = id_field()
    person_id: UUID = ref("crm_people.person_id")
    lead_id: UUID | None = ref("crm_leads.lead_id", optional=True)
    opportunity_id: UUID | None = ref("crm_opportunities.opportunity_id", optional=True)
    channel: Channel = choice(Channel)
    interaction_type: InteractionType = choice(InteractionType, default=InteractionType.OTHER)
    direction: Direction | None = choice(Direction, optional=True)
    happened_at: datetime = timestamp()
    summary: str | None = long_text(max_length=10_000)
    recorded_by_user_id: UUID | None = ref("core_users.user_id", optional=True)
    recorded_at: datetime = timestamp(now=True)
    source_system: str | None = text(max_length=64, optional=True)
    source_ref: str | None = text(max_length=200, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        check_source_pair(self)


@attrs.frozen(kw_only=True)
class Message(Entity):
    """One text message (SMS, chat or WhatsApp) within an interaction (append-only)."""

    table_name: ClassVar[str] = "intel_messages"
    key_field: ClassVar[str] = "message_id"

    message_id: UUID = id_field()
    interaction_id: UUID = ref("intel_interactions.interaction_id")
    whatsapp_thread_id: UUID | None = ref(
        "intel_whatsapp_threads.whatsapp_thread_id", optional=True
    )
    sender_role: SenderRole = choice(SenderRole)
    message_text: str | None = long_text()
    blob_id: UUID | None = ref("intel_blob_store_index.blob_id", optional=True)
    sent_at: datetime = timestamp()
    delivered_at: datetime | None = timestamp(optional=True)
    metadata_json: dict[str, Any] = json_field()
    source_system: str | None = text(max_length=64, optional=True)
    source_ref: str | None = text(max_length=200, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        check_source_pair(self)


@attrs.frozen(kw_only=True)
class Call(Entity):
    """The call behind a call interaction: direction, outcome and talk time (append-only).

    ``recording_ref`` and ``transcript_ref`` keep the telephony provider's own
    references as received; the canonical links run the other way, from
    ``intel_call_recordings`` and ``intel_transcripts`` to ``call_id``.
    """

    table_name: ClassVar[str] = "intel_calls"
    key_field: ClassVar[str] = "call_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (Unique(["interaction_id"]),)

    call_id: UUID = id_field()
    interaction_id: UUID = ref("intel_interactions.interaction_id")
    call_direction: Direction = choice(Direction)
    outcome: CallOutcome | None = choice(CallOutcome, optional=True)
    from_phone: str | None = phone()
    to_phone: str | None = phone()
    agent_user_id: UUID | None = ref("core_users.user_id", optional=True)
    started_at: datetime = timestamp()
    ended_at: datetime | None = timestamp(optional=True)
    duration_seconds: int | None = count(optional=True)
    recording_ref: str | None = text(max_length=500, optional=True)
    transcript_ref: str | None = text(max_length=500, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        check_not_before(self, "ended_at", "started_at")


@attrs.frozen(kw_only=True)
class CallRecording(Entity):
    """An audio recording of a call, its bytes in the blob store (append-only)."""

    table_name: ClassVar[str] = "intel_call_recordings"
    key_field: ClassVar[str] = "recording_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (Unique(["call_id", "blob_id"]),)

    recording_id: UUID = id_field()
    call_id: UUID = ref("intel_calls.call_id")
    blob_id: UUID = ref("intel_blob_store_index.blob_id")
    format: RecordingFormat = choice(RecordingFormat)
    duration_seconds: int | None = count(optional=True)
    recorded_at: datetime = timestamp(now=True)


@attrs.frozen(kw_only=True)
class Transcript(Entity):
    """The text of a call with its speaker segments (append-only; re-transcribing adds a row)."""

    table_name: ClassVar[str] = "intel_transcripts"
    key_field: ClassVar[str] = "transcript_id"

    transcript_id: UUID = id_field()
    call_id: UUID = ref("intel_calls.call_id")
    recording_id: UUID | None = ref("intel_call_recordings.recording_id", optional=True)
    language: str | None = text(
        max_length=35,
        optional=True,
        pattern=LANGUAGE_TAG_PATTERN,
        pattern_hint="a BCP 47 language tag such as en-IN",
    )
    full_text: str = long_text(optional=False)
    speaker_segments_json: Any = json_field(default=list)
    confidence: Decimal | None = ratio()
    engine: str | None = text(max_length=100, optional=True)
    transcribed_at: datetime = timestamp(now=True)


@attrs.frozen(kw_only=True)
class Email(Entity):
    """The email behind an email interaction: headers and body as sent (append-only).

    Recipient lists keep the addresses as they appeared in the headers.
    """

    table_name: ClassVar[str] = "intel_emails"
    key_field: ClassVar[str] = "email_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (Unique(["interaction_id"]),)

    email_id: UUID = id_field()
    interaction_id: UUID = ref("intel_interactions.interaction_id")
    message_id_header: str | None = text(max_length=998, optional=True)
    in_reply_to: str | None = text(max_length=998, optional=True)
    subject: str | None = text(max_length=998, optional=True)
    from_address: str = email(optional=False)
    to_addresses: tuple[str, ...] = labels(max_length=254)
    cc_addresses: tuple[str, ...] = labels(max_length=254)
    bcc_addresses: tuple[str, ...] = labels(max_length=254)
    body: str | None = long_text()
    body_html: str | None = long_text()
    attachments_json: Any = json_field(default=list)
    sent_at: datetime = timestamp()
    received_at: datetime | None = timestamp(optional=True)


@attrs.frozen(kw_only=True)
class WhatsAppThread(VersionedEntity):
    """One WhatsApp conversation with a person; its messages live in ``intel_messages``.

    ``source_ref`` is the provider's conversation id; ``message_count`` and
    ``last_message_at`` are kept up to date as messages arrive.
    """

    table_name: ClassVar[str] = "intel_whatsapp_threads"
    key_field: ClassVar[str] = "whatsapp_thread_id"

    whatsapp_thread_id: UUID = id_field()
    person_id: UUID = ref("crm_people.person_id")
    wa_phone: str = phone(optional=False)
    business_phone: str | None = phone()
    display_name: str | None = text(max_length=200, optional=True)
    last_message_at: datetime | None = timestamp(optional=True)
    message_count: int = count(default=0)
    source_system: str = text(max_length=64)
    source_ref: str | None = text(max_length=200, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        has_messages = self.message_count > 0
        check_set_exactly_when(self, "last_message_at", has_messages, "the thread has messages")


@attrs.frozen(kw_only=True)
class Visit(VersionedEntity):
    """A site visit or meeting with a person, planned or held (``intel_visits``)."""

    table_name: ClassVar[str] = "intel_visits"
    key_field: ClassVar[str] = "visit_id"

    visit_id: UUID = id_field()
    person_id: UUID = ref("crm_people.person_id")
    opportunity_id: UUID | None = ref("crm_opportunities.opportunity_id", optional=True)
    project_id: UUID | None = ref("inventory_projects.project_id", optional=True)
    unit_id: UUID | None = ref("inventory_units.unit_id", optional=True)
    interaction_id: UUID | None = ref("intel_interactions.interaction_id", optional=True)
    visit_type: VisitType = choice(VisitType, default=VisitType.SITE_VISIT)
    status: VisitStatus = choice(VisitStatus, default=VisitStatus.SCHEDULED)
    visited_at: datetime = timestamp()
    visit_notes: str | None = long_text(max_length=10_000)
    host_user_id: UUID | None = ref("core_users.user_id", optional=True)


@attrs.frozen(kw_only=True)
class Reminder(VersionedEntity):
    """A CRM task: a follow-up assigned to a user, due at a time (``intel_reminders``)."""

    table_name: ClassVar[str] = "intel_reminders"
    key_field: ClassVar[str] = "reminder_id"

    reminder_id: UUID = id_field()
    title: str = text(max_length=200)
    notes: str | None = long_text(max_length=10_000)
    reminder_type: ReminderType = choice(ReminderType, default=ReminderType.FOLLOW_UP)
    person_id: UUID | None = ref("crm_people.person_id", optional=True)
    lead_id: UUID | None = ref("crm_leads.lead_id", optional=True)
    opportunity_id: UUID | None = ref("crm_opportunities.opportunity_id", optional=True)
    interaction_id: UUID | None = ref("intel_interactions.interaction_id", optional=True)
    assigned_user_id: UUID = ref("core_users.user_id")
    created_by_user_id: UUID | None = ref("core_users.user_id", optional=True)
    due_at: datetime = timestamp()
    snoozed_until: datetime | None = timestamp(optional=True)
    priority: ReminderPriority = choice(ReminderPriority, default=ReminderPriority.MEDIUM)
    status: ReminderStatus = choice(ReminderStatus, default=ReminderStatus.OPEN)
    completed_at: datetime | None = timestamp(optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        completed = self.status is ReminderStatus.COMPLETED
        check_set_exactly_when(self, "completed_at", completed, "the reminder is completed")
        is_open = self.status is ReminderStatus.OPEN
        check_only_when(self, "snoozed_until", is_open, "only an open reminder can be snoozed")


@attrs.frozen(kw_only=True)
class QdScore(VersionedEntity):
    """The latest QD score of one type for a person, or for one interaction with them."""

    table_name: ClassVar[str] = "intel_qd_scores"
    key_field: ClassVar[str] = "qd_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (
        Unique(
            ["interaction_id", "score_type"],
            where=[IsNull("interaction_id", is_null=False)],
            name="uq_intel_qd_scores_interaction_score_type",
        ),
        Unique(
            ["person_id", "score_type"],
            where=[IsNull("interaction_id")],
            name="uq_intel_qd_scores_person_score_type",
        ),
    )

    qd_id: UUID = id_field()
    person_id: UUID = ref("crm_people.person_id")
    interaction_id: UUID | None = ref("intel_interactions.interaction_id", optional=True)
    score_type: QdScoreType = choice(QdScoreType)
    current_value: Decimal = decimal(optional=False)
    computed_at: datetime = timestamp(now=True)
    evidence_refs_json: Any = json_field(default=list)


@attrs.frozen(kw_only=True)
class QdTimeseriesPoint(Entity):
    """One observation of a person's QD signal over time (append-only)."""

    table_name: ClassVar[str] = "intel_qd_timeseries"
    key_field: ClassVar[str] = "timeseries_id"

    timeseries_id: UUID = id_field()
    person_id: UUID = ref("crm_people.person_id")
    score_type: QdScoreType = choice(QdScoreType, default=QdScoreType.OVERALL)
    signal_source: SignalSource = choice(SignalSource)
    timestamp: datetime = fields.timestamp()  # the spec's column name shadows the helper
    value: Decimal = decimal(optional=False)
    interaction_id: UUID | None = ref("intel_interactions.interaction_id", optional=True)
    evidence_ref: str | None = text(max_length=200, optional=True)


@attrs.frozen(kw_only=True)
class VehicleEvent(Entity):
    """A vehicle seen by a camera (number-plate recognition), append-only evidence."""

    table_name: ClassVar[str] = "intel_vehicle_events"
    key_field: ClassVar[str] = "vehicle_event_id"

    vehicle_event_id: UUID = id_field()
    observed_at: datetime = timestamp()
    camera_ref: str = text(max_length=200)
    location_ref: str | None = text(max_length=200, optional=True)
    project_id: UUID | None = ref("inventory_projects.project_id", optional=True)
    movement: VehicleMovement | None = choice(VehicleMovement, optional=True)
    plate_text: str | None = text(max_length=16, optional=True)
    vehicle_make: str | None = text(max_length=64, optional=True)
    vehicle_model: str | None = text(max_length=64, optional=True)
    vehicle_colour: str | None = text(max_length=32, optional=True)
    confidence: Decimal | None = ratio()
    person_id: UUID | None = ref("crm_people.person_id", optional=True)
    blob_id: UUID | None = ref("intel_blob_store_index.blob_id", optional=True)
    source_system: str | None = text(max_length=64, optional=True)
    source_ref: str | None = text(max_length=200, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        check_source_pair(self)


@attrs.frozen(kw_only=True)
class PerceptionEvent(Entity):
    """Something a perception system observed at a site (presence, face match, dwell ...)."""

    table_name: ClassVar[str] = "intel_perception_events"
    key_field: ClassVar[str] = "perception_event_id"

    perception_event_id: UUID = id_field()
    observed_at: datetime = timestamp()
    event_type: PerceptionEventType = choice(PerceptionEventType)
    location_ref: str = text(max_length=200)
    camera_ref: str | None = text(max_length=200, optional=True)
    session_ref: str | None = text(max_length=200, optional=True)
    project_id: UUID | None = ref("inventory_projects.project_id", optional=True)
    person_id: UUID | None = ref("crm_people.person_id", optional=True)
    confidence: Decimal | None = ratio()
    payload_json: dict[str, Any] = json_field()
    blob_id: UUID | None = ref("intel_blob_store_index.blob_id", optional=True)
    source_system: str | None = text(max_length=64, optional=True)
    source_ref: str | None = text(max_length=200, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        check_source_pair(self)


@attrs.frozen(kw_only=True)
class CctvLink(Entity):
    """Ties a CCTV clip to an event, a visit or a person it shows (append-only)."""

    table_name: ClassVar[str] = "intel_cctv_links"
    key_field: ClassVar[str] = "cctv_link_id"

    cctv_link_id: UUID = id_field()
    perception_event_id: UUID | None = ref(
        "intel_perception_events.perception_event_id", optional=True
    )
    vehicle_event_id: UUID | None = ref("intel_vehicle_events.vehicle_event_id", optional=True)
    visit_id: UUID | None = ref("intel_visits.visit_id", optional=True)
    person_id: UUID | None = ref("crm_people.person_id", optional=True)
    camera_ref: str = text(max_length=200)
    clip_start: datetime = timestamp()
    clip_end: datetime = timestamp()
    blob_id: UUID | None = ref("intel_blob_store_index.blob_id", optional=True)
    linked_at: datetime = timestamp(now=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        check_not_before(self, "clip_end", "clip_start")
        subjects = (self.perception_event_id, self.vehicle_event_id, self.visit_id, self.person_id)
        if all(s is None for s in subjects):
            raise invalid(
                self,
                "person_id",
                "a clip links to at least one of perception_event_id, vehicle_event_id, "
                "visit_id or person_id",
            )


@attrs.frozen(kw_only=True)
class StoredBlob(Entity):
    """One stored binary (recording, image, clip), addressed by its SHA-256 (append-only)."""

    table_name: ClassVar[str] = "intel_blob_store_index"
    key_field: ClassVar[str] = "blob_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (Unique(["content_sha256"]),)

    blob_id: UUID = id_field()
    content_sha256: str = sha256_hex()
    size_bytes: int = count()
    media_type: str = fields.media_type()  # the column name shadows the helper
    storage_uri: str = url(optional=False)
    original_filename: str | None = text(max_length=255, optional=True)
    created_at: datetime = timestamp(now=True)
