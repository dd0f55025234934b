"""Committing an import batch's approved rows, and taking a committed batch back.

The outcomes' writers: :func:`commit_created` writes a person, a lead and a
property interest per row (one set-based statement where the store has its
own way, :class:`~velocity_domain.crm.ports.ImportWriter`), :func:`commit_updates`
lays each update's changed fields over the person where they still hold the
values matching saw, :func:`commit_unchanged` links rows to their people,
and :func:`undo_batch` removes or restores what a batch wrote where nothing
changed it since. Each walks the batch a chunk at a time, as
:mod:`.pipeline` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
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
from velocity_domain.imports.pipeline import (
    Progress,
    batch_rows,
    keys,
    people_by,
    quiet,
)
from velocity_domain.kernel.normalize import normalize_name
from velocity_domain.kernel.query import Eq, In
from velocity_domain.kernel.tableinfo import trusted_entity
from velocity_domain.uow import UnitOfWork

__all__ = [
    "ALREADY_WRITTEN",
    "Assignment",
    "commit_created",
    "commit_unchanged",
    "commit_updates",
    "undo_batch",
]

_S = ImportRowStatus
_O = ImportOutcome
_CENT = Decimal("0.01")

#: The conflict of a row not written because a person already has its source reference.
ALREADY_WRITTEN = "not written: a person with this source reference exists (a repeated row)"


@attrs.frozen
class Assignment:
    """Who imported rows are assigned to, and when they are written."""

    user_id: UUID | None
    now: datetime


def _lead_and_interest(
    batch: ImportBatch, row: ImportRow, person: Person, to: Assignment
) -> tuple[Lead, PropertyInterest | None]:
    values = row.mapped_json
    lead = trusted_entity(
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
    interest = trusted_entity(
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
    """A budget as ``numeric(18, 2)`` holds it (``5`` is ``5.00``), as the money field scales it."""
    return None if value in (None, "") else Decimal(str(value)).quantize(_CENT)


def commit_created(
    uow: UnitOfWork,
    batch: ImportBatch,
    outcome: ImportOutcome,
    to: Assignment,
    progress: Progress = quiet,
) -> dict[str, int]:
    """Write a person and a lead (and a property interest) for each accepted row of ``outcome``.

    A row whose source reference a person already has (a row repeating an
    earlier one of the file exactly, or the same file committed meanwhile
    by another batch) is set aside (``skipped``, with :data:`ALREADY_WRITTEN`
    as its conflict), so no canonical row is ever made twice.
    """
    writer = uow.extension(ImportWriter)  # type: ignore[type-abstract]
    if writer is not None:  # the store's own set-based way: one statement
        created, skipped = writer.create_people(
            batch.key,
            outcome,
            source_system=batch.source_system,
            owner_user_id=to.user_id,
            now=to.now,
            conflict=ALREADY_WRITTEN,
        )
        progress("committed", created)
        return {"created": created, "skipped": skipped}
    counts = {"created": 0, "skipped": 0}
    source = Eq("source_system", batch.source_system)
    for chunk in batch_rows(uow, batch.key, Eq("outcome", outcome), Eq("status", _S.PROPOSED)):
        taken = {
            p.source_ref for p in people_by(uow, "source_ref", keys(chunk, "source_key"), source)
        }
        people, leads, interests, changes = [], [], [], []
        for row in chunk:
            if row.source_key in taken:
                evidence = {**row.evidence_json, "conflict": ALREADY_WRITTEN}
                skip = {"status": _S.SKIPPED.value, "evidence_json": evidence}
                changes.append((row.key, row.version, skip))
                counts["skipped"] += 1
                continue
            taken.add(row.source_key)
            values = row.mapped_json
            person = trusted_entity(
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
    uow: UnitOfWork, batch: ImportBatch, now: datetime, progress: Progress = quiet
) -> dict[str, Any]:
    """Apply each accepted update's changed fields where the person still holds the old values.

    A person changed since matching in one of those fields keeps their
    value, and so does a person an earlier row of the same batch updated
    (two rows of one file found the same person by different keys): the
    row is set aside (``skipped``) with the conflict as evidence.
    """
    writer = uow.extension(ImportWriter)  # type: ignore[type-abstract]
    if writer is not None:  # the store's own set-based way: one statement
        applied, aside = writer.apply_updates(batch.key, now)
        progress("committed", applied)
        return {"updated": applied, "conflicts": aside}
    counts: dict[str, Any] = {"updated": 0, "conflicts": 0}
    where = (Eq("outcome", _O.UPDATE), Eq("status", _S.PROPOSED))
    updated: set[UUID] = set()
    for chunk in batch_rows(uow, batch.key, *where):
        ids = [r.matched_person_id for r in chunk if r.matched_person_id is not None]
        people = uow.crm.people.get_many(ids)
        writes, marks = [], []
        for row in chunk:
            person = people.get(row.matched_person_id) if row.matched_person_id else None
            stale = _stale_fields(person, row.changes_json, before=True)
            why = None
            if person is None:
                why = "the person is gone"
            elif person.key in updated:
                why = "an earlier row of this batch updated the person"
            elif stale:
                why = f"changed since: {stale}"
            if person is None or why is not None:
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
            updated.add(person.key)
            marks.append((row.key, row.version, _committed(person.key)))
        written = uow.crm.people.update_many(writes)
        counts["updated"] += len(written)
        if len(written) != len(writes):  # pragma: no cover - read in this transaction, locked
            raise ValidationFailed("people", "a person changed while the update was written")
        uow.crm.import_rows.update_many(marks)
        progress("committed", counts["updated"])
    return counts


def _stale_fields(person: Person | None, changes: Mapping[str, Any], *, before: bool) -> list[str]:
    """The changed fields whose current value is no longer the one the change started from."""
    if person is None:
        return []
    position = 0 if before else 1
    return [field for field, pair in changes.items() if getattr(person, field) != pair[position]]


def commit_unchanged(uow: UnitOfWork, batch: ImportBatch, now: datetime) -> int:
    """Link every unchanged row to its person (nothing is written to the person)."""
    writer = uow.extension(ImportWriter)  # type: ignore[type-abstract]
    if writer is not None:  # the store's own set-based way: one statement
        return writer.link_unchanged(batch.key, now)
    done = 0
    where = (Eq("outcome", _O.UNCHANGED), Eq("status", _S.PROPOSED))
    for chunk in batch_rows(uow, batch.key, *where):
        linked = [
            (r.key, r.version, _committed(r.matched_person_id))
            for r in chunk
            if r.matched_person_id
        ]
        done += len(uow.crm.import_rows.update_many(linked))
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
