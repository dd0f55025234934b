"""The import pipeline's bulk steps, each inside one unit of work: store, map, match, commit.

Every step walks a batch's rows in file order, a chunk at a time, so memory
stays bounded whatever the file's size, and costs a fixed handful of
statements per chunk whatever the chunk holds: the rows are written with
COPY (``add_many``), changed with one ``update_many`` per chunk, and
matched with one indexed ``IN`` query per key (source reference, email,
phone, name, the file's earlier rows). The same code runs on both stores;
each store answers these queries from its own indexes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar, cast
from uuid import UUID

import attrs

from velocity_domain.crm.entities import (
    ImportBatch,
    ImportOutcome,
    ImportRow,
    ImportRowStatus,
    Lead,
    LeadStatus,
    OpportunityStage,
    Person,
    PropertyInterest,
)
from velocity_domain.crm.ports import ImportWriter
from velocity_domain.errors import ValidationFailed
from velocity_domain.imports.mapping import ColumnMapping
from velocity_domain.imports.matching import Candidates, decide, swapped
from velocity_domain.imports.sources import RawRow
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.normalize import normalize_name
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE
from velocity_domain.kernel.query import Eq, Filter, In, Query, Range, asc
from velocity_domain.kernel.repository import ReadTable, TableStatistics
from velocity_domain.kernel.tableinfo import table_info
from velocity_domain.uow import UnitOfWork

__all__ = [
    "CHUNK",
    "Progress",
    "commit_created",
    "commit_unchanged",
    "commit_updates",
    "match_rows",
    "remap_rows",
    "store_rows",
    "undo_batch",
]

#: Rows handled together: one round of statements per chunk.
CHUNK = 2000
#: ``(stage, rows done so far)``; called once per chunk.
Progress = Callable[[str, int], None]

E = TypeVar("E", bound=Entity)
_S = ImportRowStatus
_O = ImportOutcome


def _quiet(_: str, __: int) -> None:
    return None


_DEFAULTS: dict[type[Entity], tuple[tuple[str, Any, bool], ...]] = {}


def _defaults(cls: type[Entity]) -> tuple[tuple[str, Any, bool], ...]:
    """Each field of ``cls`` with its default: ``(name, value or factory, is a factory)``."""
    if cls in _DEFAULTS:
        return _DEFAULTS[cls]
    found = []
    for field in attrs.fields(cls):
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            factory = None if default.takes_self else default.factory
            found.append((field.name, factory, factory is not None))
        else:
            found.append((field.name, None if default is attrs.NOTHING else default, False))
    _DEFAULTS[cls] = tuple(found)
    return _DEFAULTS[cls]


def trusted(cls: type[E], **values: Any) -> E:
    """A ``cls`` from values the pipeline validated already: built without checking them again.

    Validate once, on the way in: a row's values are checked when it is
    mapped (:mod:`.mapping` and :func:`_limits`); writing them builds the
    entities as a store builds the rows it reads back.
    """
    row = {
        name: values[name] if name in values else (default() if factory else default)
        for name, default, factory in _defaults(cast("type[Entity]", cls))
    }
    return cast("E", table_info(cls).build(row))


def chunks(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    """``items`` in lists of ``size``."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def every(table: ReadTable[E], *where: Filter, order: str | None = None) -> list[E]:
    """Every row matching ``where``, read a page at a time."""
    found: list[E] = []
    cursor = None
    order_by = (asc(order),) if order else ()
    while True:
        page = table.list(Query(where, order_by, MAX_PAGE_SIZE, cursor))
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found


def batch_rows(
    uow: UnitOfWork, batch_id: UUID, *where: Filter, size: int = CHUNK
) -> Iterator[list[ImportRow]]:
    """The batch's rows matching ``where``, in file order, ``size`` at a time.

    Keyset on the row number: rows the caller changes meanwhile are neither
    repeated nor skipped.
    """
    after = 0
    table = uow.crm.import_rows
    while True:
        chunk: list[ImportRow] = []
        while len(chunk) < size:
            limit = min(MAX_PAGE_SIZE, size - len(chunk))
            query = Query(
                (Eq("import_batch_id", batch_id), Range("row_number", gt=after), *where),
                (asc("row_number"),),
                limit,
            )
            page = table.list(query).items
            chunk.extend(page)
            if page:
                after = page[-1].row_number
            if len(page) < limit:
                break
        if chunk:
            yield chunk
        if len(chunk) < size:
            return


# -- parse and map ------------------------------------------------------------


def fingerprint(values: Mapping[str, str]) -> str:
    """The SHA-256 of a raw row's values: the same row of the same file gives the same one."""
    text = json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _clean(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: The longest text each mapped value may hold: the columns it is written to.
LIMITS = {"full_name": 200, "source_ref": 200, "configuration": 64}


def _limits(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The problems of mapped values too long for the columns they are written to."""
    return [
        (field, f"is longer than {limit} characters")
        for field, limit in LIMITS.items()
        if len(str(values.get(field) or "")) > limit
    ]


def _mapped_fields(raw: Mapping[str, str], mapping: ColumnMapping, digest: str) -> dict[str, Any]:
    """The mapped columns of an import row: values, status, reason and matching keys."""
    mapped = mapping.apply(raw)
    values = dict(mapped.values)
    problems = list(mapped.problems) + _limits(values)
    fresh: dict[str, Any] = {
        "matched_person_id": None,
        "changes_json": {},
        "evidence_json": {},
        "writeback_id": None,
        "target_domain": None,
        "target_entity_ref": None,
    }
    if problems:
        reason = "; ".join(f"{field}: {why}" for field, why in problems)
        return {
            **fresh,
            "mapped_json": values,
            "status": _S.INVALID,
            "outcome": _O.INVALID,
            "error_reason": _clean(reason),
            "match_email": None,
            "match_phone": None,
            "match_name": None,
            "source_key": None,
        }
    name = values.get("full_name")
    ref = values.get("source_ref")
    return {
        **fresh,
        "mapped_json": values,
        "status": _S.VALID,
        "outcome": None,
        "error_reason": None,
        "match_email": values.get("primary_email"),
        "match_phone": values.get("primary_phone"),
        "match_name": normalize_name(name) if name else None,
        "source_key": str(ref) if ref else f"fp:{digest[:40]}",
    }


def _new_row(batch: ImportBatch, raw: RawRow, mapping: ColumnMapping, now: datetime) -> ImportRow:
    values = {k: _clean(v, 100_000) for k, v in raw.values.items()}
    digest = fingerprint(raw.values)
    common: dict[str, Any] = {
        "import_batch_id": batch.key,
        "row_number": raw.number,
        "source_fingerprint": digest,
        "raw_json": values,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    if raw.error is not None:
        return trusted(
            ImportRow,
            **common,
            status=_S.INVALID,
            outcome=_O.INVALID,
            error_reason=_clean(raw.error or "the row could not be read"),
        )
    return trusted(ImportRow, **common, **_mapped_fields(raw.values, mapping, digest))


def store_rows(  # noqa: PLR0917
    uow: UnitOfWork,
    batch: ImportBatch,
    rows: Iterable[RawRow],
    mapping: ColumnMapping,
    now: datetime,
    progress: Progress = _quiet,
) -> dict[str, int]:
    """Store every row of the file with its raw values, mapped by ``mapping``; count them."""
    counts = {"rows": 0, "valid": 0, "invalid": 0}
    for chunk in chunks(rows):
        built = [_new_row(batch, raw, mapping, now) for raw in chunk]
        uow.crm.import_rows.add_many(built)
        counts["rows"] += len(built)
        bad = sum(1 for r in built if r.status is _S.INVALID)
        counts["invalid"] += bad
        counts["valid"] += len(built) - bad
        progress("parsed", counts["rows"])
    statistics = uow.extension(TableStatistics)  # type: ignore[type-abstract]
    if statistics is not None:  # plan the matching for the rows just stored
        statistics.refresh(ImportRow)
    return counts


def remap_rows(
    uow: UnitOfWork, batch: ImportBatch, mapping: ColumnMapping, progress: Progress = _quiet
) -> dict[str, int]:
    """Map every readable row again with an edited ``mapping``; count the outcomes."""
    counts = {"rows": 0, "valid": 0, "invalid": 0}
    for chunk in batch_rows(uow, batch.key):
        changes = []
        for row in chunk:
            counts["rows"] += 1
            if row.status is _S.INVALID and not row.mapped_json and row.error_reason:
                counts["invalid"] += 1  # unreadable in the file: no mapping changes that
                continue
            if row.status is _S.COMMITTED:
                raise ValidationFailed("batch", "a committed row is never mapped again")
            fields = _mapped_fields(row.raw_json, mapping, row.source_fingerprint)
            counts["valid" if fields["status"] is _S.VALID else "invalid"] += 1
            changes.append((row.key, row.version, _stored(fields)))
        uow.crm.import_rows.update_many(changes)
        progress("mapped", counts["rows"])
    return counts


def _stored(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: getattr(v, "value", v) if isinstance(v, _S | _O) else v for k, v in fields.items()}


# -- match --------------------------------------------------------------------


def _people_by(uow: UnitOfWork, field: str, values: set[str], *also: Filter) -> list[Person]:
    return uow.crm.people.where_in(field, values, *also) if values else []


def _earlier(uow: UnitOfWork, batch_id: UUID, chunk: Sequence[ImportRow]) -> dict[UUID, Any]:
    """For each row of ``chunk``, the first earlier readable row sharing its email or phone.

    Rows before the chunk are found by one indexed query per key (usually
    empty: most contact points appear once); rows within it in memory.
    """
    found: dict[UUID, Any] = {}
    live = In("status", (_S.VALID, _S.PROPOSED, _S.COMMITTED, _S.SKIPPED))
    start = chunk[0].row_number
    for field in ("match_email", "match_phone"):
        values = {getattr(r, field) for r in chunk if getattr(r, field)}
        if not values:
            continue
        first: dict[str, int] = {}
        for other in uow.crm.import_rows.where_in(
            field, values, Eq("import_batch_id", batch_id), Range("row_number", lt=start), live
        ):
            key = getattr(other, field)
            first[key] = min(first.get(key, other.row_number), other.row_number)
        for row in chunk:
            key = getattr(row, field)
            if not key:
                continue
            if key in first and row.key not in found:
                found[row.key] = (field.replace("match_", "primary_"), first[key])
            first.setdefault(key, row.row_number)
    return found


def match_rows(
    uow: UnitOfWork,
    batch: ImportBatch,
    proposals: Mapping[ImportOutcome, UUID],
    progress: Progress = _quiet,
) -> dict[str, int]:
    """Match every readable row and record its outcome, person, changes and evidence.

    Rows whose outcome needs writing name the proposal of their outcome
    (``proposals``); counts per outcome come back.
    """
    counts = {o.value: 0 for o in _O}
    done = 0
    source = Eq("source_system", batch.source_system)
    for chunk in batch_rows(uow, batch.key, Eq("status", _S.VALID)):
        by_source = {
            p.source_ref: p
            for p in _people_by(
                uow, "source_ref", {r.source_key for r in chunk if r.source_key}, source
            )
        }
        by_email = _first_by(
            _people_by(uow, "primary_email", _keys(chunk, "match_email")), "primary_email"
        )
        by_phone = _first_by(
            _people_by(uow, "primary_phone", _keys(chunk, "match_phone")), "primary_phone"
        )
        unmatched = [
            r
            for r in chunk
            if (r.source_key or "") not in by_source
            and (r.match_email or "") not in by_email
            and (r.match_phone or "") not in by_phone
        ]
        by_name, compared = _namesakes(uow, unmatched)
        earlier = _earlier(uow, batch.key, chunk)
        changes = []
        for row in chunk:
            name = row.match_name or ""
            twin = swapped(name)
            found = Candidates(
                by_source=by_source.get(row.source_key or ""),
                by_email=by_email.get(row.match_email or ""),
                by_phone=by_phone.get(row.match_phone or ""),
                by_name=tuple(by_name.get(name, [])) + tuple(by_name.get(twin or "", [])),
                earlier=earlier.get(row.key),
            )
            verdict = decide(row.mapped_json, found, row.match_name)
            if verdict.outcome is _O.NEW and name and name not in compared:
                verdict.evidence["name_check"] = (
                    "not compared with namesakes: too many people share the name"
                )
            counts[verdict.outcome.value] += 1
            changes.append(
                (
                    row.key,
                    row.version,
                    {
                        "status": _S.PROPOSED.value,
                        "outcome": verdict.outcome.value,
                        "matched_person_id": None if verdict.person is None else verdict.person.key,
                        "changes_json": verdict.changes,
                        "evidence_json": verdict.evidence,
                        "writeback_id": proposals.get(verdict.outcome),
                    },
                )
            )
        uow.crm.import_rows.update_many(changes)
        done += len(chunk)
        progress("matched", done)
    return counts


#: How many namesakes per unmatched row matching reads, at most, in a chunk.
NAMESAKES_PER_ROW = 10
#: Names looked up together: the budget is checked between groups.
NAME_GROUP = 250


def _namesakes(
    uow: UnitOfWork, rows: Sequence[ImportRow]
) -> tuple[dict[str, list[Person]], set[str]]:
    """People sharing the rows' names (or the names swapped), and the names fully read.

    Read a group of names at a time, up to :data:`NAMESAKES_PER_ROW` people
    per row: names left when the budget runs out are not compared, and the
    rows bearing them say so in their evidence rather than cost a scan of
    everyone of a very common name.
    """
    names = _keys(rows, "match_name")
    names |= {s for n in names if (s := swapped(n))}
    by_name: dict[str, list[Person]] = {}
    budget = max(MAX_PAGE_SIZE, NAMESAKES_PER_ROW * len(rows))
    read = 0
    compared: set[str] = set()
    for group in chunks(sorted(names), NAME_GROUP):
        if read >= budget:
            break
        found = uow.crm.people.where_in("normalized_name", group)
        read += len(found)
        for person in found:
            by_name.setdefault(person.normalized_name, []).append(person)
        compared.update(group)
    complete = {n for n in compared if (twin := swapped(n)) is None or twin in compared}
    return by_name, complete


def _keys(chunk: Sequence[ImportRow], field: str) -> set[str]:
    return {v for r in chunk if (v := getattr(r, field))}


def _first_by(people: list[Person], field: str) -> dict[str, Person]:
    """People by ``field``; where several share a value, the oldest (then lowest id) wins."""
    chosen: dict[str, Person] = {}
    for person in sorted(people, key=lambda p: (p.created_at, p.key)):
        chosen.setdefault(getattr(person, field), person)
    return chosen


# -- commit -------------------------------------------------------------------


@attrs.frozen
class Assignment:
    """Who imported rows are assigned to, and when they are written."""

    user_id: UUID | None
    now: datetime


def _lead_and_interest(
    batch: ImportBatch, row: ImportRow, person: Person, to: Assignment
) -> tuple[Lead, PropertyInterest | None]:
    values = row.mapped_json
    lead = trusted(
        Lead,
        person_id=person.key,
        source_system=batch.source_system,
        source_ref=row.source_key,
        status=_lead_status(values.get("lead_status")),
        stage=OpportunityStage(values.get("stage", OpportunityStage.NEW.value)),
        budget_band=_band(values.get("budget_text")),
        assigned_user_id=to.user_id,
        created_at=to.now,
        updated_at=to.now,
    )
    wants = [values.get(k) for k in ("budget_min", "budget_max", "configuration", "interest")]
    if not any(wants):
        return lead, None
    notes = "\n".join(str(values[k]) for k in ("interest", "notes") if values.get(k)) or None
    interest = trusted(
        PropertyInterest,
        person_id=person.key,
        configuration=values.get("configuration"),
        budget_min=_amount(values.get("budget_min")),
        budget_max=_amount(values.get("budget_max")),
        currency=values.get("currency") or "INR",
        notes=notes[:10_000] if notes else None,
        created_at=to.now,
        updated_at=to.now,
    )
    return lead, interest


def _lead_status(value: Any) -> LeadStatus:
    """The imported lead's status: a lead converted elsewhere arrives qualified.

    A ``converted`` lead names the deal it became, which an import does not
    bring; its deal is made here, by the pipeline's users, when it is won.
    """
    status = LeadStatus(value or LeadStatus.OPEN.value)
    return LeadStatus.QUALIFIED if status is LeadStatus.CONVERTED else status


def _band(text: Any) -> str | None:
    if not text or not str(text).strip():
        return None
    return str(text).strip()[:64]


def _amount(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def commit_created(
    uow: UnitOfWork,
    batch: ImportBatch,
    outcome: ImportOutcome,
    to: Assignment,
    progress: Progress = _quiet,
) -> dict[str, int]:
    """Write a person and a lead (and a property interest) for each accepted row of ``outcome``.

    Matching found no person with the row's source reference; should one
    appear before the commit (another batch of the same file committed
    meanwhile), the unique source key refuses the write and the proposal
    fails with that conflict, so no canonical row is ever made twice.
    """
    writer = uow.extension(ImportWriter)  # type: ignore[type-abstract]
    if writer is not None:  # the store's own set-based way: one statement
        created = writer.create_people(batch.key, outcome, batch.source_system, to.user_id, to.now)
        progress("committed", created)
        return {"created": created}
    counts = {"created": 0}
    for chunk in batch_rows(uow, batch.key, Eq("outcome", outcome), Eq("status", _S.PROPOSED)):
        people, leads, interests, changes = [], [], [], []
        for row in chunk:
            values = row.mapped_json
            person = trusted(
                Person,
                normalized_name=row.match_name,
                full_name=values["full_name"],
                primary_email=values.get("primary_email"),
                primary_phone=values.get("primary_phone"),
                source_system=batch.source_system,
                source_ref=row.source_key,
                owner_user_id=to.user_id,
                created_at=to.now,
                updated_at=to.now,
            )
            lead, interest = _lead_and_interest(batch, row, person, to)
            people.append(person)
            leads.append(lead)
            if interest is not None:
                interests.append(interest)
            counts["created"] += 1
            changes.append((row.key, row.version, _committed(person.key)))
        uow.crm.people.add_many(people)
        uow.crm.leads.add_many(leads)
        uow.crm.property_interests.add_many(interests)
        uow.crm.import_rows.update_many(changes)
        progress("committed", counts["created"])
    return counts


def _committed(target: UUID) -> dict[str, Any]:
    return {"status": _S.COMMITTED.value, "target_domain": "crm", "target_entity_ref": target}


def commit_updates(
    uow: UnitOfWork, batch: ImportBatch, progress: Progress = _quiet
) -> dict[str, Any]:
    """Apply each accepted update's changed fields where the person still holds the old values.

    A person changed since matching in one of those fields keeps their
    value: the row is set aside (``skipped``) with the conflict as evidence.
    """
    counts: dict[str, Any] = {"updated": 0, "conflicts": 0}
    where = (Eq("outcome", _O.UPDATE), Eq("status", _S.PROPOSED))
    for chunk in batch_rows(uow, batch.key, *where):
        ids = [r.matched_person_id for r in chunk if r.matched_person_id is not None]
        people = uow.crm.people.get_many(ids)
        writes, marks = [], []
        for row in chunk:
            person = people.get(row.matched_person_id) if row.matched_person_id else None
            stale = _stale_fields(person, row.changes_json, before=True)
            if person is None or stale:
                why = "the person is gone" if person is None else f"changed since: {stale}"
                evidence = {**row.evidence_json, "conflict": why}
                marks.append(
                    (row.key, row.version, {"status": _S.SKIPPED.value, "evidence_json": evidence})
                )
                counts["conflicts"] += 1
                continue
            values = {field: after for field, (_, after) in row.changes_json.items()}
            if "full_name" in values:
                values["normalized_name"] = normalize_name(values["full_name"])
            writes.append((person.key, person.version, values))
            marks.append((row.key, row.version, _committed(person.key)))
        updated = uow.crm.people.update_many(writes)
        counts["updated"] += len(updated)
        if len(updated) != len(writes):  # pragma: no cover - rows are locked by this transaction
            raise ValidationFailed("people", "a person changed while the update was written")
        uow.crm.import_rows.update_many(marks)
        progress("committed", counts["updated"])
    return counts


def _stale_fields(person: Person | None, changes: Mapping[str, Any], *, before: bool) -> list[str]:
    """The changed fields whose current value is no longer the one the change started from."""
    if person is None:
        return []
    position = 0 if before else 1
    return [
        field
        for field, pair in changes.items()
        if getattr(person, field) != pair[position]
        and not (field == "full_name" and _same_name(getattr(person, field), pair[position]))
    ]


def _same_name(current: Any, other: Any) -> bool:
    try:
        return bool(current and other and normalize_name(current) == normalize_name(other))
    except ValidationFailed:
        return False


def commit_unchanged(uow: UnitOfWork, batch: ImportBatch) -> int:
    """Link every unchanged row to its person (nothing is written to the person)."""
    done = 0
    where = (Eq("outcome", _O.UNCHANGED), Eq("status", _S.PROPOSED))
    for chunk in batch_rows(uow, batch.key, *where):
        uow.crm.import_rows.update_many(
            [
                (r.key, r.version, _committed(r.matched_person_id))
                for r in chunk
                if r.matched_person_id
            ]
        )
        done += len(chunk)
    return done


# -- undo ---------------------------------------------------------------------


def undo_batch(uow: UnitOfWork, batch: ImportBatch) -> dict[str, Any]:
    """Take back what a committed batch wrote, where nothing changed it since.

    Created people (with their import lead and interest) are removed while
    still at their first version and referred to by nothing else; updated
    fields are restored while they still hold the imported value. What was
    changed later is left alone and listed, by person and field.
    """
    report: dict[str, Any] = {"removed": 0, "restored": 0, "kept": []}
    committed = Eq("status", _S.COMMITTED)
    for chunk in batch_rows(uow, batch.key, committed, In("outcome", (_O.NEW, _O.DUPLICATE))):
        created = [r for r in chunk if r.target_entity_ref is not None]
        people = uow.crm.people.get_many(
            [r.target_entity_ref for r in created if r.target_entity_ref]
        )
        ours = {
            p.key: p
            for p in people.values()
            if p.source_system == batch.source_system and p.version == 1
        }
        leads = _people_by_lead(uow, batch, ours)
        uow.crm.leads.remove_unreferenced([(lead.key, lead.version) for lead in leads])
        interests = (
            uow.crm.property_interests.where_in("person_id", ours, Eq("version", 1)) if ours else []
        )
        uow.crm.property_interests.remove_unreferenced([(i.key, i.version) for i in interests])
        removed = uow.crm.people.remove_unreferenced([(p.key, p.version) for p in ours.values()])
        report["removed"] += len(removed)
        for row in created:
            person = people.get(row.target_entity_ref) if row.target_entity_ref else None
            if person is not None and person.key not in removed:
                why = (
                    "changed since the import"
                    if person.version > 1
                    else "other records refer to them"
                )
                report["kept"].append(
                    {"row": row.row_number, "person": person.full_name, "why": why}
                )
        _mark_undone(uow, created, removed)
    for chunk in batch_rows(uow, batch.key, committed, Eq("outcome", _O.UPDATE)):
        ids = [r.target_entity_ref for r in chunk if r.target_entity_ref]
        people = uow.crm.people.get_many(ids)
        writes = []
        for row in chunk:
            person = people.get(row.target_entity_ref) if row.target_entity_ref else None
            if person is None:
                continue
            later = _stale_fields(person, row.changes_json, before=False)
            restore = {f: pair[0] for f, pair in row.changes_json.items() if f not in later}
            for field in later:
                report["kept"].append(
                    {
                        "row": row.row_number,
                        "person": person.full_name,
                        "field": field,
                        "why": "changed since the import",
                    }
                )
            if restore:
                if "full_name" in restore:
                    restore["normalized_name"] = normalize_name(restore["full_name"])
                writes.append((person.key, person.version, restore))
        report["restored"] += len(uow.crm.people.update_many(writes))
    return report


def _people_by_lead(uow: UnitOfWork, batch: ImportBatch, ours: Mapping[UUID, Person]) -> list[Lead]:
    if not ours:
        return []
    return uow.crm.leads.where_in(
        "person_id", ours, Eq("source_system", batch.source_system), Eq("version", 1)
    )


def _mark_undone(uow: UnitOfWork, rows: Sequence[ImportRow], removed: set[UUID]) -> None:
    uow.crm.import_rows.update_many(
        [
            (
                r.key,
                r.version,
                {"status": _S.SKIPPED.value, "evidence_json": {**r.evidence_json, "undone": True}},
            )
            for r in rows
            if r.target_entity_ref in removed
        ]
    )
