"""The interaction and evidence repository: its tables, the timeline and the QD history.

Evidence tables are append-only: they offer ``add`` and reads, never update.
The artifact query's port (:class:`ArtifactLookup`) lets a store read an
artifact of any kind in one statement.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple, Protocol
from uuid import UUID

from velocity_domain.intel.entities import (
    Call,
    CallRecording,
    CctvLink,
    Channel,
    Email,
    Interaction,
    Message,
    PerceptionEvent,
    QdScore,
    QdScoreType,
    QdTimeseriesPoint,
    Reminder,
    StoredBlob,
    Transcript,
    VehicleEvent,
    Visit,
    WhatsAppThread,
)
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Filter, In, Query, Range, desc
from velocity_domain.kernel.repository import AppendTable, MutableTable, StoreTransaction

__all__ = [
    "ARTIFACT_TABLES",
    "BLOB_RECORDINGS",
    "ArtifactLookup",
    "ClientQd",
    "FoundArtifact",
    "IntelRepository",
    "QdReader",
]


class IntelRepository:
    """The ``intel_*`` tables inside one unit of work, plus the timeline and QD reads."""

    def __init__(self, tx: StoreTransaction) -> None:
        self.interactions: AppendTable[Interaction] = tx.table(Interaction)
        self.messages: AppendTable[Message] = tx.table(Message)
        self.calls: AppendTable[Call] = tx.table(Call)
        self.call_recordings: AppendTable[CallRecording] = tx.table(CallRecording)
        self.transcripts: AppendTable[Transcript] = tx.table(Transcript)
        self.emails: AppendTable[Email] = tx.table(Email)
        self.whatsapp_threads: MutableTable[WhatsAppThread] = tx.mutable(WhatsAppThread)
        self.visits: MutableTable[Visit] = tx.mutable(Visit)
        self.reminders: MutableTable[Reminder] = tx.mutable(Reminder)
        self.qd_scores: MutableTable[QdScore] = tx.mutable(QdScore)
        self.qd_timeseries: AppendTable[QdTimeseriesPoint] = tx.table(QdTimeseriesPoint)
        self.vehicle_events: AppendTable[VehicleEvent] = tx.table(VehicleEvent)
        self.perception_events: AppendTable[PerceptionEvent] = tx.table(PerceptionEvent)
        self.cctv_links: AppendTable[CctvLink] = tx.table(CctvLink)
        self.blobs: AppendTable[StoredBlob] = tx.table(StoredBlob)

    def timeline(
        self,
        person_id: UUID,
        *,
        channels: Iterable[Channel | str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Interaction]:
        """List a client's interactions, newest first, one page (one statement).

        ``channels`` keeps only those channels; ``since`` (inclusive) and
        ``until`` (exclusive) bound ``happened_at``.
        """
        where: list[Filter] = [Eq("person_id", person_id)]
        if channels is not None:
            where.append(In("channel", [Channel(c) for c in channels]))
        if since is not None or until is not None:
            where.append(Range("happened_at", gte=since, lt=until))
        order = (desc("happened_at"), desc("interaction_id"))
        return self.interactions.list(Query(where, order, limit, cursor))

    def qd_history(
        self,
        person_id: UUID,
        *,
        score_type: QdScoreType | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[QdTimeseriesPoint]:
        """Fetch a client's QD time series, newest point first, one page."""
        where: list[Filter] = [Eq("person_id", person_id)]
        if score_type is not None:
            where.append(Eq("score_type", QdScoreType(score_type)))
        if since is not None or until is not None:
            where.append(Range("timestamp", gte=since, lt=until))
        order = (desc("timestamp"), desc("timeseries_id"))
        return self.qd_timeseries.list(Query(where, order, limit, cursor))

    def qd_scores_of(self, person_id: UUID) -> list[QdScore]:
        """Fetch a client's current QD scores (one per score type and context)."""
        query = Query((Eq("person_id", person_id),), (desc("computed_at"),), MAX_PAGE_SIZE)
        return list(self.qd_scores.list(query).items)


#: The artifact tables, in the order an artifact id is looked for (the commonest kinds first).
ARTIFACT_TABLES: tuple[type[Entity], ...] = (
    Message,
    Call,
    Transcript,
    CallRecording,
    Email,
    Visit,
    WhatsAppThread,
    VehicleEvent,
    PerceptionEvent,
    CctvLink,
    StoredBlob,
)

#: A blob's use by calls is looked for among its first this many recordings (by recording id).
BLOB_RECORDINGS = 100


class FoundArtifact(NamedTuple):
    """What the artifact query needs to know of one artifact, read with a visibility rule.

    ``row`` is the artifact, from the first table of :data:`ARTIFACT_TABLES`
    holding its id. For a blob (a :class:`StoredBlob` row) ``interaction`` is
    the first interaction (by id) the rule keeps whose message uses the blob
    or whose call has one of its first :data:`BLOB_RECORDINGS` recordings of
    it; ``evidence_visible`` says, only when a rule is given and no such
    interaction exists (false otherwise), whether vehicle, perception or
    CCTV evidence using the blob names a client the rule keeps, directly or
    (a CCTV clip) through its visit; ``persons``, ``visible`` and ``blob``
    are empty. For any other artifact ``interaction`` is the one it belongs
    to (through its call for a recording or a transcript), ``persons`` the
    clients it is about (its own ``person_id``, its interaction's, and for a
    CCTV clip those of its visit, perception and vehicle events), ``visible``
    those of ``persons`` the rule keeps (all of them without a rule),
    ``blob`` the index entry of the blob it names, and ``evidence_visible``
    false.
    """

    row: Entity
    interaction: Interaction | None
    persons: frozenset[UUID] = frozenset()
    visible: frozenset[UUID] = frozenset()
    blob: StoredBlob | None = None
    evidence_visible: bool = False


class ArtifactLookup(Protocol):
    """A store's own way of reading an artifact of any kind by its id (the artifact query).

    The answer is exactly what reading the tables one by one gives (see
    :class:`FoundArtifact`); a store offering this port reads it in one
    statement, whatever the artifact's kind.
    """

    def find(self, artifact_id: UUID, rule: Filter | None) -> FoundArtifact | None:
        """The artifact ``artifact_id`` and what decides who may see it, or ``None`` if missing.

        ``rule`` keeps the rows of the clients the principal may see, as a
        filter on their ``person_id`` (``None``: every client is visible);
        it is applied to people, interactions and visits as their own
        listings apply it.
        """
        ...


class ClientQd(NamedTuple):
    """What the QD query reads of one client, with what decides whether the caller sees it.

    ``seen`` is whether the person exists and the visibility rule keeps them;
    ``survivor`` is the person they were merged into (``None``: not merged)
    and ``survivor_seen`` whether the rule keeps that survivor. ``scores``
    are the client's own summaries (not those of an interaction), newest
    first; ``points`` their newest QD points, newest first, at most the
    number asked for, and ``truncated`` says whether the client has more.
    """

    seen: bool
    survivor: UUID | None
    survivor_seen: bool
    scores: tuple[QdScore, ...]
    points: tuple[QdTimeseriesPoint, ...]
    truncated: bool


class QdReader(Protocol):
    """A store's own way of reading a client's QD at once (the QD query), in one statement."""

    def read(self, person_id: UUID, rule: Filter | None, points: int) -> ClientQd:
        """``person_id``'s scores and newest ``points`` points, and who may see them.

        ``rule`` keeps the people the principal may see, as a filter on
        ``person_id`` (``None``: everyone); it is applied as a listing of
        people applies it.
        """
        ...
