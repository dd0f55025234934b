"""Matching one mapped import row against canonical people and the file's earlier rows.

The rules, strongest first:

1. **source**: a person with the batch's source system and the row's source
   reference (the file's own id, or its fingerprint) is the same record,
   whatever else matches;
2. **email** / **phone**: a person with the same normalised email or E.164
   phone is the same person;
3. **same file**: an earlier row of the same file with the same email or
   phone makes this row a possible duplicate (one person, two rows), even
   when rule 2 also found a person; only a source match (the very record,
   imported before) outranks it;
4. **similar name**: a person with the same normalised name (or its words
   swapped) is a possible duplicate only when one corroborating signal
   agrees: phone numbers a digit or two apart, or email local parts that are
   nearly the same (rapidfuzz scores, recorded as evidence).

Exact matches that disagree (the email names one person, the phone another)
are a possible duplicate too. One exact match is an **update** when the row
brings a value the person lacks or holds differently (only those fields
change) and **unchanged** otherwise; no match is **new**.

>>> from velocity_domain.crm.entities import Person
>>> asha = Person(full_name="Asha Rao", primary_email="asha@example.in")
>>> found = Candidates(by_email=asha)
>>> row = {"full_name": "Asha Rao", "primary_email": "asha@example.in",
...        "primary_phone": "+919830012345"}
>>> verdict = decide(row, found)
>>> (verdict.outcome.value, verdict.changes)
('update', {'primary_phone': [None, '+919830012345']})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import attrs
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from velocity_domain.crm.entities import ImportOutcome, Person
from velocity_domain.crm.ports import Namesake
from velocity_domain.kernel.normalize import normalize_name

__all__ = [
    "CONTACT_FIELDS",
    "Candidates",
    "Verdict",
    "decide",
    "swapped",
]

#: The person fields an import row may set or change.
CONTACT_FIELDS = ("full_name", "primary_email", "primary_phone")
#: How many digits two phone numbers may differ by and still corroborate a name.
PHONE_EDITS = 2
#: The rapidfuzz ratio two email local parts reach to corroborate a name.
EMAIL_LOCAL_SCORE = 85.0


@attrs.frozen
class Candidates:
    """What the stores found for one row: people by each exact key, by name, earlier rows."""

    by_source: Person | None = None
    by_email: Person | None = None
    by_phone: Person | None = None
    by_name: tuple[Namesake, ...] = ()
    #: ``(field, row number)`` of the first earlier row of the file sharing a key.
    earlier: tuple[str, int] | None = None


@attrs.frozen
class Verdict:
    """The outcome for one row, the person it concerns, the field changes and the evidence."""

    outcome: ImportOutcome
    person: Person | Namesake | None = None
    changes: dict[str, list[Any]] = attrs.field(factory=dict)
    evidence: dict[str, Any] = attrs.field(factory=dict)


def swapped(name: str) -> str | None:
    """The normalised name with its first and last words swapped ("rao asha" for "asha rao")."""
    words = name.split()
    if len(words) < 2:
        return None
    return " ".join([words[-1], *words[1:-1], words[0]])


def _changes(values: Mapping[str, Any], person: Person, key: str | None) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    name = values.get("full_name")
    if name and (key or normalize_name(name)) != person.normalized_name:
        changes["full_name"] = [person.full_name, name]
    for field in ("primary_email", "primary_phone"):
        new = values.get(field)
        if new and new != getattr(person, field):
            changes[field] = [getattr(person, field), new]
    return changes


def _corroboration(values: Mapping[str, Any], person: Namesake) -> dict[str, Any] | None:
    phone, other_phone = values.get("primary_phone"), person.primary_phone
    if phone and other_phone:
        edits = Levenshtein.distance(phone[-10:], other_phone[-10:])
        if edits <= PHONE_EDITS:
            return {"signal": "phone", "edits": edits, "values": [phone, other_phone]}
    email, other_email = values.get("primary_email"), person.primary_email
    if email and other_email:
        score = fuzz.ratio(email.split("@")[0], other_email.split("@")[0])
        if score >= EMAIL_LOCAL_SCORE:
            return {"signal": "email", "score": round(score, 1), "values": [email, other_email]}
    return None


def decide(values: Mapping[str, Any], found: Candidates, name_key: str | None = None) -> Verdict:
    """Decide what importing the mapped row ``values`` does, given what matching ``found``.

    ``name_key`` is the row's full name already normalised, when the caller
    has it (saving the work of normalising it again).
    """
    exact: list[tuple[str, Person]] = [
        (rule, person)
        for rule, person in (
            ("source", found.by_source),
            ("email", found.by_email),
            ("phone", found.by_phone),
        )
        if person is not None
    ]
    people: dict[UUID, Person] = {}
    for _, person in exact:
        people.setdefault(person.key, person)
    matches = [{"rule": rule, "person_id": str(person.key)} for rule, person in exact]
    if found.by_source is not None:  # the very record, imported before: nothing else decides
        person = found.by_source
        changes = _changes(values, person, name_key)
        evidence = {"rule": "source", "matches": matches, "version": person.version}
        outcome = ImportOutcome.UPDATE if changes else ImportOutcome.UNCHANGED
        return Verdict(outcome, person, changes, evidence)
    if found.earlier is not None:
        field, row = found.earlier
        evidence = {"rule": "same_file", "field": field, "row": row, "value": values.get(field)}
        first = next(iter(people.values()), None)
        return Verdict(ImportOutcome.DUPLICATE, first, evidence={**evidence, "matches": matches})
    if len(people) > 1:
        first = next(iter(people.values()))
        evidence = {"rule": "conflicting_matches", "matches": matches}
        return Verdict(ImportOutcome.DUPLICATE, first, evidence=evidence)
    if people:
        person = next(iter(people.values()))
        changes = _changes(values, person, name_key)
        evidence = {"rule": exact[0][0], "matches": matches, "version": person.version}
        outcome = ImportOutcome.UPDATE if changes else ImportOutcome.UNCHANGED
        return Verdict(outcome, person, changes, evidence)
    name = values.get("full_name") or ""
    for namesake in found.by_name:
        signal = _corroboration(values, namesake)
        if signal is None:
            continue
        score = fuzz.token_sort_ratio(name_key or normalize_name(name), namesake.normalized_name)
        evidence = {
            "rule": "similar_name",
            "person_id": str(namesake.key),
            "name_score": round(score, 1),
            "names": [name, namesake.full_name],
            **signal,
        }
        return Verdict(ImportOutcome.DUPLICATE, namesake, evidence=evidence)
    return Verdict(ImportOutcome.NEW, evidence={"rule": "no_match"})
