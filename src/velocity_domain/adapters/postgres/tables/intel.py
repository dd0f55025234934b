"""The ``intel_*`` tables (spec section 4, interaction and evidence graph; columns of section 5).

Raw evidence (interactions, messages, calls, recordings, transcripts, emails,
QD time series, vehicle/perception events, CCTV links, blobs) is append-only and
every reference out of it is ``RESTRICT``: nothing deletes evidence by cascade,
and no cascade rewrites it either. The mutable rows (visits, reminders, WhatsApp
threads, QD scores) drop their optional soft links with ``SET NULL``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from velocity_domain.adapters.postgres.tables._columns import (
    choice,
    created_at,
    fk,
    jsonb,
    labels,
    metadata,
    pk,
    ratio,
    source_key,
    text,
    versioned,
)
from velocity_domain.intel.entities import (
    CallOutcome,
    Channel,
    Direction,
    InteractionType,
    PerceptionEventType,
    QdScoreType,
    RecordingFormat,
    ReminderPriority,
    ReminderStatus,
    ReminderType,
    SenderRole,
    SignalSource,
    VehicleMovement,
    VisitStatus,
    VisitType,
)

__all__ = [
    "intel_blob_store_index",
    "intel_call_recordings",
    "intel_calls",
    "intel_cctv_links",
    "intel_emails",
    "intel_interactions",
    "intel_messages",
    "intel_perception_events",
    "intel_qd_scores",
    "intel_qd_timeseries",
    "intel_reminders",
    "intel_transcripts",
    "intel_vehicle_events",
    "intel_visits",
    "intel_whatsapp_threads",
]


def _at(name: str, *, nullable: bool = True) -> sa.Column[object]:
    """A ``timestamptz`` column."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _count(name: str, *, nullable: bool = True, big: bool = False) -> sa.Column[object]:
    """A non-negative integer column (``bigint`` when ``big``)."""
    return sa.Column(
        name,
        sa.BigInteger if big else sa.Integer,
        sa.CheckConstraint(f"{name} >= 0", name=f"{name}_non_negative"),
        nullable=nullable,
    )


def _jsonb_list(name: str) -> sa.Column[object]:
    """A ``jsonb`` column holding a list, ``[]`` by default (``jsonb()`` defaults to ``{}``)."""
    return sa.Column(name, pg.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb"))


# --- the content-addressed blob store -------------------------------------------------

intel_blob_store_index = sa.Table(
    "intel_blob_store_index",
    metadata,
    pk("blob_id"),
    text("content_sha256", 64, nullable=False),
    _count("size_bytes", nullable=False, big=True),
    text("media_type", 255, nullable=False),
    text("storage_uri", 2048, nullable=False),
    text("original_filename", 255),
    created_at(),
    sa.UniqueConstraint("content_sha256"),
)

# --- interactions and their channel details -------------------------------------------

intel_interactions = sa.Table(
    "intel_interactions",
    metadata,
    pk("interaction_id"),
    fk("person_id", "crm_people.person_id", nullable=False),
    fk("lead_id", "crm_leads.lead_id"),
    fk("opportunity_id", "crm_opportunities.opportunity_id"),
    choice("channel", Channel),
    choice("interaction_type", InteractionType, default=InteractionType.OTHER),
    choice("direction", Direction, nullable=True),
    _at("happened_at", nullable=False),
    text("summary", None),
    fk("recorded_by_user_id", "core_users.user_id"),
    created_at("recorded_at"),
    *source_key(),
    sa.Index(None, "lead_id"),
    sa.Index(None, "opportunity_id"),
)
# The timeline: a person's interactions newest first, keyset-paginated on (time, id);
# the channel rides along, so a client's interactions are counted by channel from the
# index alone (client 360), however many there are.
sa.Index(
    "ix_intel_interactions_person_timeline",
    intel_interactions.c.person_id,
    intel_interactions.c.happened_at.desc(),
    intel_interactions.c.interaction_id.desc(),
    postgresql_include=["channel"],
)

intel_whatsapp_threads = sa.Table(
    "intel_whatsapp_threads",
    metadata,
    pk("whatsapp_thread_id"),
    fk("person_id", "crm_people.person_id", nullable=False),
    text("wa_phone", 16, nullable=False),
    text("business_phone", 16),
    text("display_name", 200),
    _at("last_message_at"),
    _count("message_count", nullable=False),
    *source_key(required_system=True),
    *versioned(),
    sa.CheckConstraint(
        "(message_count > 0) = (last_message_at IS NOT NULL)", name="last_message_iff_messages"
    ),
    sa.Index(None, "person_id", "last_message_at"),
    sa.Index(None, "wa_phone"),
)

intel_messages = sa.Table(
    "intel_messages",
    metadata,
    pk("message_id"),
    fk("interaction_id", "intel_interactions.interaction_id", nullable=False),
    fk("whatsapp_thread_id", "intel_whatsapp_threads.whatsapp_thread_id"),
    choice("sender_role", SenderRole),
    text("message_text", None),
    fk("blob_id", "intel_blob_store_index.blob_id"),
    _at("sent_at", nullable=False),
    _at("delivered_at"),
    jsonb("metadata_json"),
    *source_key(),
    sa.Index(None, "interaction_id", "sent_at"),
    sa.Index(None, "whatsapp_thread_id", "sent_at"),
    sa.Index(None, "blob_id"),
)

intel_calls = sa.Table(
    "intel_calls",
    metadata,
    pk("call_id"),
    fk("interaction_id", "intel_interactions.interaction_id", nullable=False),
    choice("call_direction", Direction),
    choice("outcome", CallOutcome, nullable=True),
    text("from_phone", 16),
    text("to_phone", 16),
    fk("agent_user_id", "core_users.user_id"),
    _at("started_at", nullable=False),
    _at("ended_at"),
    _count("duration_seconds"),
    # The provider's own references as received; canonical links point at call_id.
    text("recording_ref", 500),
    text("transcript_ref", 500),
    sa.UniqueConstraint("interaction_id"),
    sa.CheckConstraint("ended_at >= started_at", name="ends_after_start"),
    sa.Index(None, "agent_user_id", "started_at"),
)

intel_call_recordings = sa.Table(
    "intel_call_recordings",
    metadata,
    pk("recording_id"),
    fk("call_id", "intel_calls.call_id", nullable=False),
    fk("blob_id", "intel_blob_store_index.blob_id", nullable=False),
    choice("format", RecordingFormat),
    _count("duration_seconds"),
    created_at("recorded_at"),
    sa.UniqueConstraint("call_id", "blob_id"),
    sa.Index(None, "blob_id"),
)

intel_transcripts = sa.Table(
    "intel_transcripts",
    metadata,
    pk("transcript_id"),
    fk("call_id", "intel_calls.call_id", nullable=False),
    fk("recording_id", "intel_call_recordings.recording_id"),
    text("language", 35),
    text("full_text", None, nullable=False),
    _jsonb_list("speaker_segments_json"),
    ratio("confidence"),
    text("engine", 100),
    created_at("transcribed_at"),
    sa.Index(None, "call_id", "transcribed_at"),
    sa.Index(None, "recording_id"),
)

intel_emails = sa.Table(
    "intel_emails",
    metadata,
    pk("email_id"),
    fk("interaction_id", "intel_interactions.interaction_id", nullable=False),
    text("message_id_header", 998),
    text("in_reply_to", 998),
    text("subject", 998),
    text("from_address", 254, nullable=False),
    labels("to_addresses", 254),
    labels("cc_addresses", 254),
    labels("bcc_addresses", 254),
    text("body", None),
    text("body_html", None),
    _jsonb_list("attachments_json"),
    _at("sent_at", nullable=False),
    _at("received_at"),
    sa.UniqueConstraint("interaction_id"),
    sa.Index(None, "message_id_header"),
    sa.Index(None, "from_address", "sent_at"),
)

# --- visits and reminders (mutable) ----------------------------------------------------

intel_visits = sa.Table(
    "intel_visits",
    metadata,
    pk("visit_id"),
    fk("person_id", "crm_people.person_id", nullable=False),
    fk("opportunity_id", "crm_opportunities.opportunity_id", ondelete="SET NULL"),
    fk("project_id", "inventory_projects.project_id", ondelete="SET NULL"),
    fk("unit_id", "inventory_units.unit_id", ondelete="SET NULL"),
    fk("interaction_id", "intel_interactions.interaction_id", ondelete="SET NULL"),
    choice("visit_type", VisitType, default=VisitType.SITE_VISIT),
    choice("status", VisitStatus, default=VisitStatus.SCHEDULED),
    _at("visited_at", nullable=False),
    text("visit_notes", None),
    fk("host_user_id", "core_users.user_id"),
    *versioned(),
    sa.Index(None, "person_id", "visited_at"),
    sa.Index(None, "host_user_id", "status", "visited_at"),
    sa.Index(None, "project_id", "visited_at"),
    sa.Index(None, "opportunity_id"),
)

intel_reminders = sa.Table(
    "intel_reminders",
    metadata,
    pk("reminder_id"),
    text("title", 200, nullable=False),
    text("notes", None),
    choice("reminder_type", ReminderType, default=ReminderType.FOLLOW_UP),
    fk("person_id", "crm_people.person_id", ondelete="SET NULL"),
    fk("lead_id", "crm_leads.lead_id", ondelete="SET NULL"),
    fk("opportunity_id", "crm_opportunities.opportunity_id", ondelete="SET NULL"),
    fk("interaction_id", "intel_interactions.interaction_id", ondelete="SET NULL"),
    fk("assigned_user_id", "core_users.user_id", nullable=False),
    fk("created_by_user_id", "core_users.user_id"),
    _at("due_at", nullable=False),
    _at("snoozed_until"),
    choice("priority", ReminderPriority, default=ReminderPriority.MEDIUM),
    choice("status", ReminderStatus, default=ReminderStatus.OPEN),
    _at("completed_at"),
    *versioned(),
    sa.CheckConstraint(
        "(status = 'completed') = (completed_at IS NOT NULL)", name="completed_at_iff_completed"
    ),
    sa.CheckConstraint("status = 'open' OR snoozed_until IS NULL", name="only_open_is_snoozed"),
    # The operator inbox: a user's open reminders by due time.
    sa.Index(None, "assigned_user_id", "status", "due_at"),
    sa.Index(None, "person_id", "status"),
    sa.Index(None, "lead_id"),
    sa.Index(None, "opportunity_id"),
)

# --- QD ----------------------------------------------------------------------------------

intel_qd_scores = sa.Table(
    "intel_qd_scores",
    metadata,
    pk("qd_id"),
    fk("person_id", "crm_people.person_id", nullable=False),
    fk("interaction_id", "intel_interactions.interaction_id", ondelete="SET NULL"),
    choice("score_type", QdScoreType),
    sa.Column("current_value", sa.Numeric, nullable=False),
    created_at("computed_at"),
    _jsonb_list("evidence_refs_json"),
    *versioned(),
    # One latest score per person and type, and one per interaction and type.
    sa.Index(
        "uq_intel_qd_scores_person_score_type",
        "person_id",
        "score_type",
        unique=True,
        postgresql_where=sa.text("interaction_id IS NULL"),
    ),
    sa.Index(
        "uq_intel_qd_scores_interaction_score_type",
        "interaction_id",
        "score_type",
        unique=True,
        postgresql_where=sa.text("interaction_id IS NOT NULL"),
    ),
    # A client's scores, newest first (the QD query; a merge moving them all).
    sa.Index(None, "person_id", "computed_at", "qd_id"),
)

intel_qd_timeseries = sa.Table(
    "intel_qd_timeseries",
    metadata,
    pk("timeseries_id"),
    fk("person_id", "crm_people.person_id", nullable=False),
    choice("score_type", QdScoreType, default=QdScoreType.OVERALL),
    choice("signal_source", SignalSource),
    _at("timestamp", nullable=False),
    sa.Column("value", sa.Numeric, nullable=False),
    fk("interaction_id", "intel_interactions.interaction_id"),
    text("evidence_ref", 200),
    sa.Index(None, "interaction_id"),
)
# A person's QD history, newest first.
sa.Index(
    "ix_intel_qd_timeseries_person_history",
    intel_qd_timeseries.c.person_id,
    intel_qd_timeseries.c.timestamp.desc(),
    intel_qd_timeseries.c.timeseries_id.desc(),
)

# --- vehicle, perception and CCTV evidence ---------------------------------------------

intel_vehicle_events = sa.Table(
    "intel_vehicle_events",
    metadata,
    pk("vehicle_event_id"),
    _at("observed_at", nullable=False),
    text("camera_ref", 200, nullable=False),
    text("location_ref", 200),
    fk("project_id", "inventory_projects.project_id"),
    choice("movement", VehicleMovement, nullable=True),
    text("plate_text", 16),
    text("vehicle_make", 64),
    text("vehicle_model", 64),
    text("vehicle_colour", 32),
    ratio("confidence"),
    fk("person_id", "crm_people.person_id"),
    fk("blob_id", "intel_blob_store_index.blob_id"),
    *source_key(),
    sa.Index(None, "plate_text", "observed_at"),
    sa.Index(None, "person_id", "observed_at"),
    sa.Index(None, "project_id", "observed_at"),
    sa.Index(None, "blob_id"),
)

intel_perception_events = sa.Table(
    "intel_perception_events",
    metadata,
    pk("perception_event_id"),
    _at("observed_at", nullable=False),
    choice("event_type", PerceptionEventType),
    text("location_ref", 200, nullable=False),
    text("camera_ref", 200),
    text("session_ref", 200),
    fk("project_id", "inventory_projects.project_id"),
    fk("person_id", "crm_people.person_id"),
    ratio("confidence"),
    jsonb("payload_json"),
    fk("blob_id", "intel_blob_store_index.blob_id"),
    *source_key(),
    sa.Index(None, "person_id", "observed_at"),
    sa.Index(None, "location_ref", "observed_at"),
    sa.Index(None, "project_id", "observed_at"),
    sa.Index(None, "session_ref"),
    sa.Index(None, "blob_id"),
)

intel_cctv_links = sa.Table(
    "intel_cctv_links",
    metadata,
    pk("cctv_link_id"),
    fk("perception_event_id", "intel_perception_events.perception_event_id"),
    fk("vehicle_event_id", "intel_vehicle_events.vehicle_event_id"),
    fk("visit_id", "intel_visits.visit_id"),
    fk("person_id", "crm_people.person_id"),
    text("camera_ref", 200, nullable=False),
    _at("clip_start", nullable=False),
    _at("clip_end", nullable=False),
    fk("blob_id", "intel_blob_store_index.blob_id"),
    created_at("linked_at"),
    sa.CheckConstraint("clip_end >= clip_start", name="clip_ends_after_start"),
    sa.CheckConstraint(
        "num_nonnulls(perception_event_id, vehicle_event_id, visit_id, person_id) >= 1",
        name="links_something",
    ),
    sa.Index(None, "perception_event_id"),
    sa.Index(None, "vehicle_event_id"),
    sa.Index(None, "visit_id"),
    sa.Index(None, "person_id", "clip_start"),
    sa.Index(None, "camera_ref", "clip_start"),
    sa.Index(None, "blob_id"),
)
