"""A population of people with planted duplicates of known truth, for the duplicate scan.

:func:`population` makes ``n`` base people (Indian names from ``names.py``,
some with an honorific or a middle initial; emails in the shapes people
choose, 75% of people; ``+91`` mobile phones, 90%), then plants, for a
share of them, records that *are* the same person:

- ``typo``: one letter of the first or last name changed, added or dropped
  (in a word of five letters or more), the same email or the same phone;
- ``swapped``: the name the other way round (``Rao Asha``, ``Rao, Asha``),
  the same phone;
- ``phone_format``: the same name, the phone typed another way (``098300
  12345``, ``+91-98300-12345``, ``9830012345``), which normalises equal;
- ``email_variant``: the same name, the email in capitals (it normalises
  equal) or with its dots taken out (a near local part), no phone; no two
  different people hold addresses that differ only in such separators;
- ``near_phone``: the same name (or swapped), only a phone one or two
  digits off, no email;

and records that are *not*:

- ``family``: a relative: the same surname, another first name, the same
  phone, the same household;
- ``namesake``: the same name, unrelated email and phone.

Every planted value is put through the library's normalisers (so a typed
phone is stored as the E.164 it normalises to). :attr:`Population.truth`
maps every person to the real person they are; :func:`score` measures a
scan's clusters against it, over pairs.

:func:`add_to` writes a population through a unit of work (tests, a few
thousand people); :func:`copy_into` streams one into ``crm_households`` and
``crm_people`` with COPY (the benchmark, a million people).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg

from benchmarks import names
from velocity_domain import Velocity
from velocity_domain.crm.entities import Household, Person
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.normalize import normalize_email, normalize_name, normalize_phone
from velocity_domain.testing import unit_of_work

DUPLICATE_KINDS = ("typo", "swapped", "phone_format", "email_variant", "near_phone")
TRAP_KINDS = ("family", "namesake")
EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
DAYS = 3 * 365
PHONE_BASE = 7_000_000_000
PHONE_SPAN = 3_000_000_000
PHONE_STEP = 2_654_435_761  # coprime with PHONE_SPAN: base phones never repeat
PEOPLE_COLUMNS = (
    "person_id, full_name, normalized_name, primary_email, primary_phone, persona_labels,"
    " household_id, version, created_at, updated_at"
)
HOUSEHOLD_COLUMNS = "household_id, household_name, version, created_at, updated_at"


@dataclass(frozen=True)
class Planted:
    """One generated person: stored values, the real person it is, and how it was made."""

    person_id: UUID
    full_name: str
    normalized_name: str
    email: str | None
    phone: str | None
    household_id: UUID | None
    created_at: datetime
    truth: int
    kind: str


@dataclass
class Population:
    """The people, their households, and which real person each one is."""

    people: list[Planted] = field(default_factory=list)
    households: dict[UUID, str] = field(default_factory=dict)

    @property
    def truth(self) -> dict[UUID, int]:
        """Person id -> the index of the real person."""
        return {p.person_id: p.truth for p in self.people}

    def true_pairs(self) -> set[frozenset[UUID]]:
        """Every pair of records of one real person."""
        groups: dict[int, list[UUID]] = {}
        for person in self.people:
            groups.setdefault(person.truth, []).append(person.person_id)
        return {
            frozenset(pair)
            for ids in groups.values()
            if len(ids) > 1
            for pair in itertools.combinations(ids, 2)
        }

    def kinds(self) -> dict[str, int]:
        """How many records of each kind."""
        counts: dict[str, int] = {}
        for person in self.people:
            counts[person.kind] = counts.get(person.kind, 0) + 1
        return counts


@dataclass(frozen=True)
class Score:
    """A scan's clusters against the truth, over pairs."""

    found: int
    true: int
    correct: int

    @property
    def precision(self) -> float:
        """Of the pairs the clusters make, the share that are one person."""
        return self.correct / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        """Of the pairs that are one person, the share the clusters make."""
        return self.correct / self.true if self.true else 1.0


def score(clusters: Iterable[Iterable[UUID]], population: Population) -> Score:
    """Compare clusters (sets of person ids) with the planted truth, pair by pair."""
    found = {frozenset(pair) for c in clusters for pair in itertools.combinations(sorted(c), 2)}
    true = population.true_pairs()
    return Score(len(found), len(true), len(found & true))


def missed(clusters: Iterable[Iterable[UUID]], population: Population) -> dict[str, int]:
    """The true pairs the clusters miss, by the planted record's kind (for a report)."""
    found = {frozenset(pair) for c in clusters for pair in itertools.combinations(sorted(c), 2)}
    kind = {p.person_id: p.kind for p in population.people}
    counts: dict[str, int] = {}
    for pair in population.true_pairs() - found:
        label = next((kind[p] for p in pair if kind[p] != "base"), "base")
        counts[label] = counts.get(label, 0) + 1
    return counts


def _mailbox(address: str) -> str:
    """An address without the dots, underscores and hyphens of its local part.

    No two generated people hold addresses that are one mailbox written two
    ways (as Gmail reads dots); an ``email_variant`` duplicate is exactly that.
    """
    local, domain = address.split("@")
    return local.translate(_SEPARATORS) + "@" + domain


_SEPARATORS = str.maketrans("", "", "._-")


class _Maker:
    """Draws the values of one population (see the module)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.emails: set[str] = set()
        self.phones = 0

    def moment(self, after: datetime | None = None) -> datetime:
        start = after or EPOCH
        span = DAYS * 86400 - int((start - EPOCH).total_seconds())
        return start + timedelta(seconds=1 + int(self.rng.random() * max(span, 1)))

    def name(self) -> tuple[str, str, str, str]:
        """A full name, its normalised form, and the first and last name as written."""
        rng = self.rng
        first = rng.choice(names.FIRST_NAMES)
        last = rng.choice(names.SURNAMES)
        roll = rng.random()
        if roll < 0.06:
            full = f"{rng.choice(names.HONORIFICS)} {first} {last}"
        elif roll < 0.16:
            full = f"{first} {rng.choice(names.INITIALS)}. {last}"
        else:
            full = f"{first} {last}"
        return full, normalize_name(full), first, last

    def phone(self) -> str:
        n, self.phones = self.phones, self.phones + 1
        return f"+91{PHONE_BASE + (n * PHONE_STEP + 12345) % PHONE_SPAN}"

    def email(self, first: str, last: str) -> str:
        rng = self.rng
        f, s = first.lower(), last.lower()
        shapes = (f"{f}.{s}", f"{f}{s}", f"{s}.{f}", f"{f}_{s}", f"{f[0]}{s}", f"{f}{s[0]}")
        local = rng.choice(shapes)
        suffix = rng.choice(("", str(rng.randint(1, 99)), str(rng.randint(1960, 2004))))
        domain = rng.choice(names.EMAIL_DOMAINS)
        address = f"{local}{suffix}@{domain}"
        while _mailbox(address) in self.emails:
            address = f"{local}{suffix}{rng.randint(100, 9999)}@{domain}"
        self.emails.add(_mailbox(address))
        return address

    def typo(self, word: str) -> str:
        """One letter of ``word`` changed, added or dropped (not the first)."""
        rng = self.rng
        at = rng.randint(1, len(word) - 1)
        letter = rng.choice("aeiourstnlkhm")
        roll = rng.random()
        if roll < 0.4:
            changed = word[:at] + letter + word[at + 1 :]
        elif roll < 0.7:
            changed = word[:at] + letter + word[at:]
        else:
            changed = word[:at] + word[at + 1 :]
        return changed if changed.lower() != word.lower() else word[:at] + "x" + word[at + 1 :]

    def near(self, phone: str) -> str:
        """``phone`` with one or two of its last nine digits changed."""
        digits = list(phone[3:])
        for at in self.rng.sample(range(1, 10), self.rng.choice((1, 2))):
            digits[at] = str((int(digits[at]) + self.rng.randint(1, 9)) % 10)
        return "+91" + "".join(digits)

    def typed(self, phone: str) -> str:
        """``phone`` as someone types it (it normalises back to ``phone``)."""
        d = phone[3:]
        shape = self.rng.choice((f"0{d[:5]} {d[5:]}", f"+91-{d[:5]}-{d[5:]}", d, f"91 {d}"))
        assert normalize_phone(shape) == phone, (shape, phone)
        return shape


def _person(  # noqa: PLR0917 - a record is its values, in order
    maker: _Maker,
    truth: int,
    kind: str,
    full: str,
    email: str | None,
    phone: str | None,
    household: UUID | None = None,
    after: datetime | None = None,
    *,
    trusted: bool = False,
) -> Planted:
    """A record; unless ``trusted`` (already normal, as base values are), its values normalised."""
    return Planted(
        new_id(),
        full,
        normalize_name(full),
        email if trusted or email is None else normalize_email(email),
        phone if trusted or phone is None else normalize_phone(phone),
        household,
        maker.moment(after),
        truth,
        kind,
    )


def _duplicate(maker: _Maker, base: Planted, first: str, last: str) -> Planted:
    """A record of the same real person as ``base``, of a random kind."""
    rng = maker.rng
    kind = rng.choice(DUPLICATE_KINDS)
    words = base.full_name.split()
    if kind == "typo":
        long = [i for i, w in enumerate(words) if len(w.strip(".")) >= 5]
        if not long or (base.email is None and base.phone is None):
            kind = "phone_format" if base.phone else "swapped"
        else:
            at = rng.choice(long)
            words[at] = maker.typo(words[at])
            use_email = base.email is not None and (base.phone is None or rng.random() < 0.5)
            email = base.email if use_email else None
            phone = None if use_email else base.phone
            return _person(
                maker, base.truth, kind, " ".join(words), email, phone, None, base.created_at
            )
    if kind == "email_variant" and base.email is None:
        kind = "near_phone" if base.phone else "swapped"
    if kind in ("near_phone", "phone_format") and base.phone is None:
        kind = "swapped"
    after = base.created_at
    if kind == "swapped":
        full = rng.choice((f"{last} {first}", f"{last}, {first}"))
        phone = base.phone or maker.phone()
        email = base.email if base.phone is None else None
        return _person(maker, base.truth, kind, full, email, phone, None, after)
    if kind == "phone_format":
        assert base.phone is not None
        email = maker.email(first, last) if rng.random() < 0.3 else None
        return _person(
            maker, base.truth, kind, base.full_name, email, maker.typed(base.phone), None, after
        )
    if kind == "email_variant":
        assert base.email is not None
        local, domain = base.email.split("@")
        if rng.random() < 0.5 or "." not in local:
            variant = f"{local.title()}@{domain.upper()}"
        else:
            variant = f"{local.replace('.', '')}@{domain}"
        return _person(maker, base.truth, kind, base.full_name, variant, None, None, after)
    assert base.phone is not None
    full = base.full_name if rng.random() < 0.7 else f"{last} {first}"
    return _person(maker, base.truth, "near_phone", full, None, maker.near(base.phone), None, after)


def population(
    n: int, *, seed: int = 15, duplicates: float = 0.1, traps: float = 0.05
) -> Population:
    """``n`` base people, then duplicates of a share ``duplicates`` and traps of ``traps`` each.

    A base person gets at most one planted record (so the truth is pairs);
    the traps are a relative for some and a namesake for others.
    """
    maker = _Maker(seed)
    rng = maker.rng
    made = Population()
    bases: list[tuple[Planted, str, str]] = []
    for i in range(n):
        full, _, first, last = maker.name()
        roll = rng.random()
        email = maker.email(first, last) if roll < 0.75 else None
        phone = maker.phone() if roll < 0.9 else None
        person = _person(maker, i, "base", full, email, phone, trusted=i >= 500)
        bases.append((person, first, last))
    # Only a record with an email or a phone can have a duplicate anyone could find.
    reachable = [i for i, (b, _, _) in enumerate(bases) if b.email or b.phone]
    chosen = rng.sample(reachable, int(n * (duplicates + 2 * traps)))
    cut_dup, cut_family = int(n * duplicates), int(n * (duplicates + traps))
    extra: list[Planted] = []
    truth = n
    for rank, index in enumerate(chosen):
        base, first, last = bases[index]
        if rank < cut_dup:
            extra.append(_duplicate(maker, base, first, last))
        elif rank < cut_family and base.phone is not None:
            household = new_id()
            made.households[household] = f"{last} family"
            bases[index] = (_with_household(base, household), first, last)
            other = rng.choice([f for f in names.FIRST_NAMES if f != first and f[0] != first[0]])
            email = maker.email(other, last) if rng.random() < 0.5 else None
            extra.append(
                _person(maker, truth, "family", f"{other} {last}", email, base.phone, household)
            )
            truth += 1
        else:
            email = maker.email(first, last) if rng.random() < 0.75 else None
            extra.append(_person(maker, truth, "namesake", base.full_name, email, maker.phone()))
            truth += 1
    made.people = [b for b, _, _ in bases] + extra
    return made


def _with_household(person: Planted, household: UUID) -> Planted:
    return Planted(
        person.person_id,
        person.full_name,
        person.normalized_name,
        person.email,
        person.phone,
        household,
        person.created_at,
        person.truth,
        person.kind,
    )


# --- writing ---------------------------------------------------------------------------------


def entities(population: Population) -> tuple[list[Household], list[Person]]:
    """The population as entities (households first: people refer to them)."""
    households = [
        Household(
            household_id=key, household_name=name, version=1, created_at=EPOCH, updated_at=EPOCH
        )
        for key, name in population.households.items()
    ]
    people = [
        Person(
            person_id=p.person_id,
            full_name=p.full_name,
            primary_email=p.email,
            primary_phone=p.phone,
            household_id=p.household_id,
            version=1,
            created_at=p.created_at,
            updated_at=p.created_at,
        )
        for p in population.people
    ]
    return households, people


def add_to(velocity: Velocity, population: Population) -> None:
    """Write the population through a unit of work (for tests: thousands, not millions)."""
    households, people = entities(population)
    with unit_of_work(velocity) as uow:
        uow.crm.households.add_many(households)
        for start in range(0, len(people), 2000):
            uow.crm.people.add_many(people[start : start + 2000])
        uow.commit()


def _lines(population: Population) -> Iterator[str]:
    for p in population.people:
        at = p.created_at.isoformat()
        email = "\\N" if p.email is None else p.email
        phone = "\\N" if p.phone is None else p.phone
        household = "\\N" if p.household_id is None else str(p.household_id)
        yield (
            f"{p.person_id}\t{p.full_name}\t{p.normalized_name}\t{email}\t{phone}\t{{}}\t"
            f"{household}\t1\t{at}\t{at}\n"
        )


def copy_into(conn: psycopg.Connection[tuple[object, ...]], population: Population) -> None:
    """COPY the households and the people into their tables (one transaction, not committed)."""
    epoch = EPOCH.isoformat()
    with conn.cursor() as cur:
        with cur.copy(f"COPY crm_households ({HOUSEHOLD_COLUMNS}) FROM STDIN") as copy:
            for key, name in population.households.items():
                copy.write(f"{key}\t{name}\t1\t{epoch}\t{epoch}\n")
        with cur.copy(f"COPY crm_people ({PEOPLE_COLUMNS}) FROM STDIN") as copy:
            chunk: list[str] = []
            for line in _lines(population):
                chunk.append(line)
                if len(chunk) == 20_000:
                    copy.write("".join(chunk))
                    chunk.clear()
            copy.write("".join(chunk))
