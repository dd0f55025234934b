"""Both stores decide every row of an import alike, and commit it alike.

PostgreSQL matches an import's exact rules and commits its new people with
set-based statements of its own; the in-memory store runs the generic
pipeline. The same people (same ids) and the same generated file go into
both, and every row's outcome, status, person, changes and evidence, and
every written person, lead and interest, must come out equal.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.pg_harness import empty_all_tables
from velocity_domain import Principal, Velocity
from velocity_domain.crm.entities import Person
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.kernel.query import Query
from velocity_domain.testing import seed, unit_of_work

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FIRST = ["Asha", "Ravi", "Meera", "Kiran", "Neha", "Vikram", "Priya", "Arjun"]
LAST = ["Rao", "Iyer", "Shah", "Menon", "Nair", "Gupta"]


@pytest.fixture
def stores(pg_url: sa.URL, pg_engine: sa.Engine) -> Iterator[list[Velocity]]:
    empty_all_tables(pg_engine)
    url = pg_url.render_as_string(hide_password=False)
    with Velocity.from_url(url, clock=FixedClock(T0)) as on_postgres:
        yield [Velocity.in_memory(clock=FixedClock(T0)), on_postgres]


def _people(rng: random.Random) -> list[Person]:
    people = []
    for n in range(60):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        people.append(
            Person(
                full_name=name,
                primary_email=f"p{n}@example.in" if n % 3 else None,
                primary_phone=f"+9198400{n:05d}" if n % 4 else None,
                source_system="fair" if n < 10 else None,
                source_ref=f"R{n}" if n < 10 else None,
                created_at=T0 - timedelta(days=n),
                updated_at=T0 - timedelta(days=n),
            )
        )
    return people


def _rows(rng: random.Random, people: list[Person]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for n in range(300):
        kind = rng.random()
        known = rng.choice(people)
        row = {"Record": "", "Name": "", "Email": "", "Mobile": "", "Budget": ""}
        if kind < 0.15 and known.source_ref:  # the same record again, maybe changed
            row.update(Record=known.source_ref, Name=known.full_name, Mobile="98400 99999")
        elif kind < 0.35 and known.primary_email:  # a person by email
            row.update(Name=known.full_name, Email=known.primary_email)
            if rng.random() < 0.5:
                row["Mobile"] = f"98411{n:05d}"
        elif kind < 0.5 and known.primary_phone:  # a person by phone, perhaps renamed
            name = (
                known.full_name if rng.random() < 0.5 else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            )
            row.update(Name=name, Mobile=known.primary_phone)
        elif kind < 0.6 and rows:  # the file's own earlier row again
            row.update(rng.choice(rows))
            row["Record"] = ""
        elif kind < 0.7 and known.primary_phone:  # a namesake a digit away
            row.update(Name=known.full_name, Mobile=known.primary_phone[:-1] + "7")
        else:  # somebody new
            row.update(
                Name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                Email=f"new{n}@example.in",
                Mobile=f"97{n:08d}",
                Budget=rng.choice(["", "80 L", "1.2 Cr", "1-1.5 Cr"]),
            )
        rows.append(row)
    return rows


def _import(velocity: Velocity, people: list[Person], rows: list[dict[str, str]]) -> Any:
    seed(velocity, *people)
    _, admin = velocity.users.create_first_admin(email="admin@example.in", display_name="A")
    manager = velocity.users.create(
        admin, email="m@example.in", display_name="M", roles=["sales_manager"]
    )
    operator = velocity.users.create(
        admin, email="o@example.in", display_name="O", roles=["operator"]
    )
    submitter = velocity.users.principal_for(admin, manager.key)
    reviewer: Principal = velocity.users.principal_for(admin, operator.key)
    imports = velocity.imports
    batch = imports.submit(submitter, rows, source_system="fair")
    batch = imports.map(submitter, batch.key, expected_version=batch.version)
    batch = imports.propose(submitter, batch.key, expected_version=batch.version)
    decided = [
        (r.row_number, r.outcome, r.status, r.matched_person_id, r.changes_json, r.evidence_json)
        for r in _all_rows(velocity, admin, batch.key)
    ]
    if batch.status.value == "proposed":
        batch = imports.approve(reviewer, batch.key)
    batch = imports.commit(submitter, batch.key)
    return batch, decided, _written(velocity)


def _all_rows(velocity: Velocity, who: Principal, batch_id: Any) -> list[Any]:
    found, cursor = [], None
    while True:
        page = velocity.imports.rows(who, batch_id, limit=500, cursor=cursor)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found


def _written(velocity: Velocity) -> dict[str, Any]:
    with unit_of_work(velocity) as uow:
        people = uow.crm.people.list(Query(limit=500)).items
        leads = uow.crm.leads.list(Query(limit=500)).items
        interests = uow.crm.property_interests.list(Query(limit=500)).items
    by_person = {p.key: p.source_ref for p in people}
    return {
        "people": sorted(
            (
                p.source_ref or "",
                p.full_name,
                p.normalized_name,
                p.primary_email or "",
                p.primary_phone or "",
                p.version,
            )
            for p in people
        ),
        "leads": sorted(
            (
                by_person[le.person_id] or "",
                le.source_ref or "",
                le.status.value,
                le.stage.value,
                le.budget_band or "",
            )
            for le in leads
        ),
        "interests": sorted(
            (
                by_person[i.person_id] or "",
                str(i.budget_min),
                str(i.budget_max),
                i.currency,
                i.configuration or "",
                i.notes or "",
            )
            for i in interests
        ),
    }


@pytest.mark.parametrize("seed_value", [20261201, 7, 99])
def test_both_stores_decide_and_write_every_row_alike(
    stores: list[Velocity], seed_value: int
) -> None:
    rng = random.Random(seed_value)
    people = _people(rng)
    rows = _rows(rng, people)
    memory, postgres = (_import(v, people, rows) for v in stores)
    assert memory[1] == postgres[1]
    outcomes = {o.value for _, o, *_ in memory[1] if o is not None}
    assert outcomes >= {"new", "update", "unchanged", "duplicate"}
    assert postgres[0].stats_json["committed"] == memory[0].stats_json["committed"]
    assert memory[0].stats_json["outcomes"] == postgres[0].stats_json["outcomes"]
    assert memory[2] == postgres[2]
