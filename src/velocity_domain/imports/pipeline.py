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
from typing import Any, TypeVar
from uuid import UUID

import attrs

from velocity_domain.crm.duplicates import DEFAULT_PERSON_RULES, DuplicateRules
from velocity_domain.crm.entities import (
    ImportBatch,
    ImportOutcome,
    ImportRow,
    ImportRowStatus,
    Person,
)
from velocity_domain.crm.ports import ImportMatcher, Namesake
from velocity_domain.errors import ValidationFailed
from velocity_domain.imports.mapping import ColumnMapping
from velocity_domain.imports.matching import Candidates, decide, swapped
from velocity_domain.imports.sources import RawRow
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.normalize import normalize_name
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE
from velocity_domain.kernel.query import Eq, Filter, In, IsNull, Query, Range, asc
from velocity_domain.kernel.repository import TableStatistics
from velocity_domain.kernel.tableinfo import trusted_entity
from velocity_domain.uow import UnitOfWork

__all__ = [
    "CHUNK",
    "Progress",
    "batch_rows",
    "chunks",
    "keys",
    "match_rows",
    "people_by",
    "quiet",
    "remap_rows",
    "store_rows",
]

#: A person merged into another is no live record: never an import match.
LIVE = IsNull("merged_into_person_id")
#: Rows handled together: one round of statements per chunk.
CHUNK = 2000
#: ``(stage, rows done so far)``; called once per chunk.
Progress = Callable[[str, int], None]

E = TypeVar("E", bound=Entity)
_S = ImportRowStatus
_O = ImportOutcome


def quiet(_: str, __: int) -> None:
    """The progress callback that says nothing."""


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
        return trusted_entity(
            ImportRow,
            **common,
            status=_S.INVALID,
            outcome=_O.INVALID,
            error_reason=_clean(raw.error or "the row could not be read"),
        )
    return trusted_entity(ImportRow, **common, **_mapped_fields(raw.values, mapping, digest))


def store_rows(  # noqa: PLR0917
    uow: UnitOfWork,
    batch: ImportBatch,
    rows: Iterable[RawRow],
    mapping: ColumnMapping,
    now: datetime,
    progress: Progress = quiet,
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
    uow: UnitOfWork, batch: ImportBatch, mapping: ColumnMapping, progress: Progress = quiet
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
            changes.append((row.key, row.version, fields))
        uow.crm.import_rows.update_many(changes)
        progress("mapped", counts["rows"])
    return counts


# -- match --------------------------------------------------------------------


def people_by(uow: UnitOfWork, field: str, values: set[str], *also: Filter) -> list[Person]:
    """The people whose ``field`` is one of ``values`` (and who match ``also``): one lookup."""
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
    progress: Progress = quiet,
    *,
    now: datetime,
    rules: DuplicateRules = DEFAULT_PERSON_RULES,
) -> dict[str, int]:
    """Match every readable row and record its outcome, person, changes and evidence.

    Rows whose outcome needs writing name the proposal of their outcome
    (``proposals``); ``rules`` judge the people found (see ``matching``);
    counts per outcome come back.
    """
    counts = {o.value: 0 for o in _O}
    done = 0
    matcher = uow.extension(ImportMatcher)  # type: ignore[type-abstract]
    if matcher is not None:  # the store decides the source and same-file rows in one statement
        for outcome, decided in matcher.match_exact(
            batch.key, batch.source_system, proposals, now
        ).items():
            counts[outcome] += decided
            done += decided
        progress("matched", done)
    source = Eq("source_system", batch.source_system)
    for chunk in batch_rows(uow, batch.key, Eq("status", _S.VALID)):
        by_source: dict[str | None, Person] = {}
        earlier: dict[UUID, Any] = {}
        if matcher is None:  # else the store decided every row these decide
            refs = keys(chunk, "source_key")
            by_source = {p.source_ref: p for p in people_by(uow, "source_ref", refs, source, LIVE)}
            earlier = _earlier(uow, batch.key, chunk)
        by_email = _all_by(
            people_by(uow, "primary_email", keys(chunk, "match_email"), LIVE), "primary_email"
        )
        by_phone = _all_by(
            people_by(uow, "primary_phone", keys(chunk, "match_phone"), LIVE), "primary_phone"
        )
        found = {}
        for row in chunk:
            emails = by_email.get(row.match_email or "", [])
            phones = by_phone.get(row.match_phone or "", [])
            found[row.key] = Candidates(
                by_source=by_source.get(row.source_key or ""),
                by_email=emails[0] if emails else None,
                by_phone=phones[0] if phones else None,
                earlier=earlier.get(row.key),
                sharing=(*emails[1:SHARING], *phones[1:SHARING]),
            )
        verdicts = {r.key: decide(r.mapped_json, found[r.key], r.match_name, rules) for r in chunk}
        unmatched = [r for r in chunk if verdicts[r.key].outcome is _O.NEW]
        by_name, compared = _namesakes(uow, unmatched, matcher)
        changes = []
        for row in chunk:
            verdict = verdicts[row.key]
            name = row.match_name or ""
            if verdict.outcome is _O.NEW and name:
                twin = swapped(name)
                namesakes = tuple(by_name.get(name, [])) + tuple(by_name.get(twin or "", []))
                candidates = attrs.evolve(found[row.key], by_name=namesakes)
                verdict = decide(row.mapped_json, candidates, row.match_name, rules)
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


#: How many people sharing one email or phone a row is compared with (the oldest).
SHARING = 10
#: How many namesakes per unmatched row matching reads, at most, in a chunk.
NAMESAKES_PER_ROW = 10
#: Names looked up together: the budget is checked between groups.
NAME_GROUP = 250


def _namesakes(
    uow: UnitOfWork, rows: Sequence[ImportRow], matcher: ImportMatcher | None
) -> tuple[dict[str, list[Namesake]], set[str]]:
    """People sharing the rows' names (or the names swapped), and the names fully read.

    Read a group of names at a time, up to :data:`NAMESAKES_PER_ROW` people
    per row: names left when the budget runs out are not compared, and the
    rows bearing them say so in their evidence rather than cost a scan of
    everyone of a very common name. Each name's people come in the order of
    their ids (so the first to corroborate is the same in every store).
    """
    names = keys(rows, "match_name")
    names |= {s for n in names if (s := swapped(n))}
    by_name: dict[str, list[Namesake]] = {}
    budget = max(MAX_PAGE_SIZE, NAMESAKES_PER_ROW * len(rows))
    read = 0
    compared: set[str] = set()
    for group in chunks(sorted(names), NAME_GROUP):
        if read >= budget:
            break
        if matcher is not None:
            found = matcher.namesakes(group)
        else:
            found = [
                Namesake.of(p) for p in uow.crm.people.where_in("normalized_name", group, LIVE)
            ]
        read += len(found)
        for namesake in sorted(found, key=lambda n: n.person_id):
            by_name.setdefault(namesake.normalized_name, []).append(namesake)
        compared.update(group)
    complete = {n for n in compared if (twin := swapped(n)) is None or twin in compared}
    return by_name, complete


def keys(chunk: Sequence[ImportRow], field: str) -> set[str]:
    """The distinct values of ``field`` among the rows of ``chunk`` (empty ones left out)."""
    return {v for r in chunk if (v := getattr(r, field))}


def _all_by(people: list[Person], field: str) -> dict[str, list[Person]]:
    """People by ``field``, the oldest (then lowest id) first."""
    chosen: dict[str, list[Person]] = {}
    for person in sorted(people, key=lambda p: (p.created_at, p.key)):
        chosen.setdefault(getattr(person, field), []).append(person)
    return chosen
