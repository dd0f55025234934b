"""How a merge of people is worked out, written and taken back, inside one unit of work.

:func:`plan` reads what merging some people into a survivor would do: the
winner of each field (by default the most recent non-empty value), every row
that refers to a merged person and will move to the survivor, the rows set
aside (a relationship that would join the survivor to itself, or repeat one
it already has, is removed; a QD score of a type the survivor already holds
stays with the merged record), and the users who would come to see the
survivor through a merged person's records. :func:`execute` writes a plan and
returns the exact record of what it changed; :func:`blockers` and
:func:`restore` read that record back to undo it. The reads are one query per
referring field, and the writes one statement per moved field, whatever the
people's history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.crm.entities import (
    ImportRow,
    Lead,
    Opportunity,
    Person,
    PersonMerge,
    Relationship,
)
from velocity_domain.errors import ConcurrencyConflict, MergedRecord, ValidationFailed
from velocity_domain.intel.entities import QdScore
from velocity_domain.kernel.convert import converter, from_dict, to_dict
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.tableinfo import table_info
from velocity_domain.uow import ENTITY_CLASSES, UnitOfWork

__all__ = [
    "MERGEABLE",
    "FieldChoice",
    "Move",
    "Plan",
    "SetAside",
    "blockers",
    "execute",
    "plan",
    "references",
    "restore",
]

#: The person fields a merge chooses a winner for.
MERGEABLE = (
    "full_name",
    "primary_email",
    "primary_phone",
    "linkedin_url",
    "persona_labels",
    "source_confidence",
    "household_id",
    "owner_user_id",
)


def references() -> tuple[tuple[type[Entity], str], ...]:
    """Every field of every table that names a person and moves with a merge.

    The foreign keys to ``crm_people`` (but not a merged record's pointer to
    its survivor, nor the merge records themselves), and the import rows'
    lineage: the person a row matched and the record it wrote.
    """
    found: list[tuple[type[Entity], str]] = []
    for cls in ENTITY_CLASSES:
        if cls in (Person, PersonMerge):
            continue
        for ref in table_info(cls).references:
            if ref.table == Person.table_name:
                found.append((cls, ref.field))
    found += [(ImportRow, "matched_person_id"), (ImportRow, "target_entity_ref")]
    return tuple(found)


@attrs.frozen
class FieldChoice:
    """One field of the merged record: the value kept, whose it is, and every member's value."""

    field: str
    person_id: UUID
    value: Any
    #: Each member's value, by person id.
    values: dict[UUID, Any]


@attrs.frozen
class Move:
    """One row that will name the survivor instead of a merged person."""

    table: str
    field: str
    key: UUID
    from_person_id: UUID


@attrs.frozen
class SetAside:
    """A row the merge does not move: removed (``removed``) or left with its merged record."""

    table: str
    key: UUID
    person_id: UUID
    removed: bool
    reason: str


@attrs.frozen
class Plan:
    """What merging ``merged`` into ``survivor`` does, worked out from the stored rows."""

    survivor: Person
    merged: tuple[Person, ...]
    result: Person
    fields: tuple[FieldChoice, ...]
    moves: tuple[Move, ...]
    set_aside: tuple[SetAside, ...]
    #: Users who see a merged person (owner, a lead's or deal's assignee) but not the survivor.
    grants_sight_to: tuple[UUID, ...]
    #: The rows set aside as removed, whole, so an undo can put them back.
    removed_rows: tuple[Entity, ...] = ()


def _empty(value: Any) -> bool:
    return value is None or value in ((), "")


def _choices(
    members: Sequence[Person], winners: Mapping[str, UUID], survivor: Person
) -> list[FieldChoice]:
    """The winner of each field: the one named in ``winners``, else the newest non-empty value."""
    newest_first = sorted(
        members, key=lambda p: (p.updated_at, p.key == survivor.key), reverse=True
    )
    by_id = {p.key: p for p in members}
    choices = []
    for field in MERGEABLE:
        values = {p.key: getattr(p, field) for p in members}
        chosen = winners.get(field)
        if chosen is None:
            source = next((p for p in newest_first if not _empty(getattr(p, field))), survivor)
        else:
            source = by_id[chosen]
        choices.append(FieldChoice(field, source.key, getattr(source, field), values))
    return choices


def _rows(uow: UnitOfWork, cls: type[Entity], field: str, ids: Iterable[UUID]) -> list[Entity]:
    return list(uow.table(cls).where_in(field, list(ids)))


def _relationship_moves(
    uow: UnitOfWork, survivor: UUID, merged: set[UUID]
) -> tuple[list[Move], list[SetAside], list[Entity]]:
    """Relationships re-pointed; one that would join the survivor to itself, or repeat, removed."""
    everyone = [survivor, *merged]
    rows: dict[UUID, Relationship] = {}
    for field in ("from_person_id", "to_person_id"):
        for row in _rows(uow, Relationship, field, everyone):
            rows[row.key] = row  # type: ignore[assignment]

    def moved(person: UUID) -> UUID:
        return survivor if person in merged else person

    staying = [r for r in rows.values() if not ({r.from_person_id, r.to_person_id} & merged)]
    taken = {(r.from_person_id, r.to_person_id, r.kind) for r in staying}
    moves: list[Move] = []
    aside: list[SetAside] = []
    removed: list[Entity] = []
    table = Relationship.table_name
    for row in sorted(rows.values(), key=lambda r: (r.created_at, r.key)):
        if row in staying:
            continue
        ends = (moved(row.from_person_id), moved(row.to_person_id), row.kind)
        owner = row.from_person_id if row.from_person_id in merged else row.to_person_id
        if ends[0] == ends[1] or ends in taken:
            why = "would relate the survivor to itself" if ends[0] == ends[1] else "a repeat"
            aside.append(SetAside(table, row.key, owner, True, why))
            removed.append(row)
            continue
        taken.add(ends)
        for field in ("from_person_id", "to_person_id"):
            if getattr(row, field) in merged:
                moves.append(Move(table, field, row.key, getattr(row, field)))
    return moves, aside, removed


def _score_moves(
    uow: UnitOfWork, survivor: UUID, merged: set[UUID]
) -> tuple[list[Move], list[SetAside]]:
    """QD scores move, except a summary of a type the survivor (or a newer one moved) holds."""
    rows = _rows(uow, QdScore, "person_id", [survivor, *merged])
    held = {s.score_type for s in rows if s.person_id == survivor and s.interaction_id is None}  # type: ignore[attr-defined]
    moves: list[Move] = []
    aside: list[SetAside] = []
    scores: list[Any] = rows
    for score in sorted(scores, key=lambda r: (r.created_at, r.key), reverse=True):
        row = score
        if score.person_id == survivor:
            continue
        if score.interaction_id is None and score.score_type in held:
            why = "the survivor already holds a summary of this score type"
            aside.append(SetAside(QdScore.table_name, row.key, score.person_id, False, why))
            continue
        if score.interaction_id is None:
            held.add(score.score_type)
        moves.append(Move(QdScore.table_name, "person_id", row.key, score.person_id))
    return moves, aside


def _sight(uow: UnitOfWork, survivor: Person, merged: Sequence[Person]) -> tuple[UUID, ...]:
    """The users who see a merged person but not the survivor: they would gain sight of it."""

    def holders(people: Sequence[Person]) -> set[UUID]:
        ids = [p.key for p in people]
        users = {p.owner_user_id for p in people}
        for cls in (Lead, Opportunity):
            users |= {
                getattr(r, "assigned_user_id", None) for r in _rows(uow, cls, "person_id", ids)
            }
        return {u for u in users if u is not None}

    return tuple(sorted(holders(merged) - holders([survivor]), key=str))


def plan(
    uow: UnitOfWork,
    survivor: Person,
    merged: Sequence[Person],
    winners: Mapping[str, UUID] | None = None,
    *,
    rows: bool = True,
) -> Plan:
    """Work out what merging ``merged`` into ``survivor`` does, from the rows as stored now.

    ``rows=False`` leaves out the rows that would move or be set aside (the
    people's fields and who would gain sight are still worked out): enough
    to file a proposal, whose execution works the rows out again anyway.
    """
    for person in (survivor, *merged):
        if person.merged_into_person_id is not None:
            raise MergedRecord(Person.table_name, person.key, person.merged_into_person_id)
    members = [survivor, *merged]
    chosen = dict(winners or {})
    for field, person_id in chosen.items():
        if field not in MERGEABLE:
            raise ValidationFailed(
                "winners", f"{field} is not a field a merge chooses; fields: {', '.join(MERGEABLE)}"
            )
        if person_id not in {p.key for p in members}:
            raise ValidationFailed("winners", f"{field} names {person_id}, who is not merged")
    fields = _choices(members, chosen, survivor)
    result = attrs.evolve(survivor, **{c.field: c.value for c in fields})
    ids = {p.key for p in merged}
    moves: list[Move] = []
    aside: list[SetAside] = []
    removed: list[Entity] = []
    sight = _sight(uow, survivor, merged)
    if not rows:
        return Plan(survivor, tuple(merged), result, tuple(fields), (), (), sight)
    for cls, field in references():
        if cls is Relationship or cls is QdScore:
            continue
        for row in _rows(uow, cls, field, ids):
            moves.append(Move(cls.table_name, field, row.key, getattr(row, field)))
    more, set_aside, gone = _relationship_moves(uow, survivor.key, ids)
    moves += more
    aside += set_aside
    removed += gone
    scores, kept = _score_moves(uow, survivor.key, ids)
    moves += scores
    aside += kept
    return Plan(
        survivor,
        tuple(merged),
        result,
        tuple(fields),
        tuple(moves),
        tuple(aside),
        sight,
        tuple(removed),
    )


_CLASSES = {cls.table_name: cls for cls in ENTITY_CLASSES}


def _plain(value: Any) -> Any:
    return converter.unstructure(value)


def _relink(uow: UnitOfWork, moves: Iterable[tuple[str, str, UUID, UUID, UUID]]) -> int:
    """Write ``(table, field, key, old, new)`` moves: one statement per table and field.

    A row no longer holding ``old`` means someone changed it since it was
    read: ``ConcurrencyConflict``, and the whole unit of work is rolled back.
    """
    grouped: dict[tuple[str, str], list[tuple[UUID, UUID, UUID]]] = {}
    for table, field, key, old, new in moves:
        grouped.setdefault((table, field), []).append((key, old, new))
    total = 0
    for (table, field), batch in grouped.items():
        done = uow.table(_CLASSES[table]).relink(field, batch)
        missed = [key for key, _, _ in batch if key not in done]
        if missed:
            raise ConcurrencyConflict(table, missed[0], 0, None)
        total += len(done)
    return total


def execute(uow: UnitOfWork, merge: Plan, now: datetime) -> tuple[Person, dict[str, Any]]:
    """Write ``merge``: the people first (in id order), then every move and removal.

    Returns the survivor as written and the exact record of what changed,
    which :func:`restore` reads back.
    """
    survivor_id = merge.survivor.key
    changed = {
        c.field: [_plain(getattr(merge.survivor, c.field)), _plain(c.value)]
        for c in merge.fields
        if getattr(merge.survivor, c.field) != c.value
    }
    people = uow.crm.people
    written: Person | None = None
    merged_record: dict[str, Any] = {}
    for person in sorted((merge.survivor, *merge.merged), key=lambda p: str(p.key)):
        if person.key == survivor_id:
            written = people.update(merge.result, expected_version=person.version)
            continue
        gone = attrs.evolve(
            person, merged_into_person_id=survivor_id, merged_at=now, household_id=None
        )
        after = people.update(gone, expected_version=person.version)
        merged_record[str(person.key)] = {
            "household_id": _plain(person.household_id),
            "version": after.version,
        }
    assert written is not None
    for row in merge.removed_rows:
        uow.table(type(row)).delete(row.key, expected_version=getattr(row, "version", None))
    _relink(uow, ((m.table, m.field, m.key, m.from_person_id, survivor_id) for m in merge.moves))
    record = {
        "survivor": {"fields": changed, "version": written.version},
        "merged": merged_record,
        "moved": [[m.table, m.field, str(m.key), str(m.from_person_id)] for m in merge.moves],
        "removed": [[type(r).table_name, to_dict(r)] for r in merge.removed_rows],
        "kept": [
            [s.table, str(s.key), str(s.person_id), s.reason]
            for s in merge.set_aside
            if not s.removed
        ],
    }
    return written, record


def blockers(uow: UnitOfWork, merge: PersonMerge) -> tuple[list[str], Person, list[Person]]:
    """What changed since ``merge`` was executed that an exact undo would overwrite or break.

    Returns the blockers (empty when the undo is clean), the survivor and the
    merged people as stored now.
    """
    record = merge.changes_json
    found: list[str] = []
    survivor = uow.crm.people.get(merge.survivor_person_id)
    if survivor.merged_into_person_id is not None:
        found.append(f"the survivor was merged into {survivor.merged_into_person_id} since")
    for field, (_, after) in record["survivor"]["fields"].items():
        if _plain(getattr(survivor, field)) != after:
            found.append(f"the survivor's {field} changed since the merge")
    ids = [UUID(i) for i in record["merged"]]
    merged = uow.crm.people.get_many(ids)
    for key in ids:
        person = merged.get(key)
        if person is None or person.merged_into_person_id != merge.survivor_person_id:
            found.append(f"crm_people {key} is no longer merged into the survivor")
        elif person.version != record["merged"][str(key)]["version"]:
            found.append(f"crm_people {key} changed since the merge")
    by_table: dict[tuple[str, str], list[UUID]] = {}
    for table, field, key, _ in record["moved"]:
        by_table.setdefault((table, field), []).append(UUID(key))
    for (table, field), keys in by_table.items():
        rows = uow.table(_CLASSES[table]).get_many(keys)
        for key in keys:
            row = rows.get(key)
            if row is None:
                found.append(f"{table} {key} was removed since the merge")
            elif getattr(row, field) != merge.survivor_person_id:
                found.append(f"{table} {key}: {field} names someone else since the merge")
    for table, doc in record["removed"]:
        row = from_dict(doc, _CLASSES[table])
        if isinstance(row, Relationship):
            clash = uow.crm.relationships.where_in("from_person_id", [row.from_person_id])
            if any((r.to_person_id, r.kind) == (row.to_person_id, row.kind) for r in clash):
                found.append(f"{table} {row.key}: the same relationship exists again")
    return found, survivor, [merged[k] for k in ids if k in merged]


def restore(uow: UnitOfWork, merge: PersonMerge, survivor: Person, merged: list[Person]) -> Person:
    """Undo ``merge`` exactly (the caller has found no blockers): people, moves, removed rows."""
    record = merge.changes_json
    before = {field: pair[0] for field, pair in record["survivor"]["fields"].items()}
    restored = from_dict({**to_dict(survivor), **before}, Person)
    people = uow.crm.people
    written: Person | None = None
    for person in sorted((survivor, *merged), key=lambda p: str(p.key)):
        if person.key == survivor.key:
            written = people.update(restored, expected_version=survivor.version)
            continue
        household = record["merged"][str(person.key)]["household_id"]
        back = attrs.evolve(
            person,
            merged_into_person_id=None,
            merged_at=None,
            household_id=None if household is None else UUID(household),
        )
        people.update(back, expected_version=person.version)
    assert written is not None
    _relink(
        uow,
        (
            (table, field, UUID(key), survivor.key, UUID(person))
            for table, field, key, person in record["moved"]
        ),
    )
    for table, doc in record["removed"]:
        row = from_dict(doc, _CLASSES[table])
        uow.table(type(row)).add(row)
    return written
