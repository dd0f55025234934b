"""The in-memory store (the embedded default) at its own size: absolute latencies, no baseline."""

from __future__ import annotations

import random
import time

from benchmarks.cases_read import PAGE, PREFIX_SEARCH
from benchmarks.datagen import person_name, phone_of, progress
from benchmarks.measure import Budget, Row, absolute_row, interleaved
from velocity_domain import Velocity
from velocity_domain.crm.entities import Person
from velocity_domain.testing import unit_of_work

MAX_P99 = 0.005
BATCH = 10_000


def seed(velocity: Velocity, people: int) -> list[Person]:
    """Add ``people`` people through the unit of work, in batches; return them."""
    rng = random.Random(3)
    now = velocity.clock.now()
    made: list[Person] = []
    for start in range(0, people, BATCH):
        batch = []
        for i in range(start, min(start + BATCH, people)):
            full, _, first, last = person_name(rng)
            batch.append(
                Person(
                    full_name=full,
                    primary_email=f"{first}.{last}{i}@example.in",
                    primary_phone=phone_of(i),
                    created_at=now,
                    updated_at=now,
                )
            )
        with unit_of_work(velocity) as uow:
            uow.crm.people.add_many(batch)
            uow.commit()
        made.extend(batch)
    return made


def memory(people: int, budget: Budget) -> list[Row]:
    """contacts.list, a search and contacts.get on an in-memory store of ``people`` people."""
    velocity = Velocity.in_memory()
    _, admin = velocity.users.create_first_admin(
        email="admin@velocity-bench.example", display_name="Admin"
    )
    user = velocity.users.create(
        admin, email="operator@velocity-bench.example", display_name="Operator", roles=["operator"]
    )
    operator = velocity.users.principal_for(admin, user.key)
    started = time.monotonic()
    persons = seed(velocity, people)
    progress(f"  seeded {people:,} people in memory in {time.monotonic() - started:.1f}s")
    ids = [p.key for p in random.Random(5).sample(persons, min(1000, len(persons)))]
    size = f"{people:,} people"
    measures = {
        f"memory: contacts.list, first page ({size})": lambda _: velocity.contacts.list(
            operator, limit=PAGE
        ),
        f'memory: contacts.list, search "{PREFIX_SEARCH}"': lambda _: velocity.contacts.list(
            operator, search=PREFIX_SEARCH, limit=PAGE
        ),
        "memory: contacts.get": lambda i: velocity.contacts.get(operator, ids[i % len(ids)]),
    }
    rows = []
    for name, call in measures.items():
        lib, _ = interleaved(call, None, budget)
        rows.append(absolute_row(name, lib, max_p99=MAX_P99))
    velocity.close()
    return rows
