"""Cross-field rules of the intel entities: each bad input names the field at fault."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from velocity_domain.errors import ValidationFailed
from velocity_domain.intel.entities import (
    Call,
    CctvLink,
    Channel,
    Direction,
    Email,
    Interaction,
    Message,
    PerceptionEvent,
    QdTimeseriesPoint,
    Reminder,
    ReminderStatus,
    StoredBlob,
    Transcript,
    VehicleEvent,
    WhatsAppThread,
)

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def _fails(cls: type[Any], field: str, **kwargs: Any) -> None:
    with pytest.raises(ValidationFailed) as info:
        cls(**kwargs)
    assert info.value.field == field
    assert info.value.entity == cls.table_name


def test_a_valid_interaction_and_its_details_build() -> None:
    interaction = Interaction(person_id=uuid4(), channel=Channel.CALL, happened_at=T0)
    assert interaction.channel is Channel.CALL
    call = Call(
        interaction_id=interaction.interaction_id,
        call_direction=Direction.OUTBOUND,
        started_at=T0,
        ended_at=T0 + timedelta(minutes=3),
        duration_seconds=170,
        from_phone="098300 12345",
    )
    assert call.from_phone == "+919830012345"
    transcript = Transcript(call_id=call.call_id, full_text="Hello.\nHi!", language="en-IN")
    assert transcript.speaker_segments_json == []


def test_an_interaction_needs_both_halves_of_its_source_key() -> None:
    _fails(
        Interaction,
        "source_ref",
        person_id=uuid4(),
        channel="email",
        happened_at=T0,
        source_system="legacy_chat_logs",
    )


def test_an_unknown_channel_is_refused() -> None:
    _fails(Interaction, "channel", person_id=uuid4(), channel="fax", happened_at=T0)


def test_a_message_needs_both_halves_of_its_source_key() -> None:
    _fails(
        Message,
        "source_ref",
        interaction_id=uuid4(),
        sender_role="client",
        sent_at=T0,
        source_ref="wamid.1",
    )


def test_a_call_cannot_end_before_it_starts() -> None:
    _fails(
        Call,
        "ended_at",
        interaction_id=uuid4(),
        call_direction="inbound",
        started_at=T0,
        ended_at=T0 - timedelta(seconds=1),
    )


def test_a_call_duration_is_not_negative() -> None:
    _fails(
        Call,
        "duration_seconds",
        interaction_id=uuid4(),
        call_direction="inbound",
        started_at=T0,
        duration_seconds=-1,
    )


def test_a_transcript_needs_its_text() -> None:
    _fails(Transcript, "full_text", call_id=uuid4(), full_text="  ")


def test_a_transcript_confidence_is_a_ratio() -> None:
    _fails(Transcript, "confidence", call_id=uuid4(), full_text="x", confidence=Decimal("1.2"))


def test_an_email_sender_must_be_an_address() -> None:
    _fails(Email, "from_address", interaction_id=uuid4(), from_address="nope", sent_at=T0)


def test_a_thread_with_messages_has_a_last_message_time() -> None:
    _fails(
        WhatsAppThread,
        "last_message_at",
        person_id=uuid4(),
        wa_phone="+919830012345",
        source_system="whatsapp_cloud",
        message_count=3,
    )
    _fails(
        WhatsAppThread,
        "last_message_at",
        person_id=uuid4(),
        wa_phone="+919830012345",
        source_system="whatsapp_cloud",
        last_message_at=T0,
    )


def _reminder(**overrides: Any) -> dict[str, Any]:
    return {"title": "Call back", "assigned_user_id": uuid4(), "due_at": T0, **overrides}


def test_a_completed_reminder_has_a_completion_time_and_only_it() -> None:
    _fails(Reminder, "completed_at", **_reminder(status="completed"))
    _fails(Reminder, "completed_at", **_reminder(completed_at=T0))
    done = Reminder(**_reminder(status="completed", completed_at=T0))
    assert done.status is ReminderStatus.COMPLETED


def test_only_an_open_reminder_can_be_snoozed() -> None:
    _fails(
        Reminder, "snoozed_until", **_reminder(status="cancelled", snoozed_until=T0 + timedelta(1))
    )
    assert Reminder(**_reminder(snoozed_until=T0 + timedelta(days=1))).snoozed_until


def test_a_reminder_needs_an_assignee() -> None:
    _fails(Reminder, "assigned_user_id", title="x", due_at=T0, assigned_user_id=None)


def test_a_cctv_clip_cannot_end_before_it_starts() -> None:
    _fails(
        CctvLink,
        "clip_end",
        person_id=uuid4(),
        camera_ref="gate-1",
        clip_start=T0,
        clip_end=T0 - timedelta(seconds=5),
    )


def test_a_cctv_clip_links_to_something() -> None:
    _fails(CctvLink, "person_id", camera_ref="gate-1", clip_start=T0, clip_end=T0)


def test_vehicle_and_perception_events_need_both_halves_of_their_source_key() -> None:
    _fails(VehicleEvent, "source_ref", observed_at=T0, camera_ref="gate-1", source_system="anpr")
    _fails(
        PerceptionEvent,
        "source_ref",
        observed_at=T0,
        event_type="presence",
        location_ref="site-a",
        source_ref="evt-9",
    )


def test_a_vehicle_confidence_is_a_ratio() -> None:
    _fails(VehicleEvent, "confidence", observed_at=T0, camera_ref="g", confidence=Decimal(-1))


def test_a_qd_point_value_is_a_finite_decimal() -> None:
    _fails(
        QdTimeseriesPoint,
        "value",
        person_id=uuid4(),
        signal_source="call",
        timestamp=T0,
        value=Decimal("NaN"),
    )


def test_a_blob_needs_a_storage_uri_with_a_scheme_and_a_non_negative_size() -> None:
    base: dict[str, Any] = {"content_sha256": "ab" * 32, "media_type": "audio/mpeg"}
    _fails(StoredBlob, "storage_uri", size_bytes=1, storage_uri="bucket/key", **base)
    _fails(StoredBlob, "size_bytes", size_bytes=-1, storage_uri="s3://bucket/key", **base)
    assert StoredBlob(size_bytes=3_000_000_000, storage_uri="s3://b/k", **base).size_bytes
