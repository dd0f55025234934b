"""The artifact query: the same answers on every store, and one statement on PostgreSQL.

One scenario holds an artifact of every kind and the cases visibility turns
on: evidence of no client, a CCTV clip about two agents' clients, blobs used
by a message, a call recording, evidence only, a clip's visit only, or by
nothing. Every default role reads every artifact: the answers are spelled
out once and hold on both stores; on PostgreSQL the one-statement lookup
answers exactly as the tables read one by one, costs the same statements for
every kind at any size, and every probe of its statement is an index scan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tests.support.pg_harness import Statements, empty_all_tables
from tests.support.world import T0, World, build
from velocity_domain import Velocity
from velocity_domain.access.principal import Principal
from velocity_domain.access.redaction import SENSITIVE_FIELDS
from velocity_domain.adapters.blobs import LocalBlobStore
from velocity_domain.adapters.postgres import artifacts as pg_artifacts
from velocity_domain.errors import NotFound
from velocity_domain.intel.entities import (
    Call,
    CallRecording,
    CctvLink,
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
from velocity_domain.intel.ports import ArtifactLookup
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.kernel.ids import new_id
from velocity_domain.services.intel.artifacts import Artifact
from velocity_domain.testing import unit_of_work

SENSITIVE_READ = "intel.artifacts.read_sensitive"
ROLES = ("sales_agent", "analyst", "sales_manager", "admin", "operator", "oracle_agent")

#: What client A's agent sees; client B's agent sees ``FOR_B``; neither sees the rest.
FOR_A = {
    "message",
    "call",
    "transcript",
    "recording",
    "email",
    "thread",
    "visit",
    "vehicle",
    "clip at A's visit",
    "photo blob",
    "recording blob",
    "clip blob",
}
FOR_B = {"visit of B", "perception of B", "clip of B's perception", "evidence blob"}
FOR_NO_AGENT = {"vehicle of no one", "clip of A at B's visit", "unused blob"}
#: The interaction each artifact belongs to (for a blob: the first visible one using it).
BELONGS = {
    "message": "chat",
    "call": "call",
    "transcript": "call",
    "recording": "call",
    "email": "email",
    "visit": "chat",
    "photo blob": "chat",
    "recording blob": "call",
}
#: The table of each artifact of the scenario that is no blob.
ROW_CLASS: dict[str, type[Any]] = {
    "message": Message,
    "call": Call,
    "transcript": Transcript,
    "recording": CallRecording,
    "email": Email,
    "thread": WhatsAppThread,
    "visit": Visit,
    "visit of B": Visit,
    "vehicle": VehicleEvent,
    "vehicle of no one": VehicleEvent,
    "perception of B": PerceptionEvent,
    "clip of A at B's visit": CctvLink,
    "clip at A's visit": CctvLink,
    "clip of B's perception": CctvLink,
}
#: The artifacts whose revealing read is audited (the sensitive kinds).
SENSITIVE = {name for name, cls in ROW_CLASS.items() if cls in SENSITIVE_FIELDS}
#: The blob a revealing read gives with the artifact.
BLOB_OF = {
    "recording": "recording blob",
    "perception of B": "evidence blob",
    "clip at A's visit": "clip blob",
}


def _add(w: World, *rows: Any) -> None:
    with unit_of_work(w.velocity) as uow:
        for row in rows:
            uow.table(type(row)).add(row)
        uow.commit()


def _blob(name: str) -> StoredBlob:
    return StoredBlob(
        content_sha256=hashlib.sha256(name.encode()).hexdigest(),
        size_bytes=len(name),
        media_type="video/mp4",
        storage_uri=f"memory://blobs/{name.replace(' ', '-')}",
    )


def scenario(w: World) -> dict[str, UUID]:
    """Every kind of artifact and every case of visibility, by name (ids of the world's too)."""
    artifacts = w.velocity.artifacts
    recording = artifacts.attach(w.admin, w.call.key, media_type="audio/ogg", data=b"the call")
    photo = artifacts.attach(w.admin, w.chat.key, media_type="image/jpeg", data=b"a site photo")
    a, b = w.client_a.key, w.client_b.key
    evidence_blob, clip_blob, unused_blob = _blob("evidence"), _blob("clip"), _blob("unused")
    thread = WhatsAppThread(person_id=a, wa_phone="+919830012345", source_system="wa")
    visit = Visit(person_id=a, visited_at=T0, interaction_id=w.chat.key)
    visit_of_b = Visit(person_id=b, visited_at=T0)
    vehicle = VehicleEvent(
        observed_at=T0, camera_ref="gate-1", plate_text="MH12AB1234", person_id=a
    )
    nobody = VehicleEvent(observed_at=T0, camera_ref="gate-2", plate_text="KA01XY0001")
    perceived = PerceptionEvent(
        observed_at=T0,
        event_type="presence",
        location_ref="lobby",
        person_id=b,
        blob_id=evidence_blob.key,
    )
    clip = {"camera_ref": "lobby", "clip_start": T0, "clip_end": T0}
    at_b = CctvLink(person_id=a, visit_id=visit_of_b.key, **clip)
    at_a = CctvLink(visit_id=visit.key, vehicle_event_id=vehicle.key, blob_id=clip_blob.key, **clip)
    of_b = CctvLink(perception_event_id=perceived.key, **clip)
    _add(w, evidence_blob, clip_blob, unused_blob, thread, visit, visit_of_b, vehicle, nobody)
    _add(w, perceived, at_b, at_a, of_b)
    with unit_of_work(w.velocity, read_only=True) as uow:
        texts = [m for m in uow.table(Message).list() if m.message_text is not None]
        (call,) = uow.table(Call).list()
        (transcript,) = uow.table(Transcript).list()
        (email,) = uow.table(Email).list()
    return {
        "message": texts[0].key,
        "call": call.key,
        "transcript": transcript.key,
        "recording": recording.link.key,
        "email": email.key,
        "thread": thread.key,
        "visit": visit.key,
        "visit of B": visit_of_b.key,
        "vehicle": vehicle.key,
        "vehicle of no one": nobody.key,
        "perception of B": perceived.key,
        "clip of A at B's visit": at_b.key,
        "clip at A's visit": at_a.key,
        "clip of B's perception": of_b.key,
        "photo blob": photo.blob.key,
        "recording blob": recording.blob.key,
        "evidence blob": evidence_blob.key,
        "clip blob": clip_blob.key,
        "unused blob": unused_blob.key,
    }


def _interaction_names(w: World, ids: dict[str, UUID]) -> dict[UUID, str]:
    with unit_of_work(w.velocity, read_only=True) as uow:
        email = uow.intel.emails.get(ids["email"]).interaction_id
    return {w.chat.key: "chat", w.call.key: "call", email: "email"}


def _principals(w: World) -> dict[str, Principal]:
    return {"agent A": w.agent_a, "agent B": w.agent_b, **{r: w.by_role[r] for r in ROLES}}


def _read(w: World, who: Principal, key: UUID) -> Artifact | dict[str, Any]:
    """The answer to one read: the artifact, or the error as the caller gets it."""
    try:
        return w.velocity.artifacts.get(who, key)
    except NotFound as err:
        return err.to_dict()


def _revealing_reads(w: World) -> list[tuple[UUID | None, str | None, Any]]:
    events = w.velocity.audit.list(w.admin, action=SENSITIVE_READ, limit=200)
    return sorted(((e.actor_user_id, e.target_ref, e.details_json) for e in events), key=repr)


# -- the same answers on both stores ---------------------------------------------------------


def test_who_sees_each_artifact(world: World) -> None:
    ids = scenario(world)
    seen = {
        name: {
            who
            for who, p in _principals(world).items()
            if not isinstance(_read(world, p, key), dict)
        }
        for name, key in ids.items()
    }
    everyone = set(ROLES) - {"sales_agent"}
    for name in ids:
        agents = {"agent A"} if name in FOR_A else {"agent B"} if name in FOR_B else set()
        if "agent A" in agents:
            agents.add("sales_agent")  # agent A is the world's sales agent
        assert seen[name] == everyone | agents, name
    assert set(ids) == FOR_A | FOR_B | FOR_NO_AGENT


def test_each_artifact_is_read_with_its_kind_interaction_and_blob(world: World) -> None:
    ids = scenario(world)
    names = {key: name for name, key in ids.items()}
    interactions = _interaction_names(world, ids)
    manager = world.by_role["sales_manager"]
    for name, key in ids.items():
        found = world.velocity.artifacts.get(manager, key)
        assert found.artifact.key == key
        assert found.artifact.redacted_fields == (), name
        interaction = None if found.interaction is None else interactions[found.interaction.key]
        assert interaction == BELONGS.get(name), name
        blob = None if found.blob is None else names[found.blob.key]
        assert blob == (name if name.endswith("blob") else BLOB_OF.get(name)), name
    kinds = {
        name: world.velocity.artifacts.get(manager, key).kind.value for name, key in ids.items()
    }
    assert kinds == {
        "message": "message",
        "call": "call",
        "transcript": "transcript",
        "recording": "call_recording",
        "email": "email",
        "thread": "whatsapp_thread",
        "visit": "visit",
        "visit of B": "visit",
        "vehicle": "vehicle_event",
        "vehicle of no one": "vehicle_event",
        "perception of B": "perception_event",
        "clip of A at B's visit": "cctv_link",
        "clip at A's visit": "cctv_link",
        "clip of B's perception": "cctv_link",
        "photo blob": "blob",
        "recording blob": "blob",
        "evidence blob": "blob",
        "clip blob": "blob",
        "unused blob": "blob",
    }


def test_content_is_withheld_alike_and_only_revealing_reads_are_audited(world: World) -> None:
    ids = scenario(world)
    analyst, manager = world.by_role["analyst"], world.by_role["sales_manager"]
    for name, key in ids.items():
        found = world.velocity.artifacts.get(analyst, key)
        withheld = () if name.endswith("blob") else SENSITIVE_FIELDS.get(ROW_CLASS[name], ())
        assert found.artifact.redacted_fields == withheld, name
        assert all(found.artifact.data[f] is None for f in withheld), name
        blob = None if found.blob is None else found.blob.key
        assert blob == (key if name.endswith("blob") else None), name
    assert _revealing_reads(world) == []
    for key in ids.values():
        world.velocity.artifacts.get(manager, key)
    revealed = [t for _, t, _ in _revealing_reads(world)]
    assert sorted(revealed) == sorted(str(ids[n]) for n in SENSITIVE)
    assert {a for a, _, _ in _revealing_reads(world)} == {manager.user_id}


def test_a_missing_artifact_is_not_found_for_everyone(world: World) -> None:
    missing = new_id()
    for who in _principals(world).values():
        answer = _read(world, who, missing)
        assert answer == NotFound("intel_artifacts", missing).to_dict()


# -- PostgreSQL: one statement, answering as the tables read one by one -------------------


@pytest.fixture
def pg_world(pg_url: URL, pg_engine: sa.Engine, tmp_path: Path) -> Iterator[World]:
    """The shared world on PostgreSQL alone, its evidence bytes under ``tmp_path``."""
    empty_all_tables(pg_engine)
    dsn = pg_url.render_as_string(hide_password=False)
    clock = FixedClock(T0 + timedelta(days=30))
    with Velocity.from_url(dsn, clock=clock, blob_store=LocalBlobStore(tmp_path)) as velocity:
        yield build(velocity)


def _statements(call: Callable[[], object]) -> list[str]:
    """The first word of every statement ``call`` sends, in order."""
    seen = Statements()
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", seen)
    try:
        call()
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", seen)
    return [s.split(None, 1)[0].upper() for s in seen.seen]


@pytest.mark.postgres
def test_the_one_statement_answers_as_the_tables_read_one_by_one(
    pg_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = pg_world
    ids = scenario(w) | {"missing": new_id()}
    principals = _principals(w)

    def everything() -> dict[tuple[str, str], Any]:
        return {
            (who, n): _read(w, p, key) for who, p in principals.items() for n, key in ids.items()
        }

    at_once = everything()
    first_round = _revealing_reads(w)
    blob = ids["evidence blob"]
    assert len(_statements(lambda: _read(w, w.agent_b, blob))) == 1
    monkeypatch.delitem(pg_artifacts.EXTENSIONS, ArtifactLookup)
    assert len(_statements(lambda: _read(w, w.agent_b, blob))) > 1  # the tables, one by one
    one_by_one = everything()
    for read, answer in at_once.items():
        assert one_by_one[read] == answer, read
    assert _revealing_reads(w) == sorted(first_round * 2, key=repr)


@pytest.mark.postgres
def test_any_artifact_costs_one_statement_and_its_audit_at_any_size(pg_world: World) -> None:
    w = pg_world
    ids = scenario(w) | {"missing": new_id()}
    readers = {"agent A": w.agent_a, "agent B": w.agent_b, **{r: w.by_role[r] for r in ROLES}}

    def costs() -> dict[tuple[str, str], list[str]]:
        return {
            (who, name): _statements(lambda p=p, key=key: _read(w, p, key))
            for who, p in readers.items()
            for name, key in ids.items()
        }

    small = costs()
    _grow(w, ids)
    assert costs() == small
    for (who, name), statements in small.items():
        reveals = name in SENSITIVE and readers[who].has(SENSITIVE_READ) and name in _seen_by(who)
        assert statements == ["SELECT", "INSERT"] if reveals else ["SELECT"], (who, name)


def _seen_by(who: str) -> set[str]:
    if who in ("agent A", "sales_agent"):
        return FOR_A
    if who == "agent B":
        return FOR_B
    return FOR_A | FOR_B | FOR_NO_AGENT


def _grow(w: World, ids: dict[str, UUID]) -> None:
    """Many more rows using the scenario's blobs: client A's messages, calls, B's evidence."""
    a, b = w.client_a.key, w.client_b.key
    with unit_of_work(w.velocity, read_only=True) as uow:
        photo = uow.intel.blobs.get(ids["photo blob"])
        recorded = uow.intel.blobs.get(ids["recording blob"])
    chats = [Interaction(person_id=a, channel="message", happened_at=T0) for _ in range(150)]
    calls = [Interaction(person_id=a, channel="call", happened_at=T0) for _ in range(150)]
    call_rows = [
        Call(interaction_id=i.key, call_direction="outbound", started_at=T0) for i in calls
    ]
    rows: list[list[Any]] = [
        chats + calls,
        call_rows,
        [
            Message(interaction_id=i.key, sender_role="client", blob_id=photo.key, sent_at=T0)
            for i in chats
        ],
        [CallRecording(call_id=c.key, blob_id=recorded.key, format="ogg") for c in call_rows],
        [Transcript(call_id=c.key, full_text="more") for c in call_rows],
        [
            VehicleEvent(
                observed_at=T0, camera_ref="gate", person_id=b, blob_id=ids["evidence blob"]
            )
            for _ in range(150)
        ],
    ]
    with unit_of_work(w.velocity) as uow:
        for batch in rows:
            uow.table(type(batch[0])).add_many(batch)
        uow.commit()


# -- PostgreSQL: every probe of the statement is an index scan ------------------------------

#: Rows per artifact table (interactions: three per person); the artifact ``g`` of a kind has
#: the id ``md5(prefix || g)``, and the agent holds the clients whose ``g`` is a multiple of 50.
POPULATED = 2_000
POPULATE = """
INSERT INTO crm_people (person_id, full_name, normalized_name, persona_labels, version,
                        created_at, updated_at)
SELECT md5('p' || g)::uuid, 'Person ' || g, 'person ' || g, '{}', 1, now(), now()
FROM generate_series(1, :n) AS g;
INSERT INTO crm_leads (lead_id, person_id, source_system, status, stage, assigned_user_id,
                       version, created_at, updated_at)
SELECT md5('l' || g)::uuid, md5('p' || g)::uuid, 'web', 'open', 'new',
       CASE WHEN mod(g, 50) = 0 THEN :agent END, 1, now(), now()
FROM generate_series(1, :n) AS g;
INSERT INTO crm_opportunities (opportunity_id, person_id, stage, currency, assigned_user_id,
                               version, created_at, updated_at)
SELECT md5('o' || g)::uuid, md5('p' || g)::uuid, 'new', 'INR',
       CASE WHEN mod(g, 70) = 0 THEN :agent END, 1, now(), now()
FROM generate_series(1, :n) AS g;
INSERT INTO intel_interactions (interaction_id, person_id, channel, interaction_type,
                                happened_at, recorded_at)
SELECT md5(k.prefix || g)::uuid, md5('p' || g)::uuid, k.channel, 'other', now(), now()
FROM generate_series(1, :n) AS g,
     (VALUES ('ic', 'call'), ('im', 'whatsapp'), ('ie', 'email')) AS k(prefix, channel);
INSERT INTO intel_blob_store_index (blob_id, content_sha256, size_bytes, media_type,
                                    storage_uri, created_at)
SELECT md5('b' || g)::uuid, md5('b' || g) || md5('bb' || g), 10, 'audio/mpeg',
       'memory://blobs/' || g, now()
FROM generate_series(1, :n) AS g;
INSERT INTO intel_calls (call_id, interaction_id, call_direction, started_at)
SELECT md5('c' || g)::uuid, md5('ic' || g)::uuid, 'outbound', now()
FROM generate_series(1, :n) AS g;
INSERT INTO intel_call_recordings (recording_id, call_id, blob_id, format, recorded_at)
SELECT md5('r' || g)::uuid, md5('c' || g)::uuid, md5('b' || g)::uuid, 'mp3', now()
FROM generate_series(1, :n) AS g;
INSERT INTO intel_transcripts (transcript_id, call_id, recording_id, full_text,
                               speaker_segments_json, transcribed_at)
SELECT md5('t' || g)::uuid, md5('c' || g)::uuid, md5('r' || g)::uuid, 'words ' || g,
       '[{"speaker": "agent", "text": "hello"}]', now()
FROM generate_series(1, :n) AS g;
INSERT INTO intel_messages (message_id, interaction_id, sender_role, message_text, blob_id,
                            sent_at, metadata_json)
SELECT md5('m' || g)::uuid, md5('im' || g)::uuid, 'client', 'hello ' || g,
       md5('b' || g)::uuid, now(), '{}'
FROM generate_series(1, :n) AS g;
INSERT INTO intel_emails (email_id, interaction_id, from_address, body, sent_at)
SELECT md5('e' || g)::uuid, md5('ie' || g)::uuid, 'a@example.com', 'body ' || g, now()
FROM generate_series(1, :n) AS g;
INSERT INTO intel_visits (visit_id, person_id, interaction_id, visit_type, status, visited_at,
                          version, created_at, updated_at)
SELECT md5('v' || g)::uuid, md5('p' || g)::uuid, md5('im' || g)::uuid, 'site_visit',
       'scheduled', now(), 1, now(), now()
FROM generate_series(1, :n) AS g;
INSERT INTO intel_whatsapp_threads (whatsapp_thread_id, person_id, wa_phone, message_count,
                                    source_system, version, created_at, updated_at)
SELECT md5('w' || g)::uuid, md5('p' || g)::uuid, '+91' || (7000000000 + g)::text, 0, 'wa', 1,
       now(), now()
FROM generate_series(1, :n) AS g;
INSERT INTO intel_vehicle_events (vehicle_event_id, observed_at, camera_ref, plate_text,
                                  person_id, blob_id)
SELECT md5('ve' || g)::uuid, now(), 'gate', 'MH12AB' || g, md5('p' || g)::uuid,
       md5('b' || g)::uuid
FROM generate_series(1, :n) AS g;
INSERT INTO intel_perception_events (perception_event_id, observed_at, event_type,
                                     location_ref, person_id, blob_id, payload_json)
SELECT md5('pe' || g)::uuid, now(), 'presence', 'lobby', md5('p' || g)::uuid,
       md5('b' || g)::uuid, '{}'
FROM generate_series(1, :n) AS g;
INSERT INTO intel_cctv_links (cctv_link_id, visit_id, perception_event_id, vehicle_event_id,
                              person_id, camera_ref, clip_start, clip_end, blob_id, linked_at)
SELECT md5('cl' || g)::uuid, md5('v' || g)::uuid, md5('pe' || g)::uuid, md5('ve' || g)::uuid,
       md5('p' || g)::uuid, 'lobby', now(), now(), md5('b' || g)::uuid, now()
FROM generate_series(1, :n) AS g
"""
#: The id prefix of each kind in ``POPULATE``.
PREFIXES = ("m", "c", "t", "r", "e", "v", "w", "ve", "pe", "cl", "b")


def _populated_id(prefix: str, g: int) -> UUID:
    return UUID(hashlib.md5(f"{prefix}{g}".encode()).hexdigest())


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.postgres
def test_every_probe_of_the_statement_is_an_index_scan(pg_url: URL, pg_engine: sa.Engine) -> None:
    empty_all_tables(pg_engine)
    with Velocity.from_url(pg_url.render_as_string(hide_password=False)) as velocity:
        _, admin = velocity.users.create_first_admin(
            email="admin@velocity.example", display_name="Admin"
        )
        user = velocity.users.create(
            admin, email="agent@velocity.example", display_name="Agent", roles=["sales_agent"]
        )
        agent = velocity.users.principal_for(admin, user.key)
        with pg_engine.begin() as conn:
            for statement in POPULATE.split(";\n"):
                conn.execute(sa.text(statement), {"n": POPULATED, "agent": user.key})
        with pg_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        captured: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
            captured.append((statement, parameters))

        sa.event.listen(sa.engine.Engine, "before_cursor_execute", capture)
        try:
            for prefix in PREFIXES:
                for who, g in ((admin, 100), (agent, 100), (agent, 101)):
                    try:
                        velocity.artifacts.get(who, _populated_id(prefix, g))
                    except NotFound:
                        assert (who, g) == (agent, 101)  # a client the agent does not hold
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", capture)
    selects = [(s, p) for s, p in captured if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3 * len(PREFIXES)
    raw = pg_engine.raw_connection()
    try:
        cursor = raw.cursor()
        # With scans a last resort, a sequential scan left means no index serves that probe.
        cursor.execute("SET enable_seqscan = off")
        for statement, parameters in selects:
            cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
            (document,) = cursor.fetchone()
            plan = (document if isinstance(document, list) else json.loads(document))[0]["Plan"]
            scans = [n["Relation Name"] for n in _nodes(plan) if n["Node Type"] == "Seq Scan"]
            assert not scans, json.dumps(plan, indent=1)
            probes = {n.get("Alias") for n in _nodes(plan) if "Index" in n["Node Type"]}
            assert {f"k{n}" for n in range(len(PREFIXES))} <= probes
    finally:
        raw.close()
