"""The duplicate check of the contacts service: who a new or changed person may duplicate.

The candidates are the live people (never one merged into another) who share
a blocking key of the rules (``governance.person_rules``) with the person:
the email, the phone, the normalised name or that name with its first and
last words swapped, found by one indexed query (a semi-join of one lookup
per key, each served by its column's index). Each candidate is compared
with the person by the rules; those matched with a confidence of at least
``WARN_AT`` are suspects, strongest first. A rule with no blocking key is
never tried here: candidates are only found through keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from velocity_domain.crm.duplicates import (
    WARN_AT,
    Block,
    DuplicateRules,
    PersonProfile,
    RuleMatch,
    swapped_name,
)
from velocity_domain.crm.entities import Person
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE
from velocity_domain.kernel.query import Among, Filter, In, Query, Source
from velocity_domain.kernel.repository import every
from velocity_domain.uow import UnitOfWork

__all__ = [
    "CANDIDATES",
    "Suspect",
    "block_values",
    "blocked_with",
    "by_block",
    "candidates",
    "duplicates",
    "evidence",
    "existing",
    "judged",
    "lookups",
    "stored_candidates",
]

#: The most people one duplicate check reads (the people of a very common name are cut here).
CANDIDATES = 200


#: The column each blocking key is looked up in.
_BLOCK_COLUMNS = {
    Block.EMAIL: "primary_email",
    Block.PHONE: "primary_phone",
    Block.NAME: "normalized_name",
}

#: A person a rule matched, and the match (the strongest rule's).
Suspect = tuple[Person, RuleMatch]


def block_values(block: Block, people: Sequence[Person]) -> tuple[str, ...]:
    """The values ``people`` are looked up by for ``block`` (a name also swapped)."""
    if block is Block.NAME:
        names = {p.normalized_name for p in people}
        names |= {s for n in names if (s := swapped_name(n))}
        return tuple(sorted(n for n in names if n))
    return tuple(sorted({v for p in people if (v := getattr(p, _BLOCK_COLUMNS[block]))}))


def lookups(
    rules: DuplicateRules, people: Sequence[Person], blocks: Iterable[Block]
) -> list[Source]:
    """The lookups of the rules' blocking keys among ``blocks``, one per key with values."""
    found = []
    for block in sorted(set(blocks) & rules.blocks):
        values = block_values(block, people)
        if values:
            where = (In(_BLOCK_COLUMNS[block], values),)
            found.append(Source(Person.table_name, "person_id", where))
    return found


def candidates(uow: UnitOfWork, rules: DuplicateRules, person: Person) -> list[Person]:
    """The live people sharing a blocking key of the rules with ``person``: one indexed query.

    When a very common name fills the page, the exact keys are read again
    on their own so that no shared email or phone is missed.
    """
    every_key = lookups(rules, [person], Block)
    if not every_key:
        return []
    page = uow.crm.people.list(Query((Among("person_id", every_key),), limit=CANDIDATES))
    found = _live(page.items)
    if page.next_cursor is None:
        return found
    exact = lookups(rules, [person], (Block.EMAIL, Block.PHONE))
    if exact:
        seen = {p.key for p in found}
        more = uow.crm.people.list(Query((Among("person_id", exact),), limit=MAX_PAGE_SIZE))
        found += [p for p in _live(more.items) if p.key not in seen]
    return found


def _live(people: Iterable[Person]) -> list[Person]:
    """The people not merged into another.

    Filtered here, not in the query: the candidates are a handful, and a
    filter on the merge column (null for nearly everyone) can steer the
    planner of a young table, before its first ANALYZE, into scanning every
    person once per candidate key.
    """
    return [p for p in people if p.merged_into_person_id is None]


def judged(rules: DuplicateRules, person: Person, others: Iterable[Person]) -> list[Suspect]:
    """The people of ``others`` a rule matches with ``person`` from ``WARN_AT``, strongest first."""
    me = PersonProfile.of(person)
    found: list[Suspect] = []
    for other in others:
        if other.key == person.key:
            continue
        match = rules.compare(me, PersonProfile.of(other))
        if match is not None and match.confidence >= WARN_AT:
            found.append((other, match))
    found.sort(key=lambda s: -s[1].confidence)
    return found


def duplicates(
    uow: UnitOfWork, rules: DuplicateRules, person: Person, before: Person | None = None
) -> list[Suspect]:
    """The people ``person`` probably duplicates under ``rules``, strongest first (one query).

    For a change, ``before`` is the person as stored: the people it already
    matched are left out, so that a change is refused only for a duplicate
    it makes (correcting an email does not stumble on a known namesake).
    """
    found = judged(rules, person, candidates(uow, rules, person))
    if before is None or not found:
        return found
    known = {p.key for p, _ in judged(rules, before, [p for p, _ in found])}
    return [(p, m) for p, m in found if p.key not in known]


def evidence(suspects: Sequence[Suspect]) -> list[dict[str, Any]]:
    """Each suspect's rule match as JSON, with the person's id."""
    return [{"person_id": str(p.key), **m.to_json()} for p, m in suspects]


def existing(uow: UnitOfWork, *where: Filter) -> list[Person]:
    """Every person matching ``where`` (a handful: the batch's own emails, phones or refs)."""
    return list(every(uow.crm.people, *where))


def stored_candidates(
    uow: UnitOfWork, rules: DuplicateRules, people: Sequence[Person]
) -> list[Person]:
    """The live people sharing a blocking key with the batch: two indexed queries.

    Everyone sharing an email or a phone is read; of the people sharing a
    name, one page (the names of a large batch can be very common).
    """
    found: dict[Any, Person] = {}
    exact = lookups(rules, people, (Block.EMAIL, Block.PHONE))
    if exact:
        found |= {p.key: p for p in _live(existing(uow, Among("person_id", exact)))}
    named = lookups(rules, people, (Block.NAME,))
    if named:
        query = Query((Among("person_id", named),), limit=MAX_PAGE_SIZE)
        found |= {p.key: p for p in _live(uow.crm.people.list(query).items) if p.key not in found}
    return sorted(found.values(), key=lambda p: p.key)


def blocked_with(
    rules: DuplicateRules, known: dict[str, list[Person]], person: Person
) -> list[Person]:
    """The people of ``known`` (see :func:`by_block`) sharing a blocking key with ``person``.

    In the order of their ids, so that every store and every run judges alike.
    """
    found: dict[Any, Person] = {}
    for block in rules.blocks:
        for value in block_values(block, [person]):
            for other in known.get(f"{block}:{value}", ()):
                found.setdefault(other.key, other)
    return sorted(found.values(), key=lambda p: p.key)


def by_block(rules: DuplicateRules, people: Iterable[Person]) -> dict[str, list[Person]]:
    """``people`` by each of their blocking values (``"email:..."``, ``"name:..."``)."""
    known: dict[str, list[Person]] = {}
    for person in people:
        for block in rules.blocks:
            if block is Block.NAME:
                values: Iterable[str] = (person.normalized_name,) if person.normalized_name else ()
            else:
                values = block_values(block, [person])
            for value in values:
                known.setdefault(f"{block}:{value}", []).append(person)
    return known
