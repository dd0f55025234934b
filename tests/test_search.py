"""Substring search gives the same pages in both stores, whichever way PostgreSQL answers it.

On PostgreSQL a search first walks the order's index for a page and falls back
to the trigram indexes when the walk holds less than one; these tests page
through searches that take each way (dense and sparse matches, matches only
past the walk's reach) and compare every page with the answer worked out here.
"""

from __future__ import annotations

from velocity_domain import Velocity
from velocity_domain.crm.entities import Person
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.kernel.query import Contains, Query, asc, desc
from velocity_domain.testing import unit_of_work


def _people(velocity: Velocity) -> list[Person]:
    people = [
        Person(
            full_name=f"Person {i:04d} {'Qzx' if i % 150 == 149 else 'Rao'}",
            primary_email=f"p{i:04d}@{'qzx' if i == 7 else 'example'}.com",
        )
        for i in range(700)
    ]
    with unit_of_work(velocity) as uow:
        uow.crm.people.add_many(people)
        uow.commit()
    return people


def _pages(velocity: Velocity, needle: str, limit: int, newest: bool = False) -> list[str]:
    order = (desc("created_at"),) if newest else (asc("normalized_name"),)
    found: list[str] = []
    cursor: str | None = None
    with unit_of_work(velocity) as uow:
        while True:
            page = uow.crm.people.list(
                Query(
                    (Contains(("normalized_name", "primary_email"), needle),),
                    order,
                    limit,
                    cursor,
                )
            )
            found += [p.full_name for p in page]
            cursor = page.next_cursor
            if cursor is None:
                return found


def test_dense_sparse_and_far_matches_page_alike(any_velocity: tuple[Velocity, FixedClock]) -> None:
    velocity, _ = any_velocity
    people = _people(velocity)
    by_name = sorted(people, key=lambda p: (p.normalized_name, p.key))

    def expected(needle: str) -> list[str]:
        return [
            p.full_name
            for p in by_name
            if needle in p.normalized_name or needle in (p.primary_email or "")
        ]

    for needle in ("rao", "qzx", "son 06", "0149", "zzz", "o"):
        for limit in (2, 7, 50):
            assert _pages(velocity, needle, limit) == expected(needle), (needle, limit)
    assert expected("qzx")[:1] == ["Person 0007 Rao"]  # found through the email only
    assert len(expected("qzx")) == 5


def test_a_newest_first_search_pages_in_that_order(
    any_velocity: tuple[Velocity, FixedClock],
) -> None:
    velocity, _ = any_velocity
    people = _people(velocity)
    newest = sorted(people, key=lambda p: (p.created_at, p.key), reverse=True)
    wanted = [
        p.full_name
        for p in newest
        if "qzx" in p.normalized_name or "qzx" in (p.primary_email or "")
    ]
    assert _pages(velocity, "QZX", 2, newest=True) == wanted
