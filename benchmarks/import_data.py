"""Data for the import measure: a database of existing people and a HubSpot-like contacts file.

The database is created and migrated as ``datagen`` does; three users are
made through ``velocity.users`` (an admin, a sales manager who submits the
file and an operator who reviews it), and the existing people are streamed
in with COPY, already normalised (names from ``names.py``, lower-case emails,
``+91`` phones from the 7-9 range), then ``VACUUM ANALYZE``.

The file has HubSpot's column names for the fields the mapping suggester
knows. A third of its rows (at most one per existing person) are people the
database already holds, found by email or by phone: half of them change
something (a new phone, or another name), so matching makes them updates;
the other half bring nothing new, so they are unchanged. The rest are new
people with emails and phones nobody holds (phones from the 6 range). Every
row also carries its normalised values, for the raw COPY baseline.
"""

from __future__ import annotations

import csv
import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import psycopg
from psycopg import sql

from benchmarks import names
from benchmarks.datagen import (
    BENCH_DOMAIN,
    COLUMNS,
    Clockwork,
    bulk_loading,
    conninfo,
    database_url,
    person_name,
    phone_of,
    progress,
    recreate_database,
)
from velocity_domain import Velocity
from velocity_domain.access.principal import Principal
from velocity_domain.adapters.postgres import migrate
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.normalize import normalize_email, normalize_name, normalize_phone

SOURCE_SYSTEM = "hubspot_bench"
ADMIN_EMAIL = f"import.admin@{BENCH_DOMAIN}"
SUBMITTER_EMAIL = f"import.manager@{BENCH_DOMAIN}"
REVIEWER_EMAIL = f"import.operator@{BENCH_DOMAIN}"
HEADER = ("Record ID", "First Name", "Last Name", "Email", "Phone Number", "Lead Status")
#: HubSpot's lead status labels, as its exports spell them.
LEAD_STATUSES = ("New", "Open", "In Progress", "Open Deal", "Unqualified", "Connected")
DUPLICATE_SHARE = 1 / 3
# New phones: +91 then 6xxxxxxxxx, an affine permutation of a counter (never repeats).
NEW_PHONE_BASE = 6_000_000_000
NEW_PHONE_SPAN = 1_000_000_000
NEW_PHONE_STEP = 2_654_435_761  # coprime with NEW_PHONE_SPAN
RECORD_ID_BASE = 51_000_000_000


@dataclass(frozen=True)
class ImportStaff:
    """Who acts in the import measure."""

    admin_id: UUID
    submitter_id: UUID
    reviewer_id: UUID


@dataclass(frozen=True)
class Existing:
    """A person the database holds before the import (already normalised)."""

    full_name: str
    normalized_name: str
    email: str
    phone: str


@dataclass(frozen=True)
class FileRow:
    """One row of the file: its cells, what the generator meant it to be, its normalised values."""

    record_id: str
    first: str
    last: str
    email_cell: str
    phone_cell: str
    status: str
    kind: str  # new, update or unchanged: what matching should make of it
    full_name: str
    normalized_name: str
    email: str | None
    phone: str | None

    def cells(self) -> tuple[str, ...]:
        """The row as the file holds it (in ``HEADER`` order)."""
        return (
            self.record_id,
            self.first,
            self.last,
            self.email_cell,
            self.phone_cell,
            self.status,
        )


# --- the database ----------------------------------------------------------------------------


def create_staff(url: str) -> ImportStaff:
    """An admin, a sales manager (submits) and an operator (reviews), through the library."""
    with Velocity.from_url(url) as velocity:
        admin_user, admin = velocity.users.create_first_admin(
            email=ADMIN_EMAIL, display_name="Import Bench Admin"
        )
        manager = velocity.users.create(
            admin,
            email=SUBMITTER_EMAIL,
            display_name="Import Bench Manager",
            roles=["sales_manager"],
        )
        operator = velocity.users.create(
            admin, email=REVIEWER_EMAIL, display_name="Import Bench Operator", roles=["operator"]
        )
    return ImportStaff(admin_user.key, manager.key, operator.key)


def principals(velocity: Velocity, staff: ImportStaff) -> tuple[Principal, Principal]:
    """The submitter's and the reviewer's principals."""
    system = Principal.system("velocity-bench-import")
    return (
        velocity.users.principal_for(system, staff.submitter_id),
        velocity.users.principal_for(system, staff.reviewer_id),
    )


def existing_people(count: int, seed: int) -> list[Existing]:
    """The people the database holds before the import, each with an email and a phone."""
    rng = random.Random(seed)
    people: list[Existing] = []
    for i in range(count):
        full, norm, first, last = person_name(rng)
        domain = names.EMAIL_DOMAINS[int(rng.random() * len(names.EMAIL_DOMAINS))]
        people.append(Existing(full, norm, f"{first}.{last}{i}@{domain}", phone_of(i)))
    for person in people[:500]:  # the library would store exactly these values
        assert normalize_name(person.full_name) == person.normalized_name, person
        assert normalize_email(person.email) == person.email, person
        assert normalize_phone(person.phone) == person.phone, person
    return people


def _people_lines(people: list[Existing], seed: int) -> Iterator[str]:
    clock = Clockwork(random.Random(seed + 1))
    for person in people:
        _, _, created = clock.pick()
        yield (
            f"{new_id()}\t{person.full_name}\t{person.normalized_name}\t{person.email}\t"
            f"{person.phone}\t{{}}\t\\N\t\\N\t1\t{created}\t{created}\n"
        )


def load_people(url: str, people: list[Existing], seed: int) -> None:
    """COPY ``people`` into ``crm_people`` (its secondary indexes rebuilt after), then analyse."""
    started = time.monotonic()
    with bulk_loading(url, ("crm_people",)) as cur:
        cur.execute("TRUNCATE crm_people CASCADE")
        statement = f"COPY crm_people ({COLUMNS['crm_people']}) FROM STDIN WITH (FREEZE)"
        with cur.copy(statement) as copy:
            chunk: list[str] = []
            for line in _people_lines(people, seed):
                chunk.append(line)
                if len(chunk) == 20_000:
                    copy.write("".join(chunk))
                    chunk.clear()
            copy.write("".join(chunk))
    progress(f"  loaded {len(people):,} existing people in {time.monotonic() - started:.1f}s")


def prepare(server_url: str, name: str, people: list[Existing], seed: int) -> ImportStaff:
    """Create database ``name`` afresh, migrate it, add the staff and the existing people."""
    url = database_url(server_url, name)
    progress(f"creating database {name} and migrating it")
    recreate_database(server_url, name)
    migrate.upgrade(url)
    staff = create_staff(url)
    load_people(url, people, seed)
    return staff


def clone(server_url: str, source: str, target: str) -> None:
    """Make database ``target`` a copy of ``source`` (``CREATE DATABASE ... TEMPLATE``)."""
    drop(server_url, target)
    with psycopg.connect(conninfo(server_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(target), sql.Identifier(source)
            )
        )


def drop(server_url: str, name: str) -> None:
    """Drop database ``name`` if it exists."""
    with psycopg.connect(conninfo(server_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# --- the file --------------------------------------------------------------------------------


def _phone_cell(phone: str, roll: float) -> str:
    """``+91XXXXXXXXXX`` as people type it: spaced, with a trunk 0, bare, or as stored."""
    digits = phone[3:]
    if roll < 0.4:
        return f"+91 {digits[:5]} {digits[5:]}"
    if roll < 0.6:
        return f"0{digits[:5]} {digits[5:]}"
    if roll < 0.8:
        return digits
    return phone


def _email_cell(email: str, roll: float) -> str:
    """One email in ten as a person typed it (capitalised), the rest lower case."""
    return email.title() if roll < 0.1 else email


def _split(full: str) -> tuple[str, str]:
    """First Name and Last Name cells of a generated full name (the last word is the surname)."""
    first, _, last = full.rpartition(" ")
    return first, last


class Rows:
    """The rows of one file, generated lazily and deterministically from ``seed``."""

    def __init__(self, people: list[Existing], rows: int, seed: int) -> None:
        self.people = people
        self.rows = rows
        self.rng = random.Random(seed)
        duplicates = min(int(rows * DUPLICATE_SHARE), len(people))
        self.duplicates = dict(
            zip(
                sorted(self.rng.sample(range(rows), duplicates)),
                self.rng.sample(range(len(people)), duplicates),
                strict=True,
            )
        )
        self.phones = 0

    def _new_phone(self) -> str:
        n, self.phones = self.phones, self.phones + 1
        return f"+91{NEW_PHONE_BASE + (n * NEW_PHONE_STEP + 777) % NEW_PHONE_SPAN}"

    def _row(self, i: int, full: str, email: str | None, phone: str | None, kind: str) -> FileRow:
        rng = self.rng
        first, last = _split(full)
        return FileRow(
            record_id=str(RECORD_ID_BASE + i),
            first=first,
            last=last,
            email_cell="" if email is None else _email_cell(email, rng.random()),
            phone_cell="" if phone is None else _phone_cell(phone, rng.random()),
            status=LEAD_STATUSES[int(rng.random() * len(LEAD_STATUSES))],
            kind=kind,
            full_name=full,
            normalized_name=normalize_name(full),
            email=email,
            phone=phone,
        )

    def _duplicate(self, i: int, person: Existing) -> FileRow:
        roll = self.rng.random()
        if roll < 0.25:  # by email, the same person
            return self._row(i, person.full_name, person.email, person.phone, "unchanged")
        if roll < 0.5:  # by email, with a new phone
            return self._row(i, person.full_name, person.email, self._new_phone(), "update")
        if roll < 0.75:  # by phone alone, the same name
            return self._row(i, person.full_name, None, person.phone, "unchanged")
        while True:  # by phone alone, under another name: a family phone, for review
            full, norm, _, _ = person_name(self.rng)
            if norm != person.normalized_name:
                return self._row(i, full, None, person.phone, "duplicate")

    def _new(self, i: int) -> FileRow:
        rng = self.rng
        full, _, first, last = person_name(rng)
        domain = names.EMAIL_DOMAINS[int(rng.random() * len(names.EMAIL_DOMAINS))]
        roll = rng.random()
        email = None if roll < 0.1 else f"{last}{i}.{first[0]}@{domain}"
        phone = None if 0.1 <= roll < 0.15 else self._new_phone()
        return self._row(i, full, email, phone, "new")

    def __iter__(self) -> Iterator[FileRow]:
        for i in range(self.rows):
            person = self.duplicates.get(i)
            yield self._new(i) if person is None else self._duplicate(i, self.people[person])


def write_csv(path: Path, rows: Iterable[FileRow]) -> Counter[str]:
    """Write ``rows`` as a CSV file with ``HEADER``; count the rows of each kind."""
    kinds: Counter[str] = Counter()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow(row.cells())
            kinds[row.kind] += 1
    return kinds


def check_rows(rows: list[FileRow]) -> None:
    """The normalised values are what the library makes of the cells (on a sample)."""
    for row in rows[:2000]:
        assert normalize_name(f"{row.first} {row.last}") == row.normalized_name, row
        if row.email is not None:
            assert normalize_email(row.email_cell) == row.email, row
        if row.phone is not None:
            assert normalize_phone(row.phone_cell) == row.phone, row


def find_staff(url: str) -> ImportStaff:
    """The staff :func:`create_staff` made, found by their emails."""
    emails = [ADMIN_EMAIL, SUBMITTER_EMAIL, REVIEWER_EMAIL]
    with psycopg.connect(conninfo(url)) as conn:
        rows = conn.execute(
            "SELECT email, user_id FROM core_users WHERE email = ANY(%s)", (emails,)
        ).fetchall()
    ids: dict[str, UUID] = dict(rows)
    missing = [e for e in emails if e not in ids]
    if missing:
        raise RuntimeError(f"import benchmark users missing: {', '.join(missing)}")
    return ImportStaff(ids[ADMIN_EMAIL], ids[SUBMITTER_EMAIL], ids[REVIEWER_EMAIL])
