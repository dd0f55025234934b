"""The artifact query on PostgreSQL: an artifact of any kind found by its id in one statement.

One SELECT answers :class:`~velocity_domain.intel.ports.ArtifactLookup`. On
a one-row base it probes every artifact table by primary key (a LEFT JOIN
each, in :data:`~velocity_domain.intel.ports.ARTIFACT_TABLES` order, each
joined only while no earlier table holds the id) and joins, from the table
that does, what decides who may see it: the call of a recording or
transcript, the interaction, a CCTV clip's visit, perception and vehicle
events, and the index entry of the blob it names; a subquery keeps those of
its clients the visibility rule keeps. For a blob, a lateral subquery finds
the first interaction the rule keeps whose message or call recording uses
it, and two ``EXISTS`` ask whether evidence using it names a visible client.
Every probe is a lookup by primary key or by an indexed column, and the rule
is tested client by client (an ``EXISTS`` per source, as a listing tests the
rows it walks), so the cost grows neither with the tables nor with the
principal's book.

The row is narrow: the kinds' columns share positions by type (at most one
kind has a row), as do the owning and the using interaction. Values come
back as the store reads any row: the tables' own column types decode them
and each entity class's trusted builder makes the entity. The statement is
built once per visibility rule (principals share a few), SQLAlchemy compiles
it once, and psycopg prepares it on a connection that runs it repeatedly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.sql.util import ClauseAdapter

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
from velocity_domain.kernel.query import Among, Filter, Query, prepare
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


def _rule_on(
    target: sa.FromClause, cls: type[Entity], schema: str | None, rule: Filter | None
) -> list[Any]:
    """The SQL of ``rule`` on ``target`` (an alias of ``cls``'s table), as its listings apply it.

    A semi-join (record visibility) becomes one ``EXISTS`` per source tested
    on ``target``'s rows, as a listing tests the rows it walks: the few rows
    the artifact query tests each cost an indexed probe, however many
    clients the principal holds. Other filters are the table's own, moved
    onto ``target``.
    """
    if rule is None:
        return []
    info = table_info(cls)
    prepared = prepare(info.name, info.optional, info.key_field, Query(where=(rule,)))
    queries = queries_for(info.name, schema)
    onto = ClauseAdapter(target)
    return [
        queries.condition(f, target.c)
        if isinstance(f, Among)
        else onto.traverse(queries.condition(f))
        for f in prepared.where
    ]


class _Part:
    """One table's columns in the statement's row: where each sits, and the entity they make."""

    def __init__(self, info: TableInfo, positions: Sequence[int]) -> None:
        self._places = tuple(zip(info.columns, positions, strict=True))
        self._key = positions[info.columns.index(info.key_field)]
        self._build = info.build

    def entity(self, row: Sequence[Any]) -> Entity | None:
        """The entity these columns hold in ``row``, or ``None`` where no row was joined."""
        if row[self._key] is None:
            return None
        return self._build({name: row[at] for name, at in self._places})


class _Columns:
    """The statement's columns as they are added."""

    def __init__(self) -> None:
        self.items: list[sa.ColumnElement[Any]] = []

    def add(self, *columns: sa.ColumnElement[Any]) -> int:
        """Add ``columns``; return the position of the first."""
        start = len(self.items)
        self.items += columns
        return start

    def exclusive(self, sources: Sequence[tuple[type[Entity], sa.FromClause]]) -> list[_Part]:
        """Add the columns of ``sources``, of which at most one has a row; a part for each.

        Columns of the same type share a position (the ``coalesce`` of the
        sources' columns there), so the row is as wide as the widest mix of
        types, not the sum of the tables; each value keeps its column's type.
        """
        slots: dict[str, list[list[sa.ColumnElement[Any]]]] = {}
        layouts: list[tuple[TableInfo, list[tuple[str, int]]]] = []
        for cls, source in sources:
            info = table_info(cls)
            taken: dict[str, int] = {}
            placed = []
            for name in info.columns:
                column = source.c[name]
                kind = repr(column.type)
                n = taken[kind] = taken.get(kind, -1) + 1
                shared = slots.setdefault(kind, [])
                if n == len(shared):
                    shared.append([])
                shared[n].append(column)
                placed.append((kind, n))
            layouts.append((info, placed))
        position = {
            (kind, n): self.add(sa.func.coalesce(*group) if len(group) > 1 else group[0])
            for kind, shared in slots.items()
            for n, group in enumerate(shared)
        }
        return [_Part(info, [position[p] for p in placed]) for info, placed in layouts]


class LookupStatement:
    """The lookup's statement for one visibility rule, and where each answer sits in its row."""

    def __init__(self, schema: str | None, rule: Filter | None) -> None:
        key = sa.bindparam(ARTIFACT_ID, type_=_table(Message).c.message_id.type)
        kinds = {cls: _table(cls).alias(f"k{n}") for n, cls in enumerate(ARTIFACT_TABLES)}
        joined: sa.FromClause = sa.select(sa.literal_column("1")).subquery("probe")
        earlier: list[sa.ColumnElement[Any]] = []
        for cls, alias in kinds.items():
            # Only the first table holding the id joins a row: past it, the later tables
            # are probed for NULL, which an index answers without reading a page.
            own_key = alias.c[table_info(cls).key_field]
            wanted = sa.case((sa.func.coalesce(*earlier).is_(None), key)) if earlier else key
            joined = joined.outerjoin(alias, own_key == wanted)
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
        keys = [alias.c[table_info(cls).key_field] for cls, alias in kinds.items()]
        self._which = columns.add(sa.case(*((k.is_not(None), n) for n, k in enumerate(keys))))
        # At most one kind has a row, and an interaction is the owner or the blob's user.
        self._kinds = columns.exclusive(list(kinds.items()))
        self._interaction = columns.exclusive([(Interaction, owner), (Interaction, used)])[0]
        (self._linked,) = columns.exclusive([(StoredBlob, linked)])
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
        which = row[self._which]
        if which is None:
            return None
        artifact = self._kinds[which].entity(row)
        interaction = self._interaction.entity(row)
        assert artifact is not None
        assert interaction is None or isinstance(interaction, Interaction)
        if isinstance(artifact, StoredBlob):
            evidence = self._evidence is not None and bool(row[self._evidence])
            return FoundArtifact(artifact, interaction, evidence_visible=evidence)
        start, count = self._persons
        persons = frozenset(p for p in row[start : start + count] if p is not None)
        visible = persons if self._visible is None else frozenset(row[self._visible] or ())
        blob = self._linked.entity(row)
        assert blob is None or isinstance(blob, StoredBlob)
        return FoundArtifact(artifact, interaction, persons, visible, blob)


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
    interactions = _table(Interaction).alias("using_interaction")
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
        .where(
            interactions.c.interaction_id.in_(using),
            *_rule_on(interactions, Interaction, schema, rule),
        )
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
    people = _table(Person).alias("seen_person")
    return (
        sa.select(sa.func.array_agg(people.c.person_id))
        .where(people.c.person_id.in_(persons), *_rule_on(people, Person, schema, rule))
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
    people = _table(Person).alias("named_person")
    named = sa.union_all(
        *(
            sa.select(_table(t).c.person_id).where(_table(t).c.blob_id == blob_id).correlate(*outer)
            for t in _EVIDENCE
        )
    )
    by_person = sa.exists(
        sa.select(people.c.person_id).where(
            people.c.person_id.in_(named), *_rule_on(people, Person, schema, rule)
        )
    )
    clips = _table(CctvLink)
    visits = _table(Visit).alias("clipped_visit")
    clipped = sa.select(clips.c.visit_id).where(clips.c.blob_id == blob_id).correlate(*outer)
    by_visit = sa.exists(
        sa.select(visits.c.visit_id).where(
            visits.c.visit_id.in_(clipped), *_rule_on(visits, Visit, schema, rule)
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
