"""Merges on PostgreSQL under concurrency: racing merges, a racing update, a crash mid-merge.

Two merges of one person executed at once: exactly one applies, the other's
writeback fails with a typed conflict and the merge can be proposed again. A
merge racing an ordinary update of a merged person: one of them wins, the
other fails cleanly, and the graph is whole either way. While a merge is
being written, another transaction sees none of it. A merge whose connection
is terminated half-way leaves nothing behind and, executed again, ends as an
undisturbed merge does. A merge costs the same statements whatever the
people's history.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from tests.support.merge_graph import MergeGraph, build_graph, graph
from tests.support.pg_harness import Statements, cut_off_transactions, empty_all_tables
from tests.support.world import World, build
from velocity_domain import Velocity
from velocity_domain.crm.entities import Lead, MergeStatus, Person, PersonMerge, PropertyInterest
from velocity_domain.errors import (
    ConcurrencyConflict,
    MergedRecord,
    StorageUnavailable,
    WritebackFailed,
)
from velocity_domain.intel.entities import Channel, Interaction
from velocity_domain.kernel.query import Eq
from velocity_domain.testing import seed, unit_of_work

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 2, 1, tzinfo=UTC)

#: A piece of the statement that moves rows to the survivor (``relink``).
RELINK = "unnest(CAST(%(keys)s AS uuid[])"


@pytest.fixture
def velocity(pg_url: sa.URL, pg_engine: sa.Engine) -> Iterator[Velocity]:
    empty_all_tables(pg_engine)
    url = pg_url.render_as_string(hide_password=False)
    with Velocity.from_url(url, pool_size=6) as v:
        yield v


@pytest.fixture
def staffed(velocity: Velocity) -> tuple[World, MergeGraph]:
    world = build(velocity)
    return world, build_graph(velocity)


def _approved(world: World, people: list[UUID], reason: str = "one person") -> PersonMerge:
    velocity = world.velocity
    merge = velocity.merges.propose(world.by_role["sales_manager"], people, reason=reason)
    assert merge.writeback_id is not None
    velocity.writebacks.approve(world.by_role["operator"], merge.writeback_id)
    velocity.writebacks.approve(world.admin, merge.writeback_id)
    return merge


def _execute(world: World, merge: PersonMerge) -> str:
    assert merge.writeback_id is not None
    try:
        world.velocity.writebacks.execute(world.admin, merge.writeback_id)
    except WritebackFailed:
        return "failed"
    return "executed"


class _Hook:
    """Run ``action`` once, just before the first statement that moves rows to the survivor."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.fired = threading.Event()

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if RELINK in statement and not self.fired.is_set():
            self.fired.set()
            self.action()


@pytest.fixture
def hook() -> Iterator[Callable[[Callable[[], None]], _Hook]]:
    installed: list[_Hook] = []

    def install(action: Callable[[], None]) -> _Hook:
        made = _Hook(action)
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", made)
        installed.append(made)
        return made

    yield install
    for made in installed:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", made)


def test_two_merges_of_one_person_at_once_execute_exactly_one(
    staffed: tuple[World, MergeGraph],
) -> None:
    world, g = staffed
    first = _approved(world, [g.client.key, g.duplicate.key])
    second = _approved(world, [g.world.spouse.key, g.duplicate.key])
    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(lambda m: _execute(world, m), [first, second]))
    assert outcomes == ["executed", "failed"]
    with unit_of_work(world.velocity) as uow:
        duplicate = uow.crm.people.get(g.duplicate.key)
        winner = first if duplicate.merged_into_person_id == g.client.key else second
        loser = second if winner is first else first
        assert uow.table(PersonMerge).get(winner.key).status is MergeStatus.EXECUTED
        assert uow.table(PersonMerge).get(loser.key).status is MergeStatus.PROPOSED
    assert loser.writeback_id is not None
    failed = world.velocity.writebacks.get(world.admin, loser.writeback_id).writeback
    assert failed.failure_reason is not None
    assert "concurrency_conflict" in failed.failure_reason or "merged" in failed.failure_reason
    # The loser is proposed again over what is stored now.
    survivor = duplicate.merged_into_person_id
    assert survivor is not None
    other = g.world.spouse.key if survivor == g.client.key else g.client.key
    again = _approved(world, [survivor, other], reason="again")
    assert _execute(world, again) == "executed"


def test_a_merge_racing_an_update_of_its_person_ends_whole(
    staffed: tuple[World, MergeGraph], hook: Callable[[Callable[[], None]], _Hook]
) -> None:
    world, g = staffed
    velocity = world.velocity
    manager = world.by_role["sales_manager"]
    before = graph(velocity, g.people)
    merge = _approved(world, [g.client.key, g.duplicate.key])
    dup = velocity.contacts.get(manager, g.duplicate.key)
    outcome: dict[str, object] = {}

    def update() -> None:
        try:
            velocity.contacts.update(
                manager, dup.key, expected_version=dup.version, linkedin_url=None
            )
            outcome["update"] = "done"
        except (ConcurrencyConflict, MergedRecord) as exc:
            outcome["update"] = type(exc).__name__

    def race() -> None:
        # The merge holds the duplicate's row (written first, in id order): the update waits.
        worker = threading.Thread(target=update)
        worker.start()
        worker.join(timeout=0.5)
        outcome["waited"] = worker.is_alive()
        outcome["worker"] = worker

    hook(race)
    assert _execute(world, merge) == "executed"
    worker = outcome["worker"]
    assert isinstance(worker, threading.Thread)
    worker.join(timeout=30)
    assert outcome["waited"] is True
    assert outcome["update"] == "ConcurrencyConflict"
    after = graph(velocity, g.people)
    assert after[("crm_people", g.duplicate.key)]["merged_into_person_id"] == g.client.key
    assert (
        after[("crm_people", g.duplicate.key)]["linkedin_url"]
        == before[("crm_people", g.duplicate.key)]["linkedin_url"]
    )


def test_no_half_merged_state_is_visible_while_a_merge_is_written(
    staffed: tuple[World, MergeGraph], hook: Callable[[Callable[[], None]], _Hook]
) -> None:
    world, g = staffed
    velocity = world.velocity
    before = graph(velocity, g.people)
    merge = _approved(world, [g.client.key, g.duplicate.key])
    seen: dict[str, object] = {}

    def look() -> None:
        # Another thread, another transaction, in the middle of the merge's writes.
        with ThreadPoolExecutor(1) as pool:
            seen["graph"] = pool.submit(graph, velocity, g.people).result(timeout=30)

    hook(look)
    assert _execute(world, merge) == "executed"
    assert seen["graph"] == before
    assert graph(velocity, g.people) != before


def test_a_merge_cut_off_half_way_is_executed_again_to_the_same_end(
    velocity: Velocity,
    pg_engine: sa.Engine,
    pg_url: sa.URL,
    hook: Callable[[Callable[[], None]], _Hook],
) -> None:
    world = build(velocity)
    g = build_graph(velocity)
    merge = _approved(world, [g.client.key, g.duplicate.key])

    def cut() -> None:
        assert cut_off_transactions(pg_engine) == 1

    before = graph(velocity, g.people)
    fired = hook(cut)
    assert merge.writeback_id is not None
    with pytest.raises(StorageUnavailable):
        velocity.writebacks.execute(world.admin, merge.writeback_id)
    assert fired.fired.is_set()
    assert graph(velocity, g.people) == before  # nothing of the merge stayed
    with unit_of_work(velocity) as uow:
        assert uow.table(PersonMerge).get(merge.key).status is MergeStatus.PROPOSED
    execution = velocity.writebacks.execute(world.admin, merge.writeback_id)
    assert execution.applied
    with unit_of_work(velocity) as uow:
        done = uow.table(PersonMerge).get(merge.key)
        assert done.status is MergeStatus.EXECUTED
        assert uow.crm.people.get(g.duplicate.key).merged_into_person_id == g.client.key
        moved = uow.crm.leads.where_in("person_id", [g.duplicate.key])
        assert moved == []
    assert velocity.writebacks.execute(world.admin, merge.writeback_id).applied is False


def _history(velocity: Velocity, person: Person, size: int) -> None:
    """Give ``person`` ``size`` interactions, leads and property interests."""
    with unit_of_work(velocity) as uow:
        uow.intel.interactions.add_many(
            [
                Interaction(
                    person_id=person.key,
                    channel=Channel.CALL,
                    happened_at=T0 + timedelta(minutes=i),
                )
                for i in range(size)
            ]
        )
        uow.crm.leads.add_many(
            [
                Lead(person_id=person.key, source_system="web", source_ref=f"{person.key}-{i}")
                for i in range(size)
            ]
        )
        uow.crm.property_interests.add_many(
            [PropertyInterest(person_id=person.key, configuration="2BHK") for i in range(size)]
        )
        uow.commit()


def test_a_merge_costs_the_same_statements_whatever_the_history(velocity: Velocity) -> None:
    world = build(velocity)
    counts = []
    for size in (2, 120):
        pair = [Person(full_name=f"Twin {size} {n}") for n in range(2)]
        seed(velocity, *pair)
        _history(velocity, pair[1], size)
        merge = _approved(world, [p.key for p in pair])
        count = Statements()
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
        try:
            assert _execute(world, merge) == "executed"
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)
        counts.append(len(count.seen))
        with unit_of_work(velocity) as uow:
            assert uow.crm.leads.count(Eq("person_id", pair[0].key)) == size
    assert counts[0] == counts[1]
