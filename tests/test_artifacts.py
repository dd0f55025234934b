"""The artifact query, evidence attached to interactions and blob reads, on both stores."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy.engine import URL

from tests.support.world import T0, World, build
from velocity_domain import Velocity
from velocity_domain.adapters.blobs import LocalBlobStore
from velocity_domain.errors import BlobTampered, NotFound, PermissionDenied, ValidationFailed
from velocity_domain.intel.blobs import CHUNK_SIZE
from velocity_domain.intel.entities import (
    CallRecording,
    CctvLink,
    Channel,
    Email,
    Interaction,
    Message,
    PerceptionEvent,
    StoredBlob,
    Transcript,
    VehicleEvent,
    Visit,
    WhatsAppThread,
)
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.query import Eq
from velocity_domain.testing import unit_of_work

SENSITIVE_READ = "intel.artifacts.read_sensitive"


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def ev(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[World, LocalBlobStore]]:
    """The shared world on each store, its evidence bytes in a folder under ``tmp_path``."""
    blobs = LocalBlobStore(tmp_path / "blobs")
    clock = FixedClock(T0 + timedelta(days=30))
    if request.param == "memory":
        with Velocity.in_memory(clock=clock, blob_store=blobs) as velocity:
            yield build(velocity), blobs
        return
    from tests.support.pg_harness import empty_all_tables  # noqa: PLC0415

    url: URL = request.getfixturevalue("pg_url")
    empty_all_tables(request.getfixturevalue("pg_engine"))
    dsn = url.render_as_string(hide_password=False)
    with Velocity.from_url(dsn, clock=clock, blob_store=blobs) as velocity:
        yield build(velocity), blobs


def _reveals(w: World) -> list[str]:
    events = w.velocity.audit.list(w.admin, action=SENSITIVE_READ, limit=100)
    return [e.target_ref or "" for e in events]


def _first(w: World, cls: type[Any], **where: Any) -> Any:
    with unit_of_work(w.velocity, read_only=True) as uow:
        rows = uow.table(cls).list()
        return next(r for r in rows if all(getattr(r, k) == v for k, v in where.items()))


# -- attach ---------------------------------------------------------------------------------


def test_a_recording_is_attached_to_the_call_and_its_bytes_stay_out_of_the_database(
    ev: tuple[World, LocalBlobStore],
) -> None:
    w, blobs = ev
    audio = os.urandom(CHUNK_SIZE + 5)
    attached = w.velocity.artifacts.attach(
        w.agent_a, w.call.key, media_type="audio/mpeg", filename="call.mp3", data=io.BytesIO(audio)
    )
    assert attached.created
    assert isinstance(attached.link, CallRecording)
    assert attached.link.format.value == "mp3"
    blob = attached.blob
    assert blob.content_sha256 == hashlib.sha256(audio).hexdigest()
    assert (blob.size_bytes, blob.media_type, blob.original_filename) == (
        len(audio),
        "audio/mpeg",
        "call.mp3",
    )
    assert blob.storage_uri == blobs.uri(blob.content_sha256)
    assert blobs.path_for(blob.content_sha256).read_bytes() == audio
    events = w.velocity.audit.list(w.admin, action="intel.artifacts.attach")
    assert [e.target_ref for e in events] == [str(w.call.key)]


def test_the_same_bytes_are_stored_and_indexed_once(ev: tuple[World, LocalBlobStore]) -> None:
    w, _ = ev
    artifacts = w.velocity.artifacts
    first = artifacts.attach(w.agent_a, w.chat.key, media_type="image/jpeg", data=b"site photo")
    again = artifacts.attach(w.agent_a, w.chat.key, media_type="image/jpeg", data=b"site photo")
    assert isinstance(first.link, Message)
    assert (again.created, again.blob, again.link) == (False, first.blob, first.link)
    other = Interaction(person_id=w.client_a.key, channel=Channel.MESSAGE, happened_at=T0)
    with unit_of_work(w.velocity) as uow:
        uow.intel.interactions.add(other)
        uow.commit()
    elsewhere = artifacts.attach(w.admin, other.key, media_type="image/jpeg", data=b"site photo")
    assert elsewhere.created
    assert elsewhere.blob == first.blob
    assert elsewhere.link.key != first.link.key
    with unit_of_work(w.velocity, read_only=True) as uow:
        assert uow.intel.blobs.count() == 1
        assert uow.intel.messages.count(Eq("blob_id", first.blob.key)) == 2
    assert len(w.velocity.audit.list(w.admin, action="intel.artifacts.attach")) == 2


def test_attaching_to_a_client_one_may_not_see_is_like_attaching_to_nothing(
    ev: tuple[World, LocalBlobStore],
) -> None:
    w, _ = ev
    refusals = []
    for interaction_id in (w.chat.key, new_id()):
        with pytest.raises(ValidationFailed) as err:
            w.velocity.artifacts.attach(
                w.agent_b, interaction_id, media_type="image/png", data=b"x"
            )
        refusals.append((err.value.field, err.value.reason))
    assert refusals[0] == refusals[1] == ("interaction_id", "names no interaction")


@pytest.mark.parametrize(
    ("target", "arguments", "field"),
    [
        ("chat", {"media_type": "Image/JPEG"}, "media_type"),
        ("chat", {"media_type": "image/jpeg", "filename": "a" * 256}, "filename"),
        ("chat", {"media_type": "image/jpeg", "filename": "two\nlines"}, "filename"),
        ("chat", {"media_type": "image/jpeg", "sender_role": "robot"}, "sender_role"),
        ("call", {"media_type": "image/jpeg"}, "media_type"),
        ("call", {"media_type": "audio/wav", "sender_role": "client"}, "sender_role"),
        ("email", {"media_type": "application/pdf"}, "interaction_id"),
        ("chat", {"media_type": "text/plain", "data": io.StringIO("text")}, "data"),
        ("chat", {"media_type": "text/plain", "data": "text"}, "data"),
    ],
)
def test_bad_attachments_are_refused_naming_the_argument_and_store_nothing(
    ev: tuple[World, LocalBlobStore], target: str, arguments: dict[str, Any], field: str
) -> None:
    w, blobs = ev
    if target == "email":
        interaction_id = _first(w, Interaction, channel=Channel.EMAIL).key
    else:
        interaction_id = getattr(w, target).key
    given = {"data": b"bytes", **arguments}
    with pytest.raises(ValidationFailed) as err:
        w.velocity.artifacts.attach(w.admin, interaction_id, **given)
    assert err.value.field == field
    assert not blobs.root.exists() or not any(p.is_file() for p in blobs.root.rglob("*"))


def test_an_analyst_may_not_attach(ev: tuple[World, LocalBlobStore]) -> None:
    w, _ = ev
    with pytest.raises(PermissionDenied):
        w.velocity.artifacts.attach(
            w.by_role["analyst"], w.chat.key, media_type="image/png", data=b"x"
        )


# -- the artifact query -------------------------------------------------------------------


def _evidence(w: World) -> dict[str, UUID]:
    """One artifact of every kind that the world lacks, all about client A."""
    w.velocity.artifacts.attach(w.admin, w.call.key, media_type="audio/ogg", data=b"audio")
    clip = w.velocity.artifacts.attach(
        w.admin, w.chat.key, media_type="video/mp4", data=b"clip bytes"
    ).blob
    a = w.client_a.key
    thread = WhatsAppThread(person_id=a, wa_phone="+919830012345", source_system="wa")
    visit = Visit(person_id=a, visited_at=T0)
    vehicle = VehicleEvent(
        observed_at=T0, camera_ref="gate-1", plate_text="MH12AB1234", person_id=a
    )
    seen = PerceptionEvent(
        observed_at=T0, event_type="presence", location_ref="lobby", person_id=a, blob_id=clip.key
    )
    cctv = CctvLink(
        visit_id=visit.key, camera_ref="lobby", clip_start=T0, clip_end=T0, blob_id=clip.key
    )
    with unit_of_work(w.velocity) as uow:
        uow.intel.whatsapp_threads.add(thread)
        uow.intel.visits.add(visit)
        uow.intel.vehicle_events.add(vehicle)
        uow.intel.perception_events.add(seen)
        uow.intel.cctv_links.add(cctv)
        uow.commit()
    return {
        "message": _first(w, Message, interaction_id=w.chat.key).key,
        "call": _first(w, CallRecording).call_id,
        "call_recording": _first(w, CallRecording).key,
        "transcript": _first(w, Transcript).key,
        "email": _first(w, Email).key,
        "whatsapp_thread": thread.key,
        "visit": visit.key,
        "vehicle_event": vehicle.key,
        "perception_event": seen.key,
        "cctv_link": cctv.key,
        "blob": clip.key,
    }


def test_every_kind_is_found_by_its_own_id_with_its_interaction(
    ev: tuple[World, LocalBlobStore],
) -> None:
    w, _ = ev
    ids = _evidence(w)
    email = _first(w, Email)
    manager = w.by_role["sales_manager"]
    belongs = {
        "message": w.chat.key,
        "call": w.call.key,
        "call_recording": w.call.key,
        "transcript": w.call.key,
        "email": email.interaction_id,
        "blob": w.chat.key,
    }
    for kind, key in ids.items():
        found = w.velocity.artifacts.get(manager, key)
        assert (found.kind.value, found.artifact.key) == (kind, key)
        interaction = None if found.interaction is None else found.interaction.key
        assert interaction == belongs.get(kind), kind
        assert not found.artifact.redacted, kind
    transcript = w.velocity.artifacts.get(manager, ids["transcript"])
    assert transcript.artifact.data["full_text"] == "We can stretch to 1.3 Cr"
    assert transcript.artifact.data["speaker_segments_json"] == []
    recording = w.velocity.artifacts.get(manager, ids["call_recording"])
    assert recording.blob is not None
    assert recording.blob.media_type == "audio/ogg"


def test_content_is_withheld_without_the_permission_and_revealing_reads_are_audited(
    ev: tuple[World, LocalBlobStore],
) -> None:
    w, _ = ev
    ids = _evidence(w)
    analyst, manager = w.by_role["analyst"], w.by_role["sales_manager"]
    message = w.velocity.artifacts.get(analyst, ids["message"])
    assert message.artifact.data["message_text"] is None
    assert "message_text" in message.artifact.redacted_fields
    assert message.interaction is not None
    assert message.interaction.key == w.chat.key
    vehicle = w.velocity.artifacts.get(analyst, ids["vehicle_event"])
    assert vehicle.artifact.data["plate_text"] is None
    recording = w.velocity.artifacts.get(analyst, ids["call_recording"])
    assert (recording.artifact.data["blob_id"], recording.blob) == (None, None)
    assert w.velocity.artifacts.get(analyst, ids["visit"]).artifact.redacted_fields == ()
    assert _reveals(w) == []
    shown = w.velocity.artifacts.get(manager, ids["message"])
    assert shown.artifact.data["message_text"] == "My budget is 1.2 Cr"
    w.velocity.artifacts.get(manager, ids["visit"])  # nothing sensitive: no event
    assert _reveals(w) == [str(ids["message"])]
    (event,) = w.velocity.audit.list(w.admin, action=SENSITIVE_READ)
    assert event.actor_user_id == manager.user_id
    assert event.details_json["artifacts"] == [f"intel_messages:{ids['message']}"]


def test_a_hidden_artifact_is_not_found_exactly_like_a_missing_one(
    ev: tuple[World, LocalBlobStore],
) -> None:
    w, _ = ev
    ids = _evidence(w)
    for kind, key in ids.items():
        missing = new_id()
        errors = []
        for artifact_id in (key, missing):
            with pytest.raises(NotFound) as err:
                w.velocity.artifacts.get(w.agent_b, artifact_id)
            errors.append(err.value.to_dict() | {"key": None, "message": None})
        assert (
            errors[0]
            == errors[1]
            == {
                "code": "not_found",
                "entity": "intel_artifacts",
                "key": None,
                "message": None,
            }
        ), kind
        w.velocity.artifacts.get(w.agent_a, key)  # client A's agent sees it


def test_evidence_of_no_client_is_seen_only_by_those_who_see_everyone(
    ev: tuple[World, LocalBlobStore],
) -> None:
    w, _ = ev
    vehicle = VehicleEvent(observed_at=T0, camera_ref="gate-2", plate_text="KA01XY0001")
    with unit_of_work(w.velocity) as uow:
        uow.intel.vehicle_events.add(vehicle)
        uow.commit()
    assert w.velocity.artifacts.get(w.by_role["analyst"], vehicle.key).artifact.key == vehicle.key
    with pytest.raises(NotFound):
        w.velocity.artifacts.get(w.agent_a, vehicle.key)


def test_a_bad_artifact_id_is_refused_naming_it(ev: tuple[World, LocalBlobStore]) -> None:
    w, _ = ev
    with pytest.raises(ValidationFailed) as err:
        w.velocity.artifacts.get(w.admin, str(w.chat.key))  # type: ignore[arg-type]
    assert err.value.field == "artifact_id"


# -- blob reads -----------------------------------------------------------------------------


def test_a_blob_is_read_back_by_id_or_hash_checked_and_audited(
    ev: tuple[World, LocalBlobStore],
) -> None:
    w, _ = ev
    content = os.urandom(2 * CHUNK_SIZE + 3)
    blob = w.velocity.artifacts.attach(
        w.admin, w.call.key, media_type="audio/wav", data=io.BytesIO(content)
    ).blob
    by_id = w.velocity.artifacts.read_blob(w.agent_a, blob.key)
    assert by_id.blob == blob
    assert b"".join(by_id) == content
    by_hash = w.velocity.artifacts.read_blob(w.agent_a, blob.content_sha256)
    assert by_hash.read() == content
    assert _reveals(w) == [str(blob.key)] * 2


def test_a_tampered_blob_is_reported_not_returned(ev: tuple[World, LocalBlobStore]) -> None:
    w, blobs = ev
    blob = w.velocity.artifacts.attach(
        w.admin, w.call.key, media_type="audio/wav", data=b"the real call"
    ).blob
    path = blobs.path_for(blob.content_sha256)
    path.chmod(0o644)
    path.write_bytes(b"a forged call")
    with pytest.raises(BlobTampered) as err:
        w.velocity.artifacts.read_blob(w.admin, blob.key).read()
    assert err.value.sha256 == blob.content_sha256


def test_a_hidden_blob_is_not_found_exactly_like_a_missing_one(
    ev: tuple[World, LocalBlobStore],
) -> None:
    w, _ = ev
    blob = w.velocity.artifacts.attach(
        w.admin, w.chat.key, media_type="image/jpeg", data=b"photo"
    ).blob
    other = hashlib.sha256(b"never attached").hexdigest()
    for hidden, missing in ((blob.key, new_id()), (blob.content_sha256, other)):
        errors = []
        for given in (hidden, missing):
            with pytest.raises(NotFound) as err:
                w.velocity.artifacts.read_blob(w.agent_b, given)
            errors.append((err.value.entity, type(err.value.key)))
        assert errors[0] == errors[1]
    assert _reveals(w) == []
    with pytest.raises(PermissionDenied):
        w.velocity.artifacts.read_blob(w.by_role["analyst"], blob.key)


def test_bytes_missing_from_the_store_are_not_found_and_not_audited(
    ev: tuple[World, LocalBlobStore],
) -> None:
    w, _ = ev
    lost = StoredBlob(
        content_sha256=hashlib.sha256(b"lost").hexdigest(),
        size_bytes=4,
        media_type="image/png",
        storage_uri="file://localhost/gone",
    )
    with unit_of_work(w.velocity) as uow:
        uow.intel.blobs.add(lost)
        uow.commit()
    with pytest.raises(NotFound) as err:
        w.velocity.artifacts.read_blob(w.admin, lost.key)
    assert (err.value.entity, err.value.key) == ("blob", lost.content_sha256)
    assert _reveals(w) == []


@pytest.mark.parametrize("bad", ["abc", "A" * 64, "0" * 65])
def test_a_malformed_hash_is_refused_naming_blob(
    ev: tuple[World, LocalBlobStore], bad: str
) -> None:
    w, _ = ev
    with pytest.raises(ValidationFailed) as err:
        w.velocity.artifacts.read_blob(w.admin, bad)
    assert err.value.field == "blob"
