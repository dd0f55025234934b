"""The client graph benchmark's data: N people and everything hanging off them, loaded by COPY.

The shape (per ordinary person, in expectation; see :class:`Shape`):

- people: 80% owned by one of the sales agents (``owner_user_id``), one in
  about nine in a household of 2 to 4 (its head related to the others);
- 0.3 leads, 0.1 opportunities (stages with their stage history, values in
  INR, USD or AED, mostly assigned to the owner, most naming a project and
  some a unit), 0.4 property interests, 0.2 tasks (a third open), 0.05 visits;
- QD: 60% of people have 1 to 6 points over the six score types, and the
  summary each score type's points leave (``intel_qd_scores``, computed by
  the library's own scoring policy from those points, as recording them would);
- interactions: exactly 10 per person on average over every channel, skewed:
  one person in 10,000 (at least one) is a *heavy* client with 2,000 to 3,000
  interactions (and 4 leads, 3 deals, 5 interests, 12 tasks, 8 visits and 600
  QD points: more than the QD query reads), 5% have 20 to 60, 45% have 1 to
  4, the rest share what is left (about 13 each);
- artifacts: 5% of the call, email, message and WhatsApp interactions have
  their call (60% of answered calls with a transcript and its speaker
  segments), email or message row;
- inventory: ``max(10, min(500, N / 2000))`` projects of 40 units; the first
  projects are the most popular.

Heavy client ``k`` has the email ``heavy.client{k}@velocity-bench.example``.

One pass over the people streams them into ``crm_people`` while everything
that hangs off them is written to spool files (COPY text), then copied in
turn; a second pass streams the interactions, generated person by person and
shuffled within windows of :data:`WINDOW` rows so a client's history is
spread over the heap as real arrivals spread it, with ids given in
arrival order. Ids are UUIDv7 made in bulk by :func:`uuid7_texts` (increasing,
an hour before now, so the library's own later ids sort after them). Python
holds per person only the id, the owner and the interaction count.
"""

from __future__ import annotations

import itertools
import json
import random
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

import psycopg

from benchmarks import names
from benchmarks.datagen import (
    BENCH_DOMAIN,
    DAYS,
    Clockwork,
    Staff,
    bulk_loading,
    conninfo,
    copy_rows,
    person_name,
    phone_of,
)
from velocity_domain.crm.entities import (
    Household,
    Lead,
    Opportunity,
    Person,
    PropertyInterest,
    Relationship,
    StageHistory,
)
from velocity_domain.intel.entities import (
    Call,
    Email,
    Interaction,
    Message,
    QdScore,
    QdScoreType,
    QdTimeseriesPoint,
    Reminder,
    SignalSource,
    Transcript,
    Visit,
)
from velocity_domain.intel.qd import QD_MAX, QD_MIN, QdSignal, WeightedDecay, evidence_json
from velocity_domain.inventory.entities import Project, Unit
from velocity_domain.kernel.model import Entity

#: Rows of interactions shuffled together before they get their ids and go to PostgreSQL.
WINDOW = 200_000
HEAVY_EMAIL = "heavy.client{}@" + BENCH_DOMAIN
NULL = "\\N"
_PER_MS = 4096  # ids per millisecond: the 12 bits of rand_a count them
_UNITS_PER_PROJECT = 40
#: Per ordinary person: (cumulative probability, how many) pairs, the largest count first.
_LEADS = ((0.03, 2), (0.27, 1))
_DEALS = ((0.005, 2), (0.095, 1))
_INTERESTS = ((0.05, 2), (0.35, 1))
_TASKS = ((0.025, 2), (0.175, 1))
_VISITS = ((0.05, 1),)
_HEAVY = {"leads": 4, "deals": 3, "interests": 5, "tasks": 12, "visits": 8, "qd": 600}
_QD_SHARE = 0.6

COLUMNS = {
    "inventory_projects": "project_id, project_name, developer_name, city, micro_market, status,"
    " rera_id, launch_date, possession_date, version, created_at, updated_at",
    "inventory_units": "unit_id, project_id, unit_label, tower, configuration, area_sqft,"
    " price_current, currency, status, facing, floor, version, created_at, updated_at",
    "crm_people": "person_id, full_name, normalized_name, primary_email, primary_phone,"
    " persona_labels, household_id, owner_user_id, source_system, source_ref, version,"
    " created_at, updated_at",
    "crm_households": "household_id, household_name, head_person_id, version, created_at,"
    " updated_at",
    "crm_relationships": "relationship_id, from_person_id, to_person_id, kind, since, version,"
    " created_at, updated_at",
    "crm_leads": "lead_id, person_id, source_system, source_ref, status, stage, budget_band,"
    " urgency, assigned_user_id, version, created_at, updated_at",
    "crm_opportunities": "opportunity_id, person_id, project_id, unit_id, stage, value, currency,"
    " probability, expected_close_date, next_action, assigned_user_id, lost_reason, closed_at,"
    " version, created_at, updated_at",
    "crm_stage_history": "stage_history_id, entity_type, entity_id, from_stage, to_stage,"
    " changed_at, changed_by_user_id",
    "crm_property_interests": "property_interest_id, person_id, project_id, unit_id,"
    " configuration, budget_min, budget_max, currency, priority, status, closed_at, version,"
    " created_at, updated_at",
    "intel_reminders": "reminder_id, title, reminder_type, person_id, opportunity_id,"
    " assigned_user_id, created_by_user_id, due_at, snoozed_until, priority, status,"
    " completed_at, version, created_at, updated_at",
    "intel_visits": "visit_id, person_id, opportunity_id, project_id, visit_type, status,"
    " visited_at, host_user_id, version, created_at, updated_at",
    "intel_qd_timeseries": "timeseries_id, person_id, score_type, signal_source, timestamp, value",
    "intel_qd_scores": "qd_id, person_id, score_type, current_value, computed_at,"
    " evidence_refs_json, version, created_at, updated_at",
    "intel_interactions": "interaction_id, person_id, channel, interaction_type, direction,"
    " happened_at, summary, recorded_by_user_id, recorded_at",
    "intel_calls": "call_id, interaction_id, call_direction, outcome, from_phone, to_phone,"
    " agent_user_id, started_at, ended_at, duration_seconds",
    "intel_transcripts": "transcript_id, call_id, language, full_text, speaker_segments_json,"
    " confidence, engine, transcribed_at",
    "intel_emails": "email_id, interaction_id, message_id_header, subject, from_address,"
    " to_addresses, body, sent_at, received_at",
    "intel_messages": "message_id, interaction_id, sender_role, message_text, sent_at,"
    " delivered_at",
}
TABLES = tuple(COLUMNS)
#: The tables written (spooled) beside the people: everything that hangs off a person.
GRAPH_TABLES = (
    "crm_households",
    "crm_relationships",
    "crm_leads",
    "crm_opportunities",
    "crm_stage_history",
    "crm_property_interests",
    "intel_reminders",
    "intel_visits",
    "intel_qd_timeseries",
    "intel_qd_scores",
)
#: The entity class of every loaded table, for the sample read back through the library.
ENTITIES: tuple[type[Entity], ...] = (
    Project,
    Unit,
    Person,
    Household,
    Relationship,
    Lead,
    Opportunity,
    StageHistory,
    PropertyInterest,
    Reminder,
    Visit,
    QdTimeseriesPoint,
    QdScore,
    Interaction,
    Call,
    Transcript,
    Email,
    Message,
)


@dataclass(frozen=True)
class Shape:
    """The size of the generated CRM: ``people`` and what scales with them."""

    people: int
    agents: int = 20

    @classmethod
    def for_people(cls, people: int) -> Shape:
        """The benchmark's shape for ``people`` (at least 1,000)."""
        if people < 1000:
            raise ValueError("--people must be at least 1000")
        return cls(people)

    @property
    def interactions(self) -> int:
        """Ten per person."""
        return self.people * 10

    @property
    def heavy(self) -> int:
        """How many heavy clients (one in 10,000, at least one)."""
        return max(1, self.people // 10_000)

    @property
    def projects(self) -> int:
        """How many projects (of 40 units each)."""
        return max(10, min(500, self.people // 2000))

    def heavy_index(self, k: int) -> int:
        """The person index of heavy client ``k``: spread evenly over the people."""
        stride = self.people // self.heavy
        return k * stride + stride // 2

    def describe(self) -> str:
        """The proportions, for the report."""
        return (
            f"{self.people:,} people ({self.agents} sales agents own 80%; households of 2-4),"
            f" {self.interactions:,} interactions over every channel ({self.heavy:,} heavy"
            " clients with 2,000-3,000 each, 5% with 20-60, 45% with 1-4, the rest ~13);"
            " per person 0.3 leads, 0.1 opportunities (with stage history), 0.4 property"
            " interests, 0.2 tasks, 0.05 visits; QD points for 60% (1-6 each, 600 for heavy"
            " clients) with their summaries; artifacts for 5% of call, email and message"
            f" interactions; {self.projects} projects of {_UNITS_PER_PROJECT} units"
        )

    def marker(self) -> str:
        """What the database comment says once this shape was loaded."""
        return f"velocity_bench client_graph people={self.people} agents={self.agents} v1"


@dataclass
class Stopwatch:
    """The seconds each named phase of the load took, in order."""

    laps: list[tuple[str, float]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def lap(self, label: str) -> None:
        """Close the phase ``label`` (it ran since the previous lap)."""
        now = time.monotonic()
        self.laps.append((label, now - self.started))
        self.started = now

    def total(self) -> float:
        """All phases together."""
        return sum(seconds for _, seconds in self.laps)


def uuid7_texts(rng: random.Random, start_ms: int) -> Iterator[str]:
    """UUIDv7 ids as text, each greater than the one before, about 0.2 microseconds each.

    4,096 ids per millisecond from ``start_ms`` on: the 12-bit ``rand_a`` counts
    within the millisecond and ``rand_b`` is drawn from a rotated pool.
    """
    tails = [
        f"-{0x8000 | rng.getrandbits(14):04x}-{rng.getrandbits(48):012x}" for _ in range(_PER_MS)
    ]
    counters = [f"{n:03x}" for n in range(_PER_MS)]
    ms = start_ms
    while True:
        stamp = f"{ms:012x}"
        head = f"{stamp[:8]}-{stamp[8:]}-7"
        turn = rng.randrange(_PER_MS)
        for counter, tail in zip(counters, tails[turn:] + tails[:turn], strict=True):
            yield head + counter + tail
        ms += 1


class Spool:
    """COPY text for the smaller tables, written to files now and copied in later."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, TextIO] = {}
        self.writers: dict[str, Callable[[str], None]] = {}
        self.rows: Counter[str] = Counter()

    def writer(self, table: str) -> Callable[[str], None]:
        """The function writing one line of ``table`` (its file is made on first use)."""
        if table in self.writers:
            return self.writers[table]
        handle = self.files[table] = (self.folder / f"{table}.copy").open("w+")
        write, rows = handle.write, self.rows

        def add(line: str) -> None:
            write(line)
            rows[table] += 1

        self.writers[table] = add
        return add

    def copy_into(self, cur: psycopg.Cursor[Any]) -> None:
        """COPY every spooled table into PostgreSQL, then forget it."""
        for table, handle in self.files.items():
            handle.seek(0)
            copy_rows(cur, table, handle, self.rows[table], COLUMNS[table])
            handle.close()
        self.files.clear()
        self.writers.clear()


def _count(r: float, table: tuple[tuple[float, int], ...]) -> int:
    for below, how_many in table:
        if r < below:
            return how_many
    return 0


def interaction_counts(shape: Shape, rng: random.Random) -> array[int]:
    """How many interactions each person has: skewed, exactly ``shape.interactions`` in all."""
    rand = rng.random
    counts = array("I", bytes(4 * shape.people))
    heavy = {shape.heavy_index(k) for k in range(shape.heavy)}
    rest: list[int] = []
    for i in range(shape.people):
        roll = rand()
        if i in heavy:
            counts[i] = 2000 + int(rand() * 1001)
        elif roll < 0.05:
            counts[i] = 20 + int(rand() * 41)
        elif roll < 0.50:
            counts[i] = 1 + int(rand() * 4)
        else:
            rest.append(i)
    share = (shape.interactions - sum(counts)) / max(len(rest), 1)
    if share < 2:
        raise ValueError(f"--people {shape.people:,} leaves too few interactions to share")
    for i in rest:
        counts[i] = max(1, int(share * (0.5 + rand())))
    missing = shape.interactions - sum(counts)
    step = 1 if missing > 0 else -1
    k = 0
    while missing:  # one unit at a time over the rest tier, never below one interaction
        i = rest[k % len(rest)]
        if counts[i] + step >= 1:
            counts[i] += step
            missing -= step
        k += 1
    return counts


_STAGES = (
    "new",
    "contacted",
    "site_visit_scheduled",
    "site_visit_done",
    "negotiation",
    "booking",
    "won",
)
#: An opportunity's stage: (cumulative probability, stage); the rest are lost.
_STAGE_ODDS = (
    (0.20, "new"),
    (0.40, "contacted"),
    (0.55, "site_visit_scheduled"),
    (0.70, "site_visit_done"),
    (0.80, "negotiation"),
    (0.85, "booking"),
    (0.92, "won"),
)
_LEAD_STATES = (
    ("open", "new"),
    ("open", "contacted"),
    ("qualified", "site_visit_scheduled"),
    ("qualified", "negotiation"),
    ("disqualified", "lost"),
)
_CURRENCIES = (("INR", 4_000_000, 50_000_000),) * 15 + (
    ("USD", 60_000, 600_000),
    ("AED", 250_000, 2_500_000),
)
_CONFIGURATIONS = ("1BHK", "2BHK", "2BHK", "3BHK", "3BHK", "4BHK")
_TASK_TITLES = (
    "Call back about the revised quote",
    "Send the floor plans",
    "Confirm the site visit",
    "Collect KYC documents",
    "Follow up on the booking amount",
)
_CITIES = (
    ("Kolkata", "New Town"),
    ("Kolkata", "Rajarhat"),
    ("Bengaluru", "Whitefield"),
    ("Pune", "Hinjewadi"),
    ("Mumbai", "Thane West"),
    ("Hyderabad", "Gachibowli"),
)
_DEVELOPERS = ("Skyline Builders", "Merlin Group", "Ambuja Neotia", "Prestige", "Godrej")
_SEGMENTS = json.dumps(
    [
        {"speaker": "agent", "start": 0.0, "end": 6.5, "text": "Good morning, this is Velocity."},
        {"speaker": "client", "start": 6.5, "end": 14.0, "text": "I wanted the 3BHK price."},
        {"speaker": "agent", "start": 14.0, "end": 25.0, "text": "I will send the cost sheet."},
    ]
)
_TRANSCRIPT = "Good morning, this is Velocity. I wanted the 3BHK price. I will send the cost sheet."
_CHANNELS = (
    *("whatsapp",) * 6,
    *("call",) * 5,
    *("message",) * 2,
    *("email",) * 3,
    "visit",
    "meeting",
    *("other",) * 2,
)
_TYPES = {
    "whatsapp": ("enquiry", "follow_up", "follow_up", "broadcast"),
    "message": ("enquiry", "follow_up", "broadcast"),
    "call": ("enquiry", "follow_up", "follow_up", "negotiation"),
    "email": ("enquiry", "follow_up", "booking", "after_sales"),
    "visit": ("site_visit",),
    "meeting": ("negotiation", "booking"),
    "other": ("note", "other"),
}
_OUTCOMES = (*("answered",) * 14, "no_answer", "no_answer", "no_answer", "busy", "voicemail")
_DIRECTIONS = {
    c: (NULL, NULL) if c in ("visit", "meeting") else ("inbound", "outbound") for c in _TYPES
}
_ARTIFACT_CHANNELS = frozenset({"call", "email", "message", "whatsapp"})
#: Nine slots: ``overall`` four times, each other score type once.
_QD_TYPES = ("overall",) * 4 + tuple(t.value for t in QdScoreType if t is not QdScoreType.OVERALL)
_QD_SOURCES = tuple(s.value for s in SignalSource)
_HALF_LIFE = WeightedDecay().half_life.total_seconds()
_CENT = Decimal("0.01")


class Generator:
    """Writes the COPY text of every table, person by person, from one seeded random source."""

    def __init__(self, shape: Shape, staff: Staff, seed: int, spool: Spool) -> None:
        self.shape = shape
        self.rng = random.Random(seed)
        self.rand = self.rng.random
        first_day = datetime.now(UTC).date() - timedelta(days=DAYS)
        self.clock = Clockwork(self.rng, first_day)
        self.start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
        self.first_day = first_day
        self.next_id = uuid7_texts(self.rng, time.time_ns() // 1_000_000 - 3_600_000).__next__
        self.agents = [str(a) for a in staff.agent_ids]
        self.agent_emails = [f"agent{n}@{BENCH_DOMAIN}" for n in range(1, shape.agents + 1)]
        self.spool = spool
        self.people: list[str] = []
        self.owners = array("b")
        self.projects: list[str] = []
        self.units: list[list[str]] = []
        self.household_left = 0
        self.household = self.head = ""
        self.summaries_checked = 0

    # --- small helpers ---------------------------------------------------------------

    def moment(self, after: int = 0) -> tuple[int, int, str]:
        """A random moment on day ``after`` or later: its day, second and text."""
        day = after + int(self.rand() * (DAYS - after))
        second = int(self.rand() * 86400)
        return day, second, self.clock.at(day, second)

    def later(self, day: int, second: int, by_days: int) -> str:
        """The moment ``by_days`` after (``day``, ``second``), at most yesterday."""
        return self.clock.at(min(day + by_days, DAYS - 1), second)

    def pick(self, values: tuple[Any, ...] | list[Any]) -> Any:
        """One of ``values`` at random."""
        return values[int(self.rand() * len(values))]

    def project(self) -> int:
        """A project index; the first projects are the most popular."""
        r = self.rand()
        return int(len(self.projects) * r * r)

    def assignee(self, owner: int) -> str:
        """Who a lead, deal or task goes to: mostly the owner, else another agent or nobody."""
        roll = self.rand()
        if owner >= 0 and roll < 0.85:
            return self.agents[owner]
        return self.pick(self.agents) if roll < 0.95 else NULL

    # --- inventory -------------------------------------------------------------------

    def inventory(self) -> None:
        """The projects and their units (spooled)."""
        projects = self.spool.writer("inventory_projects")
        units = self.spool.writer("inventory_units")
        for n in range(self.shape.projects):
            pid = self.next_id()
            city, market = self.pick(_CITIES)
            launch = self.first_day + timedelta(days=int(self.rand() * 700))
            ready = launch + timedelta(days=700 + int(self.rand() * 500))
            _, _, created = self.moment()
            projects(
                f"{pid}\t{self.pick(names.SURNAMES)} Heights {n + 1}\t{self.pick(_DEVELOPERS)}\t"
                f"{city}\t{market}\tunder_construction\tRERA/P/{n + 1:05d}\t{launch}\t{ready}\t"
                f"1\t{created}\t{created}\n"
            )
            own: list[str] = []
            for k in range(_UNITS_PER_PROJECT):
                uid = self.next_id()
                tower, floor = "AB"[k % 2], 1 + k // 2
                area = 650 + int(self.rand() * 1750)
                price = area * (6000 + int(self.rand() * 6000))
                status = self.pick(("available",) * 3 + ("booked", "sold"))
                units(
                    f"{uid}\t{pid}\t{tower}-{floor:02d}{k % 2 + 1:02d}\t{tower}\t"
                    f"{self.pick(_CONFIGURATIONS)}\t{area}\t{price}.00\tINR\t{status}\t"
                    f"{self.pick(('north', 'east', 'south', 'west', 'north_east'))}\t{floor}\t1\t"
                    f"{created}\t{created}\n"
                )
                own.append(uid)
            self.projects.append(pid)
            self.units.append(own)

    # --- people and what hangs off them --------------------------------------------------

    def people_lines(self) -> Iterator[str]:
        """Every person's row; their households, leads, deals, ... go to the spool meanwhile."""
        shape = self.shape
        heavy = {shape.heavy_index(k): k for k in range(shape.heavy)}
        write = {table: self.spool.writer(table) for table in GRAPH_TABLES}
        for i in range(shape.people):
            pid = self.next_id()
            self.people.append(pid)
            k = heavy.get(i)
            owner = k % shape.agents if k is not None else int(self.rand() / 0.8 * shape.agents)
            owner = owner if owner < shape.agents else -1
            self.owners.append(owner)
            yield self.person(i, pid, owner, k, write)
            self.graph(pid, owner, k is not None, write)

    def person(
        self,
        i: int,
        pid: str,
        owner: int,
        heavy: int | None,
        write: dict[str, Callable[[str], None]],
    ) -> str:
        """One person's row (and their household and relationship, if any)."""
        full, norm, first, last = person_name(self.rng)
        roll = self.rand()
        if heavy is not None:
            email = HEAVY_EMAIL.format(heavy)
        elif roll < 0.75:
            email = f"{first}.{last}{i}@{self.pick(names.EMAIL_DOMAINS)}"
        else:
            email = NULL
        phone = phone_of(i) if roll < 0.9 or heavy is not None else NULL
        day, second, created = self.moment()
        household = self.join_household(pid, last, day, second, write)
        labels = self.pick(("{}", "{}", "{buyer}", "{investor}"))
        source = f"legacy_crm\tP{i:08d}" if self.rand() < 0.3 else f"{NULL}\t{NULL}"
        agent = self.agents[owner] if owner >= 0 else NULL
        return (
            f"{pid}\t{full}\t{norm}\t{email}\t{phone}\t{labels}\t{household}\t{agent}\t{source}\t"
            f"1\t{created}\t{created}\n"
        )

    def join_household(
        self, pid: str, last: str, day: int, second: int, write: dict[str, Callable[[str], None]]
    ) -> str:
        """The household ``pid`` joins (a new one now and then, with ``pid`` its head), or NULL."""
        created = self.clock.at(day, second)
        if self.household_left:
            self.household_left -= 1
            head, household = self.head, self.household
            kind = "spouse" if self.household_left == 0 else self.pick(("child", "parent"))
            since = self.first_day + timedelta(days=day)
            write["crm_relationships"](
                f"{self.next_id()}\t{head}\t{pid}\t{kind}\t{since}\t1\t{created}\t{created}\n"
            )
            return household
        if self.rand() < 0.04:
            self.household, self.head = self.next_id(), pid
            self.household_left = 1 + int(self.rand() * 3)
            write["crm_households"](
                f"{self.household}\t{last} family\t{pid}\t1\t{created}\t{created}\n"
            )
            return self.household
        return NULL

    def graph(
        self, pid: str, owner: int, heavy: bool, write: dict[str, Callable[[str], None]]
    ) -> None:
        """Everything else about one person: leads, deals, interests, tasks, visits, QD."""
        rand = self.rand
        for _ in range(_HEAVY["leads"] if heavy else _count(rand(), _LEADS)):
            self.lead(pid, owner, write["crm_leads"])
        deals = [
            self.deal(pid, owner, write)
            for _ in range(_HEAVY["deals"] if heavy else _count(rand(), _DEALS))
        ]
        for _ in range(_HEAVY["interests"] if heavy else _count(rand(), _INTERESTS)):
            self.interest(pid, write["crm_property_interests"])
        tasks = _HEAVY["tasks"] if heavy else _count(rand(), _TASKS)
        for n in range(tasks):
            self.task(pid, owner, deals, write["intel_reminders"], open_=heavy and n < 8)
        for _ in range(_HEAVY["visits"] if heavy else _count(rand(), _VISITS)):
            self.visit(pid, owner, deals, write["intel_visits"])
        if heavy or rand() < _QD_SHARE:
            points = _HEAVY["qd"] if heavy else 1 + int(rand() * 6)
            self.qd(pid, points, write["intel_qd_timeseries"], write["intel_qd_scores"])

    def lead(self, pid: str, owner: int, write: Callable[[str], None]) -> None:
        status, stage = self.pick(_LEAD_STATES)
        source = self.pick(names.LEAD_SOURCES)
        lid = self.next_id()
        _, _, created = self.moment()
        write(
            f"{lid}\t{pid}\t{source}\t{source}-{lid}\t{status}\t{stage}\t"
            f"{self.pick(names.BUDGET_BANDS)}\t{self.pick(('low', 'medium', 'high', NULL))}\t"
            f"{self.assignee(owner)}\t1\t{created}\t{created}\n"
        )

    def deal(self, pid: str, owner: int, write: dict[str, Callable[[str], None]]) -> str:
        """One opportunity and its stage history; returns its id."""
        oid = self.next_id()
        roll = self.rand()
        stage = next((s for below, s in _STAGE_ODDS if roll < below), "lost")
        currency, low, high = self.pick(_CURRENCIES)
        value = low + int(self.rand() * (high - low) / 1000) * 1000
        project = self.project() if self.rand() < 0.8 else -1
        unit = self.pick(self.units[project]) if project >= 0 and self.rand() < 0.3 else NULL
        day, second, created = self.moment()
        agent = self.assignee(owner)
        closed = self.later(day, second, 90) if stage in ("won", "lost") else NULL
        lost = "Budget mismatch" if stage == "lost" else NULL
        close_on = self.first_day + timedelta(days=day + 30 + int(self.rand() * 150))
        write["crm_opportunities"](
            f"{oid}\t{pid}\t{self.projects[project] if project >= 0 else NULL}\t{unit}\t{stage}\t"
            f"{value}.00\t{currency}\t0.{10 + int(self.rand() * 80)}\t{close_on}\t"
            f"{self.pick(names.NEXT_ACTIONS)}\t{agent}\t{lost}\t{closed}\t1\t{created}\t"
            f"{closed if closed != NULL else created}\n"
        )
        reached = _STAGES.index(stage) if stage != "lost" else int(self.rand() * 5)
        path = [*_STAGES[: reached + 1], *(("lost",) if stage == "lost" else ())]
        moved_by = agent if agent != NULL else self.pick(self.agents)
        for step, (before, after) in enumerate(list(itertools.pairwise(path))[-3:]):
            write["crm_stage_history"](
                f"{self.next_id()}\topportunity\t{oid}\t{before}\t{after}\t"
                f"{self.later(day, second, 10 * (step + 1))}\t{moved_by}\n"
            )
        return oid

    def interest(self, pid: str, write: Callable[[str], None]) -> None:
        project = self.project()
        unit = self.pick(self.units[project]) if self.rand() < 0.2 else NULL
        low = 3_000_000 + int(self.rand() * 200) * 100_000
        day, second, created = self.moment()
        roll = self.rand()
        status = "active" if roll < 0.75 else ("converted" if roll < 0.85 else "closed")
        closed = self.later(day, second, 60) if status == "closed" else NULL
        write(
            f"{self.next_id()}\t{pid}\t{self.projects[project]}\t{unit}\t"
            f"{self.pick(_CONFIGURATIONS)}\t{low}.00\t{low + 2_000_000}.00\tINR\t"
            f"{self.pick(('low', 'medium', 'medium', 'high'))}\t{status}\t{closed}\t1\t"
            f"{created}\t{closed if closed != NULL else created}\n"
        )

    def task(
        self, pid: str, owner: int, deals: list[str], write: Callable[[str], None], *, open_: bool
    ) -> None:
        roll = self.rand()
        status = "open" if open_ or roll < 0.35 else ("completed" if roll < 0.9 else "cancelled")
        day, second, created = self.moment()
        due = self.later(day, second, 3)
        done = self.later(day, second, 4) if status == "completed" else NULL
        snoozed = self.later(day, second, 5) if status == "open" and self.rand() < 0.1 else NULL
        agent = self.assignee(owner)
        agent = agent if agent != NULL else self.pick(self.agents)
        deal = self.pick(deals) if deals and self.rand() < 0.5 else NULL
        write(
            f"{self.next_id()}\t{self.pick(_TASK_TITLES)}\t"
            f"{self.pick(('follow_up', 'call_back', 'site_visit', 'documents', 'payment'))}\t"
            f"{pid}\t{deal}\t{agent}\t{agent}\t{due}\t{snoozed}\t"
            f"{self.pick(('low', 'medium', 'medium', 'high', 'urgent'))}\t{status}\t{done}\t1\t"
            f"{created}\t{done if done != NULL else created}\n"
        )

    def visit(self, pid: str, owner: int, deals: list[str], write: Callable[[str], None]) -> None:
        _, _, at = self.moment()
        host = self.agents[owner] if owner >= 0 else self.pick(self.agents)
        deal = self.pick(deals) if deals else NULL
        status = self.pick(("done", "done", "done", "scheduled", "cancelled", "no_show"))
        write(
            f"{self.next_id()}\t{pid}\t{deal}\t{self.projects[self.project()]}\t"
            f"{self.pick(('site_visit', 'site_visit', 'meeting', 'virtual'))}\t{status}\t{at}\t"
            f"{host}\t1\t{at}\t{at}\n"
        )

    def qd(
        self,
        pid: str,
        points: int,
        write_point: Callable[[str], None],
        write_score: Callable[[str], None],
    ) -> None:
        """``points`` QD points around a level of this person's, and each type's summary.

        The summary of a score type is what the default scoring policy makes of
        its points as of the newest one (:meth:`summary`).
        """
        bits_of, rand, at = self.rng.getrandbits, self.rand, self.clock.at
        level = rand() * 100
        latest: dict[str, dict[str, tuple[int, str, str]]] = {}
        for _ in range(points):
            bits = bits_of(64)
            score_type, source = _QD_TYPES[bits % 9], _QD_SOURCES[(bits >> 4) % 10]
            day, second = (bits >> 8) % DAYS, (bits >> 19) % 86400
            value = f"{min(max(level + (rand() - 0.5) * 30, 0), 100):.2f}"
            tid = self.next_id()
            write_point(f"{tid}\t{pid}\t{score_type}\t{source}\t{at(day, second)}\t{value}\n")
            moment = (day * 86400 + second, tid, value)
            sources = latest.setdefault(score_type, {})
            held = sources.get(source)
            if held is None or moment[:2] > held[:2]:
                sources[source] = moment
        for score_type, sources in latest.items():
            score, stamp, evidence = self.summary(sources)
            write_score(
                f"{self.next_id()}\t{pid}\t{score_type}\t{score}\t{stamp}\t{evidence}\t1\t"
                f"{stamp}\t{stamp}\n"
            )

    def summary(self, sources: dict[str, tuple[int, str, str]]) -> tuple[Decimal, str, str]:
        """A QD summary from the latest point of each source: its value, time and evidence JSON.

        What :class:`~velocity_domain.intel.qd.WeightedDecay` (default weights)
        scores as of the newest point, and its evidence as ``evidence_json``
        writes it, computed without building the library's objects; the first
        summaries are checked against the library itself (:func:`check_summary`).
        """
        newest = max(seconds for seconds, _, _ in sources.values())
        half_life = _HALF_LIFE
        total = weighted = 0.0
        entries = []
        for source in sorted(sources):
            seconds, tid, value = sources[source]
            weight = 1.0 * 0.5 ** (float(newest - seconds) / half_life)
            total += weight
            weighted += weight * float(value)
            entries.append(
                f'{{"timeseries_id": "{tid}", "signal_source": "{source}",'
                f' "timestamp": "{self.iso(seconds)}", "value": "{value}"}}'
            )
        score = Decimal(repr(weighted / total)).quantize(_CENT, ROUND_HALF_EVEN)
        score = min(max(score, QD_MIN), QD_MAX)
        result = (score, self.iso(newest), f"[{', '.join(entries)}]")
        if self.summaries_checked < 2000:
            self.summaries_checked += 1
            check_summary(sources, self.start, result)
        return result

    def iso(self, seconds: int) -> str:
        """The ISO 8601 text of ``seconds`` after the first day, as ``datetime.isoformat``."""
        day, second = divmod(seconds, 86400)
        return f"{self.clock.days[day]}T{self.clock.seconds[second]}+00:00"

    # --- interactions and their artifacts -------------------------------------------------

    def interaction_lines(self, counts: array[int]) -> Iterator[str]:
        """Every interaction, person by person, shuffled within windows; artifacts spooled.

        Each row starts as one integer: 72 random bits above the person's index
        (24 bits). Sorting a window by it shuffles the window (the top bits
        decide), and its low random bits choose the row's channel, time and the
        rest (:meth:`flush`).
        """
        if self.shape.people >= 1 << 24:
            raise ValueError("at most 16,777,215 people")
        bits_of = self.rng.getrandbits
        window: list[int] = []
        for i, count in enumerate(counts):
            window += [bits_of(72) << 24 | i for _ in range(count)]
            if len(window) >= WINDOW:
                yield from self.flush(window)
                window = []
        yield from self.flush(window)

    def flush(self, window: list[int]) -> Iterator[str]:
        """The rows of ``window`` in a random order, each given its id as it goes."""
        window.sort()
        people, owners, agents, next_id = self.people, self.owners, self.agents, self.next_id
        days, seconds, summaries = self.clock.days, self.clock.seconds, names.SUMMARIES
        for key in window:
            i, bits = key & 0xFFFFFF, key >> 24
            channel = _CHANNELS[bits % 20]
            day, second = (bits >> 5) % DAYS, (bits >> 16) % 86400
            bits >>= 33
            kinds = _TYPES[channel]
            direction = _DIRECTIONS[channel][bits & 1]
            owner = owners[i]
            agent = agents[owner] if owner >= 0 and (bits >> 1) % 5 else NULL
            when = f"{days[day]} {seconds[second]}+00"
            iid = next_id()
            if channel in _ARTIFACT_CHANNELS and (bits >> 4) % 20 == 0:
                self.artifact(
                    iid,
                    i,
                    channel,
                    direction=direction,
                    day=day,
                    second=second,
                    agent=max(owner, 0),
                )
            yield (
                f"{iid}\t{people[i]}\t{channel}\t{kinds[(bits >> 9) % len(kinds)]}\t{direction}\t"
                f"{when}\t{summaries[(bits >> 12) % 10]}\t{agent}\t{when}\n"
            )

    def artifact(
        self, iid: str, i: int, channel: str, *, direction: str, day: int, second: int, agent: int
    ) -> None:
        """The call (and transcript), email or message behind interaction ``iid``."""
        when = self.clock.at(day, second)
        inbound = direction == "inbound"
        if channel == "call":
            outcome = self.pick(_OUTCOMES)
            talk = 30 + int(self.rand() * 1200) if outcome == "answered" else 0
            talk = min(talk, 86399 - second)
            ended = self.clock.at(day, second + talk)
            client, desk = phone_of(i), phone_of(self.shape.people + agent)
            caller, called = (client, desk) if inbound else (desk, client)
            cid = self.next_id()
            self.spool.writer("intel_calls")(
                f"{cid}\t{iid}\t{direction}\t{outcome}\t{caller}\t{called}\t{self.agents[agent]}\t"
                f"{when}\t{ended}\t{talk}\n"
            )
            if outcome == "answered" and self.rand() < 0.6:
                self.spool.writer("intel_transcripts")(
                    f"{self.next_id()}\t{cid}\t{self.pick(('en-IN', 'hi-IN'))}\t{_TRANSCRIPT}\t"
                    f"{_SEGMENTS}\t0.{80 + int(self.rand() * 19)}\twhisper-large-v3\t{ended}\n"
                )
        elif channel == "email":
            client = f"client{i}@{self.pick(names.EMAIL_DOMAINS)}"
            desk = self.agent_emails[agent]
            sender, to = (client, desk) if inbound else (desk, client)
            self.spool.writer("intel_emails")(
                f"{self.next_id()}\t{iid}\t<{iid}@mail.{BENCH_DOMAIN}>\tRe: cost sheet\t{sender}\t"
                f"{{{to}}}\tPlease find the cost sheet attached.\t{when}\t{when}\n"
            )
        else:
            role = "client" if inbound else "agent"
            self.spool.writer("intel_messages")(
                f"{self.next_id()}\t{iid}\t{role}\t{self.pick(names.SUMMARIES)}\t{when}\t{when}\n"
            )


def check_summary(
    sources: dict[str, tuple[int, str, str]], start: datetime, made: tuple[Decimal, str, str]
) -> None:
    """The library's own scoring and ``evidence_json`` give exactly ``made`` for ``sources``."""
    signals = [
        QdSignal(UUID(tid), SignalSource(source), start + timedelta(seconds=at), Decimal(value))
        for source, (at, tid, value) in sources.items()
    ]
    newest = max(s.timestamp for s in signals)
    result = WeightedDecay().score(signals, newest)
    expected = (result.value, newest.isoformat(), json.dumps(evidence_json(result.evidence)))
    assert made == expected, (made, expected)


def load(url: str, shape: Shape, staff: Staff, seed: int, watch: Stopwatch) -> dict[str, int]:
    """Fill every table of the client graph by COPY; return the rows of each.

    Secondary indexes are dropped for the load and rebuilt after it, then
    the database is vacuumed and analysed (:func:`benchmarks.datagen.bulk_loading`).
    """
    rng = random.Random(seed)
    counts = interaction_counts(shape, rng)
    watch.lap("interaction counts per person (Python)")
    with tempfile.TemporaryDirectory(prefix="velocity-client-graph-") as folder:
        spool = Spool(Path(folder))
        make = Generator(shape, staff, seed + 1, spool)
        with bulk_loading(url, TABLES, superuser=True) as cur:
            cur.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
            make.inventory()
            copy_rows(cur, "crm_people", make.people_lines(), shape.people, COLUMNS["crm_people"])
            watch.lap("people streamed, their graph spooled (Python + COPY)")
            rows = Counter({"crm_people": shape.people, **spool.rows})
            spool.copy_into(cur)
            watch.lap("leads, deals, interests, tasks, visits, QD, inventory (COPY)")
            copy_rows(
                cur,
                "intel_interactions",
                make.interaction_lines(counts),
                shape.interactions,
                COLUMNS["intel_interactions"],
            )
            watch.lap("interactions streamed, artifacts spooled (Python + COPY)")
            rows.update({"intel_interactions": shape.interactions, **spool.rows})
            spool.copy_into(cur)
            watch.lap("calls, transcripts, emails, messages (COPY)")
        watch.lap("secondary indexes rebuilt, VACUUM ANALYZE")
    return dict(rows)


def find_heavy(url: str, shape: Shape) -> list[UUID]:
    """The heavy clients' ids, found by their emails."""
    emails = [HEAVY_EMAIL.format(k) for k in range(shape.heavy)]
    with psycopg.connect(conninfo(url)) as conn:
        rows = conn.execute(
            "SELECT person_id FROM crm_people WHERE primary_email = ANY(%s)", (emails,)
        ).fetchall()
    if len(rows) != shape.heavy:
        raise RuntimeError(f"found {len(rows)} of the {shape.heavy} heavy clients")
    return [r[0] for r in rows]


def rebuild_summaries(url: str) -> tuple[str, float | None]:
    """Run ``velocity_rebuild_client_summaries()`` when the database has it; say what was done."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_proc WHERE proname = 'velocity_rebuild_client_summaries'"
        ).fetchone()
        if not found or not found[0]:
            return "velocity_rebuild_client_summaries() does not exist: skipped", None
        started = time.monotonic()
        conn.execute("SELECT velocity_rebuild_client_summaries()")
        # The projection's two tables, so that index-only scans skip the heap.
        conn.execute("VACUUM ANALYZE crm_client_summaries, crm_client_summary_tags")
        seconds = time.monotonic() - started
        return f"velocity_rebuild_client_summaries() in {seconds:.1f}s", seconds


def database_size(url: str) -> str:
    """The database's size on disk, and its three largest tables with their indexes."""
    with psycopg.connect(conninfo(url)) as conn:
        total = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()
        largest = conn.execute(
            "SELECT relname, pg_size_pretty(pg_total_relation_size(c.oid)) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'r' AND n.nspname = current_schema()"
            " ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 3"
        ).fetchall()
    assert total is not None
    tables = ", ".join(f"{name} {size}" for name, size in largest)
    return f"{total[0]} (largest, with indexes: {tables})"


def first_day() -> date:
    """The first day the generated history covers (three years to yesterday)."""
    return datetime.now(UTC).date() - timedelta(days=DAYS)
