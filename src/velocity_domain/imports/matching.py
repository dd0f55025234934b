"""Matching one mapped import row against canonical people and the file's earlier rows.

The duplicate rules decide (``governance.person_rules``, see
:mod:`velocity_domain.crm.duplicates`); the order of the decisions:

1. **source**: a person with the batch's source system and the row's source
   reference (the file's own id, or its fingerprint) is the same record,
   whatever else matches;
2. **same file**: an earlier row of the same file with the same email or
   phone makes this row a possible duplicate (one person, two rows), even
   when a person shares them too; only a source match (the very record,
   imported before) outranks it;
3. **email** / **phone**: the people with the same normalised email or
   E.164 phone are compared with the row by the rules. The one person
   matched with a confidence of at least ``SAME_AT`` is the same person: an
   **update** when the row brings a value the person lacks or holds
   differently (only those fields change), **unchanged** otherwise; two
   such people (the email names one, the phone another, both with the
   row's name) are a possible **duplicate** for review. With none, the
   strongest weaker match (the names do not agree: a family phone, an
   office email) makes the row a possible duplicate;
4. **namesakes**: the people with the same normalised name (or its first and
   last words swapped) are compared by the rules (``similar_name`` asks for
   a corroborating signal); the strongest match makes the row a possible
   duplicate, never an update: a person found by name alone is changed only
   after review.

Matches below ``WARN_AT`` count for nothing, and a row nothing matches is
**new**. The evidence of a rule's decision is its ``RuleMatch.to_json()``
(rule, confidence, explanation, fields and values), with the lookups that
found the people (``matches``). People merged into another are never
candidates: the stores leave them out of every lookup.

>>> from velocity_domain.crm.entities import Person
>>> asha = Person(full_name="Asha Rao", primary_email="asha@example.in")
>>> found = Candidates(by_email=asha)
>>> row = {"full_name": "Asha Rao", "primary_email": "asha@example.in",
...        "primary_phone": "+919830012345"}
>>> verdict = decide(row, found)
>>> (verdict.outcome.value, verdict.changes, verdict.evidence["rule"])
('update', {'primary_phone': [None, '+919830012345']}, 'email')
>>> family = {"full_name": "Ravi Rao", "primary_email": "asha@example.in"}
>>> (decide(family, found).outcome.value, decide(family, found).evidence["confidence"])
('duplicate', 0.5)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.crm.duplicates import (
    DEFAULT_PERSON_RULES,
    SAME_AT,
    WARN_AT,
    DuplicateRules,
    PersonProfile,
    RuleMatch,
    swapped_name,
)
from velocity_domain.crm.entities import ImportOutcome, Person
from velocity_domain.crm.ports import Namesake
from velocity_domain.kernel.normalize import normalize_name

__all__ = [
    "CONTACT_FIELDS",
    "Candidates",
    "Verdict",
    "decide",
    "row_profile",
    "swapped",
]

#: The person fields an import row may set or change.
CONTACT_FIELDS = ("full_name", "primary_email", "primary_phone")
#: The profile id of an import row (a row is not a person yet).
_ROW_ID = UUID(int=0)

#: The normalised name with its first and last words swapped ("rao asha" for "asha rao").
swapped = swapped_name


@attrs.frozen
class Candidates:
    """What the stores found for one row: people by each exact key, by name, earlier rows."""

    by_source: Person | None = None
    by_email: Person | None = None
    by_phone: Person | None = None
    by_name: tuple[Namesake, ...] = ()
    #: The other people sharing the row's email or phone (a family's, an office's).
    sharing: tuple[Person, ...] = ()
    #: ``(field, row number)`` of the first earlier row of the file sharing a key.
    earlier: tuple[str, int] | None = None


@attrs.frozen
class Verdict:
    """The outcome for one row, the person it concerns, the field changes and the evidence."""

    outcome: ImportOutcome
    person: Person | Namesake | None = None
    changes: dict[str, list[Any]] = attrs.field(factory=dict)
    evidence: dict[str, Any] = attrs.field(factory=dict)


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


def row_profile(values: Mapping[str, Any], name_key: str | None = None) -> PersonProfile:
    """The mapped row ``values`` as the duplicate rules see a person."""
    name = str(values.get("full_name") or "")
    key = name_key if name_key is not None else (normalize_name(name) if name else "")
    return PersonProfile(
        _ROW_ID,
        name,
        values.get("primary_email") or None,
        values.get("primary_phone") or None,
        source_ref=values.get("source_ref") or None,
        normalized_name=key,
    )


def _judged(
    rules: DuplicateRules, row: PersonProfile, people: Sequence[Person | Namesake]
) -> list[tuple[Person | Namesake, RuleMatch]]:
    """The people a rule matches with the row from ``WARN_AT``, strongest first (stable)."""
    found: list[tuple[Person | Namesake, RuleMatch]] = []
    for person in people:
        match = rules.compare(row, PersonProfile.of(person))
        if match is not None and match.confidence >= WARN_AT:
            found.append((person, match))
    found.sort(key=lambda j: -j[1].confidence)
    return found


def _with_person(person: Person | Namesake, match: RuleMatch) -> dict[str, Any]:
    return {"person_id": str(person.key), **match.to_json()}


def decide(
    values: Mapping[str, Any],
    found: Candidates,
    name_key: str | None = None,
    rules: DuplicateRules = DEFAULT_PERSON_RULES,
) -> Verdict:
    """Decide what importing the mapped row ``values`` does, given what matching ``found``.

    ``name_key`` is the row's full name already normalised, when the caller
    has it (saving the work of normalising it again); ``rules`` are the
    duplicate rules that judge the people found (see the module).
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
    for person in (*(p for _, p in exact), *found.sharing):
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
    if not people and not found.by_name:
        return Verdict(ImportOutcome.NEW, evidence={"rule": "no_match"})
    profile = row_profile(values, name_key)
    judged = _judged(rules, profile, list(people.values()))
    same = [(p, m) for p, m in judged if m.confidence >= SAME_AT]
    if len(same) > 1:  # two people are each this one: the people on file duplicate each other
        evidence = {
            "rule": "conflicting_matches",
            "matches": matches,
            "rule_matches": [_with_person(p, m) for p, m in same],
        }
        return Verdict(ImportOutcome.DUPLICATE, same[0][0], evidence=evidence)
    if same:
        chosen, match = same[0]
        person = people[chosen.key]
        changes = _changes(values, person, name_key)
        evidence = {**match.to_json(), "matches": matches, "version": person.version}
        outcome = ImportOutcome.UPDATE if changes else ImportOutcome.UNCHANGED
        return Verdict(outcome, person, changes, evidence)
    if judged:
        chosen, match = judged[0]
        evidence = {**_with_person(chosen, match), "matches": matches}
        return Verdict(ImportOutcome.DUPLICATE, chosen, evidence=evidence)
    namesakes = [n for n in found.by_name if n.key not in people]
    for namesake, match in _judged(rules, profile, namesakes)[:1]:
        evidence = {
            **_with_person(namesake, match),
            "names": [profile.full_name, namesake.full_name],
        }
        return Verdict(ImportOutcome.DUPLICATE, namesake, evidence=evidence)
    return Verdict(ImportOutcome.NEW, evidence={"rule": "no_match"})
