"""The artifact query (spec section 11) and evidence attached to interactions.

An artifact is read by its own id, whatever its kind: a message, call, call
recording, transcript (with its speaker segments), email, WhatsApp thread,
visit, vehicle, perception or CCTV evidence, or a blob index entry. Content
is withheld without ``intel.artifacts.read_sensitive`` exactly as the
interactions service withholds it, and every read that reveals content is
audited (action ``intel.artifacts.read_sensitive``). An artifact of a client
the principal may not see is ``NotFound``, exactly like one that does not
exist.

Evidence bytes live in a :class:`~velocity_domain.intel.blobs.BlobStore`,
never in the database: :meth:`ArtifactService.attach` stores them under
their SHA-256 and indexes them (``intel_blob_store_index``), and
:meth:`ArtifactService.read_blob` gives them back checked against that hash.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from uuid import UUID

import attrs

from velocity_domain.access.operations import authorize, register
from velocity_domain.access.principal import Principal
from velocity_domain.access.redaction import READ_SENSITIVE, ArtifactView, is_sensitive, view
from velocity_domain.access.visibility import Visibility
from velocity_domain.errors import NotFound, ValidationFailed
from velocity_domain.governance.engine import Governance
from velocity_domain.governance.service import Service, serves
from velocity_domain.intel.blobs import (
    BinaryStream,
    BlobReader,
    BlobRef,
    BlobStore,
    check_sha256,
)
from velocity_domain.intel.entities import (
    Call,
    CallRecording,
    CctvLink,
    Channel,
    Email,
    Interaction,
    Message,
    PerceptionEvent,
    RecordingFormat,
    SenderRole,
    StoredBlob,
    Transcript,
    VehicleEvent,
    Visit,
    WhatsAppThread,
)
from velocity_domain.intel.ports import (
    ARTIFACT_TABLES,
    BLOB_RECORDINGS,
    ArtifactLookup,
    FoundArtifact,
)
from velocity_domain.kernel.clock import Clock
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE
from velocity_domain.kernel.query import Among, Eq, Filter, In, Query, Source
from velocity_domain.uow import UnitOfWork

__all__ = ["Artifact", "ArtifactKind", "ArtifactService", "Attachment", "BlobContent"]

ATTACH = register(
    "intel.artifacts.attach",
    "crm.interactions.write",
    "attach evidence bytes to an interaction: a call's recording or a message's attachment",
)
GET = register(
    "intel.artifacts.get",
    "crm.interactions.read",
    "one artifact (message, call, recording, transcript, email, thread, visit, evidence, blob)"
    " by its own id",
)
READ_BLOB = register(
    "intel.artifacts.read_blob",
    READ_SENSITIVE,
    "the bytes of a stored blob, checked against their SHA-256",
)
SENSITIVE_READ_ACTION = "intel.artifacts.read_sensitive"
#: The entity a missing or hidden artifact is reported as, whatever its table.
ARTIFACT = "intel_artifacts"


class ArtifactKind(enum.StrEnum):
    """What an artifact is: which table holds it."""

    MESSAGE = "message"
    CALL = "call"
    CALL_RECORDING = "call_recording"
    TRANSCRIPT = "transcript"
    EMAIL = "email"
    WHATSAPP_THREAD = "whatsapp_thread"
    VISIT = "visit"
    VEHICLE_EVENT = "vehicle_event"
    PERCEPTION_EVENT = "perception_event"
    CCTV_LINK = "cctv_link"
    BLOB = "blob"


#: The kind of each artifact table.
_KIND_OF: dict[type[Entity], ArtifactKind] = {
    Message: ArtifactKind.MESSAGE,
    Call: ArtifactKind.CALL,
    CallRecording: ArtifactKind.CALL_RECORDING,
    Transcript: ArtifactKind.TRANSCRIPT,
    Email: ArtifactKind.EMAIL,
    WhatsAppThread: ArtifactKind.WHATSAPP_THREAD,
    Visit: ArtifactKind.VISIT,
    VehicleEvent: ArtifactKind.VEHICLE_EVENT,
    PerceptionEvent: ArtifactKind.PERCEPTION_EVENT,
    CctvLink: ArtifactKind.CCTV_LINK,
    StoredBlob: ArtifactKind.BLOB,
}

#: Recording formats by audio media type (anything else is ``other``).
_FORMATS: dict[str, RecordingFormat] = {
    "audio/mpeg": RecordingFormat.MP3,
    "audio/mp3": RecordingFormat.MP3,
    "audio/wav": RecordingFormat.WAV,
    "audio/x-wav": RecordingFormat.WAV,
    "audio/wave": RecordingFormat.WAV,
    "audio/ogg": RecordingFormat.OGG,
    "audio/opus": RecordingFormat.OPUS,
    "audio/mp4": RecordingFormat.M4A,
    "audio/x-m4a": RecordingFormat.M4A,
    "audio/m4a": RecordingFormat.M4A,
    "audio/webm": RecordingFormat.WEBM,
    "audio/amr": RecordingFormat.AMR,
}
_MESSAGE_CHANNELS = frozenset({Channel.MESSAGE, Channel.WHATSAPP})


@attrs.frozen
class Artifact:
    """One artifact as the principal may see it, with the interaction it belongs to.

    ``artifact.data`` holds its fields (content emptied and named in
    ``artifact.redacted_fields`` when withheld); a transcript's speaker
    segments are its ``speaker_segments_json``. ``blob`` is the index entry
    of the artifact's stored bytes when the principal may see it (the entry
    itself for a blob), for :meth:`ArtifactService.read_blob`.
    """

    kind: ArtifactKind
    artifact: ArtifactView
    interaction: Interaction | None
    blob: StoredBlob | None = None


@attrs.frozen
class Attachment:
    """Evidence attached to an interaction: the blob's index entry and the row tying it there.

    ``link`` is the call's :class:`~velocity_domain.intel.entities.CallRecording`
    or the message carrying the attachment; ``created`` is false when the
    same bytes were already attached there (nothing was written).
    """

    blob: StoredBlob
    link: CallRecording | Message
    created: bool


@attrs.frozen
class BlobContent:
    """A blob's index entry and its bytes, checked against its SHA-256 as they are read.

    Iterate for the chunks (the iteration ends with ``BlobTampered`` if the
    stored bytes were altered), or :meth:`read` them whole once confirmed.
    """

    blob: StoredBlob
    reader: BlobReader

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.reader)

    def read(self) -> bytes:
        """The whole blob, once its hash is confirmed."""
        return self.reader.read()


class ArtifactService(Service):
    """The artifact query, attachments and blob reads over one blob store."""

    def __init__(
        self,
        unit_of_work: Callable[..., UnitOfWork],
        clock: Clock,
        governance: Governance | None = None,
        *,
        blobs: BlobStore,
    ) -> None:
        super().__init__(unit_of_work, clock, governance)
        self._blobs = blobs

    @serves(ATTACH)
    def attach(
        self,
        principal: Principal,
        interaction_id: UUID,
        *,
        media_type: str,
        filename: str | None = None,
        sender_role: SenderRole | str | None = None,
        data: bytes | BinaryStream,
    ) -> Attachment:
        """Store ``data`` (bytes or a binary stream) and attach it to the interaction.

        A call's interaction takes an audio recording (``audio/...``, a
        :class:`~velocity_domain.intel.entities.CallRecording` of its call); a
        message or WhatsApp interaction takes any media, as a message of
        ``sender_role`` (default ``other``) carrying the blob. The bytes are
        stored once under their SHA-256 and indexed once, whoever attaches
        them again and wherever; attaching the same bytes to the same
        interaction again writes nothing (``created`` is false). The index
        row, the link and the audit event are written in one unit of work.
        """
        authorize(principal, ATTACH)
        _check_blob_fields(media_type, filename)
        with self._reading(principal, ATTACH) as uow:
            _attach_target(uow, principal, interaction_id, media_type, sender_role)
        ref = self._blobs.put(data, media_type=media_type)
        with self._begin(principal, ATTACH) as uow:
            interaction, call = _attach_target(
                uow, principal, interaction_id, media_type, sender_role
            )
            blob, new_blob = _indexed(uow, ref, filename)
            link, new_link = _link(uow, interaction, call, blob, sender_role)
            if new_link:
                self._audit(
                    uow,
                    principal,
                    ATTACH.name,
                    target_domain="intel",
                    target_ref=interaction.key,
                    after=link,
                    details={
                        "blob_id": str(blob.key),
                        "content_sha256": blob.content_sha256,
                        "size_bytes": blob.size_bytes,
                        "media_type": blob.media_type,
                        "new_blob": new_blob,
                    },
                )
                uow.commit()
        return Attachment(blob, link, new_link)

    @serves(GET)
    def get(self, principal: Principal, artifact_id: UUID) -> Artifact:
        """One artifact by its own id, whatever its kind, with the interaction it belongs to.

        The artifact, its interaction (a call's for a recording or
        transcript) and the visibility of its clients are read together: one
        statement on PostgreSQL, whatever the kind (a store's
        :class:`~velocity_domain.intel.ports.ArtifactLookup`), a fixed handful
        of table reads elsewhere; a read that reveals sensitive content adds
        its audit event. A missing artifact and one of a client the principal
        may not see are both ``NotFound("intel_artifacts", artifact_id)``.
        """
        reveal = principal.has(READ_SENSITIVE)
        with self._reading(principal, GET) as uow:
            rule = self._visibility(uow, principal).rule()
            lookup = uow.extension(ArtifactLookup)  # type: ignore[type-abstract]
            found = (lookup or _TableByTable(uow, blob=reveal)).find(artifact_id, rule)
        if found is None or not _seen(found, rule):
            raise NotFound(ARTIFACT, artifact_id)
        row, interaction = found.row, found.interaction
        kind = _KIND_OF[type(row)]
        if isinstance(row, StoredBlob):
            return Artifact(kind, view(row, reveal=True), interaction, row)
        shown = view(row, reveal=reveal)
        if reveal and is_sensitive(type(row)):
            with self._begin(principal, GET) as uow:
                self._audit(
                    uow,
                    principal,
                    SENSITIVE_READ_ACTION,
                    target_domain="intel",
                    target_ref=row.key,
                    details={
                        "artifacts": [f"{shown.table}:{shown.key}"],
                        "interaction_id": None if interaction is None else str(interaction.key),
                    },
                )
                uow.commit()
        return Artifact(kind, shown, interaction, found.blob if reveal else None)

    @serves(READ_BLOB)
    def read_blob(self, principal: Principal, blob: UUID | str) -> BlobContent:
        """The bytes of a blob, by its index id or its SHA-256, checked as they are read.

        Needs ``intel.artifacts.read_sensitive``; the blob must be used by a
        row the principal may see (a message or recording of a client's
        interaction, or evidence naming a client; anyone who sees every
        client sees every blob). Otherwise, or when it is not indexed, it is
        ``NotFound("intel_blob_store_index", blob)``; a malformed hash is
        ``ValidationFailed`` naming ``blob``. The read is audited (action
        ``intel.artifacts.read_sensitive``) before the bytes are given; bytes
        missing from the blob store are ``NotFound("blob", sha256)`` with
        nothing audited, altered ones ``BlobTampered`` when read.
        """
        with self._begin(principal, READ_BLOB) as uow:
            if isinstance(blob, UUID):
                row = uow.intel.blobs.find(blob)
            else:
                sha256 = check_sha256(blob, "blob")
                query = Query((Eq("content_sha256", sha256),), limit=1)
                row = next(iter(uow.intel.blobs.list(query)), None)
            visibility = self._visibility(uow, principal)
            if row is None or not _blob_visible(uow, visibility, row):
                raise NotFound(StoredBlob.table_name, blob)
            reader = self._blobs.open(row.content_sha256, size=row.size_bytes)
            self._audit(
                uow,
                principal,
                SENSITIVE_READ_ACTION,
                target_domain="intel",
                target_ref=row.key,
                details={
                    "artifacts": [f"{row.table_name}:{row.key}"],
                    "content_sha256": row.content_sha256,
                },
            )
            try:
                uow.commit()
            except BaseException:
                reader.close()
                raise
        return BlobContent(row, reader)


def _check_blob_fields(media_type: str, filename: str | None) -> None:
    """Refuse a bad media type or file name before any byte is stored (errors name the argument)."""
    try:
        StoredBlob(
            content_sha256="0" * 64,
            size_bytes=0,
            media_type=media_type,
            storage_uri="memory://blobs/check",
            original_filename=filename,
        )
    except ValidationFailed as err:
        field = "filename" if err.field == "original_filename" else err.field
        raise ValidationFailed(field, err.reason, value=err.value) from None


def _attach_target(
    uow: UnitOfWork,
    principal: Principal,
    interaction_id: UUID,
    media_type: str,
    sender_role: SenderRole | str | None,
) -> tuple[Interaction, Call | None]:
    """The visible interaction evidence is attached to, and its call for a recording."""
    interaction = Visibility(uow, principal).referenced(
        Interaction, interaction_id, "interaction_id"
    )
    if interaction.channel is Channel.CALL:
        if sender_role is not None:
            raise ValidationFailed("sender_role", "a call's recording has no sender; leave it out")
        if not media_type.startswith("audio/"):
            raise ValidationFailed(
                "media_type", "a call takes an audio recording (audio/...)", value=media_type
            )
        by_interaction = Query((Eq("interaction_id", interaction.key),), limit=1)
        call = next(iter(uow.intel.calls.list(by_interaction)), None)
        if call is None:
            raise ValidationFailed("interaction_id", "the call interaction has no call row yet")
        return interaction, call
    if interaction.channel not in _MESSAGE_CHANNELS:
        raise ValidationFailed(
            "interaction_id",
            f"a {interaction.channel.value} interaction takes no attachment; attach to a call"
            " (its recording) or a message or WhatsApp interaction",
        )
    return interaction, None


def _indexed(uow: UnitOfWork, ref: BlobRef, filename: str | None) -> tuple[StoredBlob, bool]:
    """The index row of the blob ``ref``: the one there is, or a new one (and whether new)."""
    query = Query((Eq("content_sha256", ref.sha256),), limit=1)
    existing = next(iter(uow.intel.blobs.list(query)), None)
    if existing is not None:
        return existing, False
    row = StoredBlob(
        content_sha256=ref.sha256,
        size_bytes=ref.size,
        media_type=ref.media_type,
        storage_uri=ref.uri,
        original_filename=filename,
    )
    return uow.intel.blobs.add(row), True


def _link(
    uow: UnitOfWork,
    interaction: Interaction,
    call: Call | None,
    blob: StoredBlob,
    sender_role: SenderRole | str | None,
) -> tuple[CallRecording | Message, bool]:
    """The row tying ``blob`` to the interaction: the one there is, or a new one (if new)."""
    if call is not None:
        recordings = Query((Eq("call_id", call.key), Eq("blob_id", blob.key)), limit=1)
        recording = next(iter(uow.intel.call_recordings.list(recordings)), None)
        if recording is not None:
            return recording, False
        fmt = _FORMATS.get(blob.media_type, RecordingFormat.OTHER)
        made = CallRecording(call_id=call.key, blob_id=blob.key, format=fmt)
        return uow.intel.call_recordings.add(made), True
    messages = Query((Eq("interaction_id", interaction.key), Eq("blob_id", blob.key)), limit=1)
    message = next(iter(uow.intel.messages.list(messages)), None)
    if message is not None:
        return message, False
    made_message = Message(
        interaction_id=interaction.key,
        sender_role=SenderRole(sender_role or SenderRole.OTHER),
        blob_id=blob.key,
        sent_at=interaction.happened_at,
    )
    return uow.intel.messages.add(made_message), True


class _TableByTable:
    """The artifact lookup over the tables' own reads, for a store without one of its own.

    The id is looked for table by table (one primary-key read each, at
    most eleven), then its interaction, the clients of a CCTV clip's
    references, their visibility and (when ``blob``, for a read that
    reveals it) its blob: a fixed handful of reads.
    """

    def __init__(self, uow: UnitOfWork, *, blob: bool) -> None:
        self._uow = uow
        self._blob = blob

    def find(self, artifact_id: UUID, rule: Filter | None) -> FoundArtifact | None:
        """The artifact and what decides who may see it (see ``ArtifactLookup``)."""
        uow = self._uow
        row = _locate(uow, artifact_id)
        if row is None:
            return None
        if isinstance(row, StoredBlob):
            interaction = _blob_use(uow, rule, row)
            evidence = (
                rule is not None and interaction is None and _evidence_visible(uow, rule, row)
            )
            return FoundArtifact(row, interaction, evidence_visible=evidence)
        interaction = _interaction_of(uow, row)
        persons = _persons_of(uow, row, interaction)
        visible = persons
        if rule is not None and persons:
            query = Query((In("person_id", tuple(persons)), rule), limit=MAX_PAGE_SIZE)
            visible = frozenset(p.key for p in uow.crm.people.list(query))
        blob_id = getattr(row, "blob_id", None)
        blob = None
        if self._blob and isinstance(blob_id, UUID):
            blob = uow.intel.blobs.find(blob_id)
        return FoundArtifact(row, interaction, persons, visible, blob)


def _seen(found: FoundArtifact, rule: Filter | None) -> bool:
    """Whether the principal whose visibility ``rule`` is may see the artifact ``found``.

    Anyone may who sees every client (no rule); otherwise a blob must be
    used by a visible interaction or named by evidence of a visible client,
    and any other artifact must be about clients all visible (evidence of no
    client is seen only by those who see everyone).
    """
    if rule is None:
        return True
    if isinstance(found.row, StoredBlob):
        return found.interaction is not None or found.evidence_visible
    return bool(found.persons) and found.persons <= found.visible


def _locate(uow: UnitOfWork, key: UUID) -> Entity | None:
    """The artifact ``key``: one primary-key read per table, in order, until found."""
    for cls in ARTIFACT_TABLES:
        row = uow.table(cls).find(key)
        if row is not None:
            return row
    return None


def _interaction_of(uow: UnitOfWork, row: Entity) -> Interaction | None:
    """The interaction ``row`` belongs to (through its call for a recording or transcript)."""
    interaction_id = getattr(row, "interaction_id", None)
    if isinstance(row, CallRecording | Transcript):
        interaction_id = uow.intel.calls.get(row.call_id).interaction_id
    if not isinstance(interaction_id, UUID):
        return None
    return uow.intel.interactions.get(interaction_id)


def _persons_of(uow: UnitOfWork, row: Entity, interaction: Interaction | None) -> frozenset[UUID]:
    """The clients ``row`` is about: all must be visible to see it (none: only to everyone's)."""
    persons: set[UUID | None] = {getattr(row, "person_id", None)}
    if interaction is not None:
        persons.add(interaction.person_id)
    if isinstance(row, CctvLink):
        if row.visit_id is not None:
            persons.add(uow.intel.visits.get(row.visit_id).person_id)
        if row.perception_event_id is not None:
            persons.add(uow.intel.perception_events.get(row.perception_event_id).person_id)
        if row.vehicle_event_id is not None:
            persons.add(uow.intel.vehicle_events.get(row.vehicle_event_id).person_id)
    return frozenset(p for p in persons if p is not None)


def _blob_use(uow: UnitOfWork, rule: Filter | None, blob: StoredBlob) -> Interaction | None:
    """The first interaction ``rule`` keeps (by id) whose message or call recording uses ``blob``.

    Two statements: the blob's first recordings, then the interactions with
    a message or a call among them, under the visibility rule (a semi-join).
    """
    first = Query((Eq("blob_id", blob.key),), limit=BLOB_RECORDINGS)
    recordings = uow.intel.call_recordings.list(first)
    sources = [Source(Message.table_name, "interaction_id", (Eq("blob_id", blob.key),))]
    if recordings.items:
        calls = In("call_id", [r.call_id for r in recordings])
        sources.append(Source(Call.table_name, "interaction_id", (calls,)))
    where: list[Filter] = [Among("interaction_id", sources)]
    if rule is not None:
        where.append(rule)
    return next(iter(uow.intel.interactions.list(Query(where, limit=1))), None)


def _blob_visible(uow: UnitOfWork, visibility: Visibility, blob: StoredBlob) -> bool:
    """Whether the principal may see ``blob``: through everyone, or a visible row using it."""
    rule = visibility.rule()
    if rule is None or _blob_use(uow, rule, blob) is not None:
        return True
    return _evidence_visible(uow, rule, blob)


def _evidence_visible(uow: UnitOfWork, rule: Filter, blob: StoredBlob) -> bool:
    """Whether vehicle, perception or CCTV evidence using ``blob`` names a client ``rule`` keeps.

    A CCTV clip names one directly or through its visit: two statements.
    """
    used = (Eq("blob_id", blob.key),)
    evidence = Among(
        "person_id",
        [
            Source(table, "person_id", used)
            for table in (
                VehicleEvent.table_name,
                PerceptionEvent.table_name,
                CctvLink.table_name,
            )
        ],
    )
    if uow.crm.people.list(Query((evidence, rule), limit=1)).items:
        return True
    clips = Among("visit_id", [Source(CctvLink.table_name, "visit_id", used)])
    return bool(uow.intel.visits.list(Query((clips, rule), limit=1)).items)
