"""The artifact query on PostgreSQL: an artifact of any kind found by its id in one statement.

One SELECT answers :class:`~velocity_domain.intel.ports.ArtifactLookup`. On
a one-row base it probes every artifact table by primary key (a LEFT JOIN
each, in :data:`~velocity_domain.intel.ports.ARTIFACT_TABLES` order) and
joins, from the first table holding the id, what decides who may see it:
the call of a recording or transcript, the interaction, a CCTV clip's
visit, perception and vehicle events, and the index entry of the blob it
names; a subquery keeps those of its clients the visibility rule keeps. For
a blob, a lateral subquery finds the first interaction the rule keeps whose
message or call recording uses it, and two ``EXISTS`` ask whether evidence
using it names a visible client. Every probe is a lookup by primary key or
by an indexed column, so the cost does not grow with the tables.

The rows come back as the store reads any row: the tables' own column types
decode the values and each entity class's trusted builder makes the entity.
The statement is built once per visibility rule (principals share a few)
and SQLAlchemy compiles it once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa

from velocity_domain.adapters.postgres.querying import queries_for
from velocity_domain.adapters.postgres.tables import metadata
from velocity_domain.crm.entities import Person
from velocity_domain.intel.entities import (
    Call,
    CallRecording,
    CctvLink,
    Interaction,
    Message,
    PerceptionEvent,
    StoredBlob,
    Transcript,
    VehicleEvent,
    Visit,
)
from velocity_domain.intel.ports import (
    ARTIFACT_TABLES,
    BLOB_RECORDINGS,
    ArtifactLookup,
    FoundArtifact,
)
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.query import Filter, Query, prepare
from velocity_domain.kernel.tableinfo import TableInfo, table_info

if TYPE_CHECKING:
    from velocity_domain.adapters.postgres.store import PostgresTransaction

__all__ = ["EXTENSIONS", "PostgresArtifactLookup", "lookup_statement"]

#: The statement's one parameter: the artifact id.
ARTIFACT_ID = "artifact_id"
#: The clip's references whose clients a CCTV clip is about: each table and the clip's field.
_CLIP_REFERENCES = (
    (Visit, "visit_id"),
    (PerceptionEvent, "perception_event_id"),
    (VehicleEvent, "vehicle_event_id"),
)
#: Evidence tables that name a client and may use a blob.
_EVIDENCE = (VehicleEvent, PerceptionEvent, CctvLink)


def _table(cls: type[Entity]) -> sa.Table:
    return metadata.tables[cls.table_name]


def _rule_on(cls: type[Entity], schema: str | None, rule: Filter | None) -> list[Any]:
    """The SQL of ``rule`` on ``cls``'s table, exactly as that table's listings apply it."""
    if rule is None:
        return []
    info = table_info(cls)
    prepared = prepare(info.name, info.optional, info.key_field, Query(where=(rule,)))
    queries = queries_for(info.name, schema)
    return [queries.condition(f) for f in prepared.where]


class _Part:
    """One table's columns in the statement's row: where they sit, and the entity they make."""

    def __init__(self, info: TableInfo, start: int) -> None:
        self._names = info.columns
        self._start = start
        self._stop = start + len(info.columns)
        self._key = start + info.columns.index(info.key_field)
        self._build = info.build

    def entity(self, row: Sequence[Any]) -> Entity | None:
        """The entity these columns hold in ``row``, or ``None`` where its join found nothing."""
        if row[self._key] is None:
            return None
        values = row[self._start : self._stop]
        return self._build(dict(zip(self._names, values, strict=True)))


class _Columns:
    """The statement's columns as they are added, each table's as a :class:`_Part`."""

    def __init__(self) -> None:
        self.items: list[sa.ColumnElement[Any]] = []

    def part(self, cls: type[Entity], source: sa.FromClause) -> _Part:
        """Add every column of ``cls``'s table from ``source``; return where they sit."""
        info = table_info(cls)
        part = _Part(info, len(self.items))
        self.items += [source.c[name] for name in info.columns]
        return part

    def add(self, *columns: sa.ColumnElement[Any]) -> int:
        """Add ``columns``; return the position of the first."""
        start = len(self.items)
        self.items += columns
        return start


class LookupStatement:
    """The lookup's statement for one visibility rule, and where each answer sits in its row."""

    def __init__(self, schema: str | None, rule: Filter | None) -> None:
        key = sa.bindparam(ARTIFACT_ID, type_=_table(Message).c.message_id.type)
        kinds = {cls: _table(cls).alias(f"k{n}") for n, cls in enumerate(ARTIFACT_TABLES)}
        joined: sa.FromClause = sa.select(sa.literal_column("1")).subquery("probe")
        earlier: list[sa.ColumnElement[Any]] = []
        for cls, alias in kinds.items():
            # Only the first table holding the id joins a row: the others stay NULL.
            own_key = alias.c[table_info(cls).key_field]
            condition = own_key == key
            if earlier:
                condition = sa.and_(condition, sa.func.coalesce(*earlier).is_(None))
            joined = joined.outerjoin(alias, condition)
            earlier.append(own_key)

        def of_kinds(field: str, *classes: type[Entity]) -> list[sa.ColumnElement[Any]]:
            """``field`` of each kind among ``classes`` (default: all but the blob having it)."""
            chosen = classes or tuple(
                c for c, a in kinds.items() if c is not StoredBlob and field in a.c
            )
            return [kinds[c].c[field] for c in chosen]

        call = _table(Call).alias("of_call")
        joined = joined.outerjoin(
            call,
            call.c.call_id == sa.func.coalesce(*of_kinds("call_id", CallRecording, Transcript)),
        )
        owner = _table(Interaction).alias("owner")
        owner_id = sa.func.coalesce(*of_kinds("interaction_id"), call.c.interaction_id)
        joined = joined.outerjoin(owner, owner.c.interaction_id == owner_id)
        clip = kinds[CctvLink]
        references = []
        for cls, field in _CLIP_REFERENCES:
            reference = _table(cls).alias(f"clip_{field}")
            joined = joined.outerjoin(reference, reference.c[field] == clip.c[field])
            references.append(reference)
        linked = _table(StoredBlob).alias("linked_blob")
        joined = joined.outerjoin(
            linked, linked.c.blob_id == sa.func.coalesce(*of_kinds("blob_id"))
        )
        blob_id = kinds[StoredBlob].c.blob_id
        kind_aliases = list(kinds.values())
        used = _use(blob_id, kind_aliases, schema, rule)
        joined = joined.outerjoin(used, sa.true())

        persons = [
            sa.func.coalesce(*of_kinds("person_id")),
            owner.c.person_id,
            *(reference.c.person_id for reference in references),
        ]
        columns = _Columns()
        self._kinds = [columns.part(cls, alias) for cls, alias in kinds.items()]
        self._owner = columns.part(Interaction, owner)
        self._linked = columns.part(StoredBlob, linked)
        self._used = columns.part(Interaction, used)
        self._persons = columns.add(*persons), len(persons)
        self._visible: int | None = None
        self._evidence: int | None = None
        if rule is not None:
            outer = [*kind_aliases, owner, *references]
            self._visible = columns.add(_kept(persons, outer, schema, rule))
            unused = sa.and_(blob_id.is_not(None), used.c.interaction_id.is_(None))
            evidence = _evidence_visible(blob_id, kind_aliases, schema, rule)
            self._evidence = columns.add(sa.case((unused, evidence), else_=sa.false()))
        labelled = [c.label(f"c{n}") for n, c in enumerate(columns.items)]
        #: The SELECT, with one parameter: :data:`ARTIFACT_ID`.
        self.statement = sa.select(*labelled).select_from(joined)

    def found(self, row: Sequence[Any]) -> FoundArtifact | None:
        """The statement's row as the port's answer."""
        artifact = next(filter(None, (part.entity(row) for part in self._kinds)), None)
        if artifact is None:
            return None
        if isinstance(artifact, StoredBlob):
            evidence = self._evidence is not None and bool(row[self._evidence])
            used = self._used.entity(row)
            assert used is None or isinstance(used, Interaction)
            return FoundArtifact(artifact, used, evidence_visible=evidence)
        start, count = self._persons
        persons = frozenset(p for p in row[start : start + count] if p is not None)
        visible = persons if self._visible is None else frozenset(row[self._visible] or ())
        owner = self._owner.entity(row)
        blob = self._linked.entity(row)
        assert owner is None or isinstance(owner, Interaction)
        assert blob is None or isinstance(blob, StoredBlob)
        return FoundArtifact(artifact, owner, persons, visible, blob)


def _use(
    blob_id: sa.ColumnElement[Any],
    outer: Sequence[sa.FromClause],
    schema: str | None,
    rule: Filter | None,
) -> sa.FromClause:
    """The first interaction (by id) ``rule`` keeps whose message or call uses the blob.

    ``blob_id`` is an expression over ``outer``, the enclosing statement's
    tables, which every subquery correlates to.
    """
    interactions = _table(Interaction)
    messages = _table(Message)
    recordings = _table(CallRecording)
    calls = _table(Call)
    first_recordings = (
        sa.select(recordings.c.call_id)
        .where(recordings.c.blob_id == blob_id)
        .order_by(recordings.c.recording_id)
        .limit(BLOB_RECORDINGS)
        .correlate(*outer)
    )
    using = sa.union_all(
        sa.select(messages.c.interaction_id).where(messages.c.blob_id == blob_id).correlate(*outer),
        sa.select(calls.c.interaction_id).where(calls.c.call_id.in_(first_recordings)),
    )
    return (
        sa.select(interactions)
        .where(interactions.c.interaction_id.in_(using), *_rule_on(Interaction, schema, rule))
        .order_by(interactions.c.interaction_id)
        .limit(1)
        .lateral("used")
    )


def _kept(
    persons: Sequence[sa.ColumnElement[Any]],
    outer: Sequence[sa.FromClause],
    schema: str | None,
    rule: Filter,
) -> Any:
    """The array of those of ``persons`` (expressions over ``outer``) the rule keeps, or NULL."""
    people = _table(Person)
    return (
        sa.select(sa.func.array_agg(people.c.person_id))
        .where(people.c.person_id.in_(persons), *_rule_on(Person, schema, rule))
        .correlate(*outer)
        .scalar_subquery()
    )


def _evidence_visible(
    blob_id: sa.ColumnElement[Any],
    outer: Sequence[sa.FromClause],
    schema: str | None,
    rule: Filter,
) -> Any:
    """Whether evidence using the blob names a client the rule keeps (a clip: or its visit's)."""
    people = _table(Person)
    named = sa.union_all(
        *(
            sa.select(_table(t).c.person_id).where(_table(t).c.blob_id == blob_id).correlate(*outer)
            for t in _EVIDENCE
        )
    )
    by_person = sa.exists(
        sa.select(people.c.person_id).where(
            people.c.person_id.in_(named), *_rule_on(Person, schema, rule)
        )
    )
    clips = _table(CctvLink)
    visits = _table(Visit)
    clipped = sa.select(clips.c.visit_id).where(clips.c.blob_id == blob_id).correlate(*outer)
    by_visit = sa.exists(
        sa.select(visits.c.visit_id).where(
            visits.c.visit_id.in_(clipped), *_rule_on(Visit, schema, rule)
        )
    )
    return sa.or_(by_person, by_visit)


@functools.lru_cache(maxsize=256)
def _cached(schema: str | None, rule: Filter | None) -> LookupStatement:
    return LookupStatement(schema, rule)


def lookup_statement(schema: str | None, rule: Filter | None) -> LookupStatement:
    """The lookup's statement for ``rule`` in ``schema``: built once per rule, while it is used."""
    try:
        return _cached(schema, rule)
    except TypeError:  # a rule holding a value that cannot be hashed: build it for this call
        return LookupStatement(schema, rule)


class PostgresArtifactLookup:
    """An artifact of any kind and what decides who may see it, in one statement."""

    def __init__(self, tx: PostgresTransaction) -> None:
        self._tx = tx

    def find(self, artifact_id: UUID, rule: Filter | None) -> FoundArtifact | None:
        """The artifact ``artifact_id`` (see ``ArtifactLookup``), or ``None`` if missing."""
        shape = lookup_statement(self._tx.store.schema, rule)
        with self._tx.translating():
            row = self._tx.connection.execute(shape.statement, {ARTIFACT_ID: artifact_id}).one()
        return shape.found(row)


#: The steps this module does its own way, by port.
EXTENSIONS: dict[type[Any], Callable[[PostgresTransaction], Any]] = {
    ArtifactLookup: PostgresArtifactLookup,
}
