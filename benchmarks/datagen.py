"""Generate the benchmark database: migrated by the library, staffed through it, filled by COPY.

The users (an admin, an operator, a few sales agents) are created through
``velocity.users``, so their rows and role links are the library's own. The
bulk rows (people, leads, opportunities, interactions) are streamed as COPY
text straight into their tables, already in the form the entity classes
produce: UUIDv7 ids from ``new_id``, normalised names, lower-case emails, E.164
phones, UTC timestamps, version 1. Nothing is validated row by row; instead a
sample is read back through the library and rebuilt with its validators
(:func:`check_sample`).

To load fast, the load transaction truncates the (empty) tables and copies
with ``FREEZE``, their secondary indexes are dropped first and rebuilt
afterwards from their own definitions, and foreign-key triggers are skipped
(``session_replication_role = replica``; the rows are consistent by
construction). Everything ends with ``VACUUM ANALYZE``.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import attrs
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from benchmarks import names
from velocity_domain import Velocity
from velocity_domain.access.principal import Principal
from velocity_domain.adapters.postgres import migrate
from velocity_domain.crm.entities import Lead, Opportunity, Person
from velocity_domain.intel.entities import Channel, Direction, Interaction, InteractionType
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.normalize import normalize_email, normalize_name, normalize_phone
from velocity_domain.testing import unit_of_work

BENCH_DOMAIN = "velocity-bench.example"
TIMELINE_EMAIL = f"timeline.client@{BENCH_DOMAIN}"
ADMIN_EMAIL = f"admin@{BENCH_DOMAIN}"
OPERATOR_EMAIL = f"operator@{BENCH_DOMAIN}"
LOADED_TABLES = ("crm_people", "crm_leads", "crm_opportunities", "intel_interactions")
CHUNK_ROWS = 20_000
# Phones of generated people: +91 then 7xxxxxxxxx..9xxxxxxxxx, one per person (an affine
# permutation of the index, so they look random and never repeat). Creates use 6xxxxxxxxx.
PHONE_BASE = 7_000_000_000
PHONE_SPAN = 3_000_000_000
PHONE_STEP = 2_654_435_761  # coprime with PHONE_SPAN
EPOCH = date(2023, 1, 1)
DAYS = 3 * 365


@dataclass(frozen=True)
class Sizes:
    """How many rows of each kind the database holds."""

    people: int
    leads: int
    opportunities: int
    interactions: int
    agents: int = 5
    agent_share: float = 0.04
    timeline_interactions: int = 2000

    @classmethod
    def for_people(cls, people: int) -> Sizes:
        """The default proportions: 0.3 leads, 0.1 opportunities, 5 interactions per person."""
        if people < 1000:
            raise ValueError("--people must be at least 1000")
        return cls(people, people * 3 // 10, people // 10, people * 5)

    def describe(self) -> str:
        """One line for the report."""
        return (
            f"{self.people:,} people, {self.leads:,} leads, {self.opportunities:,} opportunities,"
            f" {self.interactions:,} interactions; {self.agents} sales agents holding"
            f" {self.agent_share:.0%} of leads and opportunities each; one client with"
            f" {self.timeline_interactions:,} interactions"
        )

    def marker(self) -> str:
        """What the database comment says once these sizes were loaded."""
        return (
            f"velocity_bench people={self.people} leads={self.leads}"
            f" opportunities={self.opportunities} interactions={self.interactions}"
            f" agents={self.agents}"
        )


@dataclass(frozen=True)
class Staff:
    """The users the benchmark acts as."""

    admin_id: UUID
    operator_id: UUID
    agent_ids: tuple[UUID, ...]


def progress(message: str) -> None:
    """Print a progress line at once."""
    print(message, file=sys.stderr, flush=True)


# --- databases ---------------------------------------------------------------------------


def database_url(server_url: str, name: str) -> str:
    """``server_url`` pointed at database ``name``."""
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def conninfo(url: str) -> str:
    """A libpq URI psycopg accepts (without SQLAlchemy's ``+driver``)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def recreate_database(server_url: str, name: str) -> None:
    """Drop database ``name`` if present and create it empty."""
    with psycopg.connect(conninfo(server_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_comment(server_url: str, name: str) -> str | None:
    """The comment on database ``name``; ``None`` when it does not exist or has none."""
    with psycopg.connect(conninfo(server_url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    return None if row is None else row[0]


def reusable(server_url: str, name: str, sizes: Sizes) -> tuple[bool, str]:
    """Whether database ``name`` already holds ``sizes`` (its marker and its row counts)."""
    marker = database_comment(server_url, name)
    if marker != sizes.marker():
        return False, f"database {name} holds {marker or 'no benchmark data'}"
    with psycopg.connect(conninfo(database_url(server_url, name))) as conn:
        counts = {
            table: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()[0]  # type: ignore[index]
            for table in LOADED_TABLES
        }
    exact = {
        "crm_leads": sizes.leads,
        "crm_opportunities": sizes.opportunities,
        "intel_interactions": sizes.interactions,
    }
    for table, wanted in exact.items():
        if counts[table] != wanted:
            return False, f"{table} holds {counts[table]:,} rows, not {wanted:,}"
    if counts["crm_people"] < sizes.people:  # the create measure adds people
        return False, f"crm_people holds {counts['crm_people']:,} rows, fewer than {sizes.people:,}"
    return True, f"database {name} already holds {sizes.describe()}"


TRIGRAM_COLUMNS = ("normalized_name", "primary_email", "primary_phone")


@contextmanager
def trigram_indexes(url: str) -> Iterator[str]:
    """pg_trgm GIN indexes for the raw search baseline, only while the block runs.

    They exist for the raw query alone, so they are dropped again afterwards:
    the write measures then see the library's own schema. Yields what the
    baseline can use, for the report.
    """
    made: list[str] = []
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except psycopg.Error as exc:
            yield f"no pg_trgm ({exc.diag.message_primary}): the raw search scans"
            return
        started = time.monotonic()
        conn.execute("SET maintenance_work_mem = '512MB'")
        for column in TRIGRAM_COLUMNS:
            name = f"bench_trgm_people_{column}"
            conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(
                sql.SQL("CREATE INDEX {} ON crm_people USING gin ({} gin_trgm_ops)").format(
                    sql.Identifier(name), sql.Identifier(column)
                )
            )
            made.append(name)
        conn.execute("ANALYZE crm_people")
        seconds = time.monotonic() - started
        progress(f"  built pg_trgm indexes for the raw search in {seconds:.0f}s")
        try:
            yield (
                "pg_trgm GIN indexes on name, email and phone, built for this measure"
                f" ({seconds:.0f}s) and dropped after it"
            )
        finally:
            for name in made:
                conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))


# --- staff, through the library -------------------------------------------------------------


def agent_email(n: int) -> str:
    """The email of sales agent ``n`` (from 1)."""
    return f"agent{n}@{BENCH_DOMAIN}"


def create_staff(url: str, agents: int) -> Staff:
    """An admin, an operator and ``agents`` sales agents, created through ``velocity.users``."""
    with Velocity.from_url(url) as velocity:
        admin_user, admin = velocity.users.create_first_admin(
            email=ADMIN_EMAIL, display_name="Bench Admin"
        )
        operator = velocity.users.create(
            admin, email=OPERATOR_EMAIL, display_name="Bench Operator", roles=["operator"]
        )
        agent_ids = tuple(
            velocity.users.create(
                admin,
                email=agent_email(n),
                display_name=f"Bench Agent {n}",
                roles=["sales_agent"],
            ).key
            for n in range(1, agents + 1)
        )
    return Staff(admin_user.key, operator.key, agent_ids)


def find_staff(url: str, agents: int) -> Staff:
    """The staff :func:`create_staff` made, found by their emails."""
    emails = [ADMIN_EMAIL, OPERATOR_EMAIL, *(agent_email(n) for n in range(1, agents + 1))]
    with psycopg.connect(conninfo(url)) as conn:
        rows = conn.execute(
            "SELECT email, user_id FROM core_users WHERE email = ANY(%s)", (emails,)
        ).fetchall()
    ids: dict[str, UUID] = dict(rows)
    missing = [e for e in emails if e not in ids]
    if missing:
        raise RuntimeError(f"benchmark users missing: {', '.join(missing)}")
    return Staff(ids[ADMIN_EMAIL], ids[OPERATOR_EMAIL], tuple(ids[e] for e in emails[2:]))


def principals(velocity: Velocity, staff: Staff) -> tuple[Principal, Principal, list[Principal]]:
    """The admin's, the operator's and each agent's principal."""
    system = Principal.system("velocity-bench")
    admin = velocity.users.principal_for(system, staff.admin_id)
    operator = velocity.users.principal_for(system, staff.operator_id)
    agents = [velocity.users.principal_for(system, a) for a in staff.agent_ids]
    return admin, operator, agents


# --- rows ------------------------------------------------------------------------------------


class Clockwork:
    """Cheap random UTC timestamps over three years (from ``first_day``), as PostgreSQL text."""

    def __init__(self, rng: random.Random, first_day: date = EPOCH) -> None:
        self.rng = rng
        self.days = [(first_day + timedelta(days=d)).isoformat() for d in range(DAYS + 1)]
        self.seconds = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]

    def at(self, day: int, second: int) -> str:
        """The timestamp ``second`` into day ``day``."""
        return f"{self.days[day]} {self.seconds[second]}+00"

    def pick(self) -> tuple[int, int, str]:
        """A random moment: its day, its second of the day and its text."""
        day = int(self.rng.random() * DAYS)
        second = int(self.rng.random() * 86400)
        return day, second, self.at(day, second)


def person_name(rng: random.Random) -> tuple[str, str, str, str]:
    """A full name, its normalised form, and the first and last name (lower case)."""
    first = names.FIRST_NAMES[int(rng.random() * len(names.FIRST_NAMES))]
    last = names.SURNAMES[int(rng.random() * len(names.SURNAMES))]
    lower_first, lower_last = first.lower(), last.lower()
    roll = rng.random()
    if roll < 0.06:
        title = names.HONORIFICS[int(rng.random() * len(names.HONORIFICS))]
        return f"{title} {first} {last}", f"{lower_first} {lower_last}", lower_first, lower_last
    if roll < 0.16:
        initial = names.INITIALS[int(rng.random() * len(names.INITIALS))]
        full = f"{first} {initial}. {last}"
        return full, f"{lower_first} {initial.lower()} {lower_last}", lower_first, lower_last
    return f"{first} {last}", f"{lower_first} {lower_last}", lower_first, lower_last


def phone_of(index: int) -> str:
    """The E.164 phone of generated person ``index``."""
    return f"+91{PHONE_BASE + (index * PHONE_STEP + 12345) % PHONE_SPAN}"


def _people(sizes: Sizes, ids: list[str], timeline: int, rng: random.Random) -> Iterator[str]:
    clock = Clockwork(rng)
    for i, pid in enumerate(ids):
        full, norm, first, last = person_name(rng)
        roll = rng.random()
        if i == timeline:
            email = TIMELINE_EMAIL
        elif roll < 0.75:
            domain = names.EMAIL_DOMAINS[int(rng.random() * len(names.EMAIL_DOMAINS))]
            email = f"{first}.{last}{i}@{domain}"
        else:
            email = "\\N"
        phone = phone_of(i) if roll < 0.9 or i == timeline else "\\N"
        if i < 2000:
            _check_person(full, norm, email, phone)
        kind = rng.random()
        labels = "{}" if kind < 0.6 else ("{buyer}" if kind < 0.85 else "{investor}")
        source = f"legacy_crm\tP{i:08d}" if rng.random() < 0.3 else "\\N\t\\N"
        _, _, created = clock.pick()
        yield (
            f"{pid}\t{full}\t{norm}\t{email}\t{phone}\t{labels}\t{source}\t1\t"
            f"{created}\t{created}\n"
        )


def _check_person(full: str, norm: str, email: str, phone: str) -> None:
    """The library would normalise these exactly as generated (run on a sample)."""
    assert normalize_name(full) == norm, (full, norm)
    if email != "\\N":
        assert normalize_email(email) == email, email
    if phone != "\\N":
        assert normalize_phone(phone) == phone, phone


_LEAD_STATES = (
    ("open", "new"),
    ("open", "contacted"),
    ("open", "contacted"),
    ("qualified", "site_visit_scheduled"),
    ("qualified", "site_visit_done"),
    ("disqualified", "new"),
)
_URGENCY = ("low", "medium", "high", "immediate", "\\N")


def _assignee(rng: random.Random, sizes: Sizes, agents: list[str]) -> str:
    slot = int(rng.random() / sizes.agent_share)
    return agents[slot] if slot < len(agents) else "\\N"


def _leads(sizes: Sizes, people: list[str], agents: list[str], rng: random.Random) -> Iterator[str]:
    clock = Clockwork(rng)
    n = len(people)
    for i in range(sizes.leads):
        person = people[int(rng.random() * n)]
        source = names.LEAD_SOURCES[int(rng.random() * len(names.LEAD_SOURCES))]
        ref = f"{source}-{i}" if rng.random() < 0.5 else "\\N"
        status, stage = _LEAD_STATES[int(rng.random() * len(_LEAD_STATES))]
        band = names.BUDGET_BANDS[int(rng.random() * len(names.BUDGET_BANDS))]
        urgency = _URGENCY[int(rng.random() * len(_URGENCY))]
        _, _, created = clock.pick()
        yield (
            f"{new_id()}\t{person}\t{source}\t{ref}\t{status}\t{stage}\t{band}\t{urgency}\t"
            f"{_assignee(rng, sizes, agents)}\t1\t{created}\t{created}\n"
        )


_STAGES = (
    *("new",) * 4,
    *("contacted",) * 4,
    *("site_visit_scheduled",) * 3,
    *("site_visit_done",) * 3,
    *("negotiation",) * 2,
    "booking",
    "won",
    "lost",
)


def _opportunities(
    sizes: Sizes, people: list[str], agents: list[str], rng: random.Random
) -> Iterator[str]:
    clock = Clockwork(rng)
    n = len(people)
    for _ in range(sizes.opportunities):
        person = people[int(rng.random() * n)]
        stage = _STAGES[int(rng.random() * len(_STAGES))]
        value = 4_000_000 + int(rng.random() * 46_000) * 1000
        probability = f"0.{5 + int(rng.random() * 90):02d}"
        day, second, created = clock.pick()
        close = (EPOCH + timedelta(days=day + 30 + int(rng.random() * 150))).isoformat()
        action = names.NEXT_ACTIONS[int(rng.random() * len(names.NEXT_ACTIONS))]
        lost = "Budget mismatch" if stage == "lost" else "\\N"
        closed = clock.at(min(day + 20, DAYS), second) if stage in ("won", "lost") else "\\N"
        updated = created if closed == "\\N" else closed
        yield (
            f"{new_id()}\t{person}\t{stage}\t{value}.00\tINR\t{probability}\t{close}\t{action}\t"
            f"{_assignee(rng, sizes, agents)}\t{lost}\t{closed}\t1\t{created}\t{updated}\n"
        )


_CHANNELS = tuple(c.value for c in Channel)
_TYPES = tuple(t.value for t in InteractionType)
_DIRECTIONS = (*(d.value for d in Direction), "\\N")


def _interactions(
    sizes: Sizes, people: list[str], timeline: int, agents: list[str], rng: random.Random
) -> Iterator[str]:
    """The timeline client's interactions first, then everyone else's, spread at random."""
    clock = Clockwork(rng)
    rand, n = rng.random, len(people)
    days, seconds = clock.days, clock.seconds
    channels, types, directions = _CHANNELS, _TYPES, _DIRECTIONS
    summaries, recorders = names.SUMMARIES, [*agents, "\\N"]
    for i in range(sizes.interactions):
        if i < sizes.timeline_interactions:
            who = timeline
        else:
            who = int(rand() * n)
            if who == timeline:  # keep the timeline client at exactly its share
                who = (who + 1) % n
        day, second = int(rand() * DAYS), int(rand() * 86400)
        when = f"{days[day]} {seconds[second]}+00"
        recorded = f"{days[day]} {seconds[min(second + 300, 86399)]}+00"
        yield (
            f"{new_id()}\t{people[who]}\t{channels[int(rand() * len(channels))]}\t"
            f"{types[int(rand() * len(types))]}\t{directions[int(rand() * len(directions))]}\t"
            f"{when}\t{summaries[int(rand() * len(summaries))]}\t"
            f"{recorders[int(rand() * len(recorders))]}\t{recorded}\n"
        )


COLUMNS = {
    "crm_people": "person_id, full_name, normalized_name, primary_email, primary_phone,"
    " persona_labels, source_system, source_ref, version, created_at, updated_at",
    "crm_leads": "lead_id, person_id, source_system, source_ref, status, stage, budget_band,"
    " urgency, assigned_user_id, version, created_at, updated_at",
    "crm_opportunities": "opportunity_id, person_id, stage, value, currency, probability,"
    " expected_close_date, next_action, assigned_user_id, lost_reason, closed_at, version,"
    " created_at, updated_at",
    "intel_interactions": "interaction_id, person_id, channel, interaction_type, direction,"
    " happened_at, summary, recorded_by_user_id, recorded_at",
}


def copy_rows(
    cur: psycopg.Cursor[Any],
    table: str,
    lines: Iterable[str],
    total: int,
    columns: str | None = None,
) -> None:
    """Stream COPY text ``lines`` into ``table`` with COPY FREEZE, reporting progress.

    ``columns`` names the columns of a line (default: this module's ``COLUMNS[table]``).
    """
    started = time.monotonic()
    statement = f"COPY {table} ({columns or COLUMNS[table]}) FROM STDIN WITH (FREEZE)"
    done, step = 0, max(total // 10, 1)
    chunk: list[str] = []
    with cur.copy(statement) as copy:
        for line in lines:
            chunk.append(line)
            if len(chunk) == CHUNK_ROWS:
                copy.write("".join(chunk))
                done += len(chunk)
                chunk.clear()
                if done // step != (done - CHUNK_ROWS) // step:
                    rate = done / (time.monotonic() - started)
                    progress(f"  {table}: {done:,}/{total:,} rows ({rate:,.0f} rows/s)")
        if chunk:
            copy.write("".join(chunk))
            done += len(chunk)
    progress(f"  {table}: {done:,} rows in {time.monotonic() - started:.1f}s")


@contextmanager
def bulk_loading(
    url: str, tables: Sequence[str], *, superuser: bool = False
) -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
    """A cursor to COPY into ``tables`` with their secondary indexes dropped meanwhile.

    On leaving, the load is committed, every dropped index is built again
    from its definition (read back from ``pg_indexes``) and the database is
    vacuumed and analysed. ``superuser`` turns foreign-key triggers off for
    the load where the role may.
    """
    with psycopg.connect(conninfo(url)) as conn, conn.cursor() as cur:
        if superuser:
            try:
                cur.execute("SET session_replication_role = replica")
            except psycopg.Error:
                conn.rollback()
                progress("  (not a superuser: foreign keys are checked row by row; slower)")
        cur.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i"
            " WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            (list(tables),),
        )
        indexes = [(str(name), str(ddl)) for name, ddl in cur.fetchall()]
        for name, _ in indexes:
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        yield cur
        conn.commit()
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        for name, ddl in indexes:
            started = time.monotonic()
            conn.execute(ddl.encode())  # read back from pg_indexes
            progress(f"  rebuilt index {name} in {time.monotonic() - started:.1f}s")
        started = time.monotonic()
        conn.execute("VACUUM ANALYZE")
        progress(f"  VACUUM ANALYZE in {time.monotonic() - started:.1f}s")


def load(url: str, sizes: Sizes, staff: Staff, seed: int) -> None:
    """Fill the four big tables by COPY, then rebuild their indexes and VACUUM ANALYZE."""
    rng = random.Random(seed)
    agents = [str(a) for a in staff.agent_ids]
    progress(f"generating ids for {sizes.people:,} people")
    people = [str(new_id()) for _ in range(sizes.people)]
    timeline = sizes.people // 2
    with bulk_loading(url, LOADED_TABLES, superuser=True) as cur:
        cur.execute(f"TRUNCATE {', '.join(LOADED_TABLES)} CASCADE")
        copy_rows(cur, "crm_people", _people(sizes, people, timeline, rng), sizes.people)
        copy_rows(cur, "crm_leads", _leads(sizes, people, agents, rng), sizes.leads)
        copy_rows(
            cur,
            "crm_opportunities",
            _opportunities(sizes, people, agents, rng),
            sizes.opportunities,
        )
        copy_rows(
            cur,
            "intel_interactions",
            _interactions(sizes, people, timeline, agents, rng),
            sizes.interactions,
        )


def check_sample(
    url: str, per_table: int = 200, entities: Sequence[type[Entity]] | None = None
) -> None:
    """Read a sample of each loaded table through the library and rebuild it with validation.

    ``attrs.evolve`` runs every validator and normaliser again, so an equal
    result means the stored row is exactly what the entity class produces.
    ``entities`` are the classes whose tables are sampled (default: the four
    tables :func:`load` fills).
    """
    classes = entities or (Person, Lead, Opportunity, Interaction)
    entity: Mapping[str, type[Entity]] = {cls.table_name: cls for cls in classes}
    with psycopg.connect(conninfo(url)) as conn:
        keys = {
            table: [
                row[0]
                for row in conn.execute(
                    sql.SQL("SELECT {} FROM {} TABLESAMPLE SYSTEM (1) LIMIT %s").format(
                        sql.Identifier(cls.key_field), sql.Identifier(table)
                    ),
                    (per_table,),
                )
            ]
            for table, cls in entity.items()
        }
    with Velocity.from_url(url) as velocity, unit_of_work(velocity) as uow:
        for table, ids in keys.items():
            rows = uow.table(entity[table]).get_many(ids)
            assert len(rows) == len(ids), table
            for row in rows.values():
                rebuilt = attrs.evolve(row)
                assert rebuilt == row, (table, row, rebuilt)
    progress(f"  checked {sum(map(len, keys.values()))} sampled rows against the entity classes")


def generate(server_url: str, name: str, sizes: Sizes, seed: int = 7) -> tuple[Staff, float]:
    """Create database ``name`` afresh and fill it; return the staff and the seconds it took."""
    started = time.monotonic()
    url = database_url(server_url, name)
    progress(f"creating database {name} and migrating it")
    recreate_database(server_url, name)
    migrate.upgrade(url)
    staff = create_staff(url, sizes.agents)
    progress(f"loading {sizes.describe()}")
    load(url, sizes, staff, seed)
    check_sample(url)
    mark_database(server_url, name, sizes.marker())
    return staff, time.monotonic() - started


def mark_database(server_url: str, name: str, marker: str) -> None:
    """Record ``marker`` as the comment on database ``name`` (what ``--reuse`` compares)."""
    with psycopg.connect(conninfo(server_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(marker)
            )
        )
