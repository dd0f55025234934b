"""Approved writebacks executed by many threads and two processes at once apply exactly once.

Each of 100 approved writebacks is executed by 8 threads released together by
a barrier, and then another 100 by 2 processes of 4 threads each; the
database is then read with plain SQL: every target changed once, carries the
proposed value at version 2, and has exactly one audit event of the change.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.synchronize import Event
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from tests.support.pg_harness import empty_all_tables
from tests.support.world import World, build
from velocity_domain import Velocity
from velocity_domain.access import Principal
from velocity_domain.crm.entities import Opportunity
from velocity_domain.errors import WritebackFailed
from velocity_domain.testing import unit_of_work

pytestmark = pytest.mark.postgres

ROUNDS = 100
THREADS = 8
PROCESSES = 2


@pytest.fixture
def velocity(pg_url: sa.URL, pg_engine: sa.Engine) -> Iterator[Velocity]:
    empty_all_tables(pg_engine)
    url = pg_url.render_as_string(hide_password=False)
    with Velocity.from_url(url, pool_size=THREADS + 2) as v:
        yield v


def _approved_writebacks(velocity: Velocity, w: World, tag: str) -> dict[UUID, UUID]:
    """``ROUNDS`` approved agent proposals, each changing its own deal: writeback -> deal."""
    deals = [Opportunity(person_id=w.client_a.key) for _ in range(ROUNDS)]
    with unit_of_work(velocity) as uow:
        uow.crm.opportunities.add_many(deals)
        uow.commit()
    targets: dict[UUID, UUID] = {}
    for n, deal in enumerate(deals):
        proposal = velocity.writebacks.propose(
            w.by_role["oracle_agent"],
            target_table="crm_opportunities",
            change_kind="update",
            target_ref=deal.key,
            base_version=deal.version,
            fields={"next_action": f"{tag} {n}"},
        )
        velocity.writebacks.approve(w.by_role["operator"], proposal.key)
        targets[proposal.key] = deal.key
    return targets


def _check_applied_once(engine: sa.Engine, targets: dict[UUID, UUID], tag: str) -> None:
    deals = list(targets.values())
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT opportunity_id, next_action, version FROM crm_opportunities"
                " WHERE opportunity_id = ANY(:ids)"
            ),
            {"ids": deals},
        ).all()
        events = conn.execute(
            sa.text(
                "SELECT target_ref, count(*) FROM core_audit_events"
                " WHERE action = 'crm.opportunities.update' AND target_ref = ANY(:refs)"
                " GROUP BY target_ref"
            ),
            {"refs": [str(d) for d in deals]},
        ).all()
        executed = conn.execute(
            sa.text(
                "SELECT count(*) FROM workflow_writebacks"
                " WHERE writeback_id = ANY(:ids) AND status = 'executed'"
                " AND executed_at IS NOT NULL"
            ),
            {"ids": list(targets)},
        ).scalar()
    assert len(rows) == ROUNDS
    assert all(version == 2 for _, _, version in rows)
    assert sorted(text for _, text, _ in rows) == sorted(f"{tag} {n}" for n in range(ROUNDS))
    assert dict(events) == {str(d): 1 for d in deals}
    assert executed == ROUNDS


def test_eight_threads_execute_each_writeback_exactly_once(
    velocity: Velocity, pg_engine: sa.Engine
) -> None:
    w = build(velocity)
    targets = _approved_writebacks(velocity, w, "threads")
    operator = w.by_role["operator"]
    applied: Counter[UUID] = Counter()
    attempts: Counter[UUID] = Counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for key in targets:
            barrier = threading.Barrier(THREADS)

            def run(key: UUID = key, barrier: threading.Barrier = barrier) -> bool:
                barrier.wait(timeout=30)
                return velocity.writebacks.execute(operator, key).applied

            outcomes = [f.result() for f in [pool.submit(run) for _ in range(THREADS)]]
            applied[key] += sum(outcomes)
            attempts[key] += len(outcomes)
    assert set(applied.values()) == {1}
    assert set(attempts.values()) == {THREADS}
    _check_applied_once(pg_engine, targets, "threads")


def _execute_all(url: str, keys: list[str], start: Event, results: Any) -> None:
    """One process: 4 threads, each executing every writeback in turn; report what it applied."""
    executor = Principal.system("executor-process")
    with Velocity.from_url(url, pool_size=THREADS // PROCESSES + 1) as velocity:
        start.wait(timeout=60)

        def run(_: int) -> list[str]:
            return [k for k in keys if velocity.writebacks.execute(executor, UUID(k)).applied]

        with ThreadPoolExecutor(max_workers=THREADS // PROCESSES) as pool:
            mine = [k for batch in pool.map(run, range(THREADS // PROCESSES)) for k in batch]
    results.put(mine)


def test_two_processes_execute_each_writeback_exactly_once(
    velocity: Velocity, pg_url: sa.URL, pg_engine: sa.Engine
) -> None:
    w = build(velocity)
    targets = _approved_writebacks(velocity, w, "processes")
    keys = [str(k) for k in targets]
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results = context.Queue()
    url = pg_url.render_as_string(hide_password=False)
    workers = [
        context.Process(target=_execute_all, args=(url, keys, start, results))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    start.set()
    reported = [results.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    applied = Counter(k for batch in reported for k in batch)
    assert applied == Counter(dict.fromkeys(keys, 1))
    assert len(reported) == PROCESSES
    _check_applied_once(pg_engine, targets, "processes")


def test_racing_executions_of_a_stale_writeback_all_report_the_failure(
    velocity: Velocity, pg_engine: sa.Engine
) -> None:
    w = build(velocity)
    targets = _approved_writebacks(velocity, w, "stale")
    keys = list(targets)[:15]
    for key in keys:  # someone changes each deal after its proposal was approved
        deal = velocity.opportunities.get(w.admin, targets[key])
        velocity.opportunities.update(
            w.admin, deal.key, expected_version=deal.version, next_action="changed meanwhile"
        )
    operator = w.by_role["operator"]
    outcomes: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for key in keys:
            barrier = threading.Barrier(THREADS)

            def run(key: UUID = key, barrier: threading.Barrier = barrier) -> str:
                barrier.wait(timeout=30)
                try:
                    velocity.writebacks.execute(operator, key)
                except WritebackFailed as failed:
                    assert "concurrency_conflict" in failed.reason
                    return "failed"
                return "applied"

            outcomes.update(f.result() for f in [pool.submit(run) for _ in range(THREADS)])
    assert outcomes == Counter({"failed": THREADS * len(keys)})
    with pg_engine.connect() as conn:
        statuses = conn.execute(
            sa.text(
                "SELECT status, count(*) FROM workflow_writebacks"
                " WHERE writeback_id = ANY(:ids) GROUP BY status"
            ),
            {"ids": keys},
        ).all()
    assert dict(statuses) == {"failed": len(keys)}


def test_racing_proposals_with_one_idempotency_key_store_one_writeback(
    velocity: Velocity, pg_engine: sa.Engine
) -> None:
    w = build(velocity)
    deal = velocity.opportunities.list(w.admin, person_id=w.client_b.key).items[0]
    oracle = w.by_role["oracle_agent"]
    barrier = threading.Barrier(THREADS)

    def run(_: int) -> UUID:
        barrier.wait(timeout=30)
        proposal = velocity.writebacks.propose(
            oracle,
            target_table="crm_opportunities",
            change_kind="update",
            target_ref=deal.key,
            base_version=deal.version,
            fields={"next_action": "Call on Friday"},
            idempotency_key="oracle-run-5-step-1",
        )
        key: UUID = proposal.key
        return key

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        keys = set(pool.map(run, range(THREADS)))
    assert len(keys) == 1
    with pg_engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM workflow_writebacks")).scalar()
    assert stored == 1


def test_the_in_memory_store_also_applies_each_writeback_once_under_threads() -> None:
    rounds = 20
    with Velocity.in_memory() as memory:
        w = build(memory)
        operator = w.by_role["operator"]
        targets = list(_approved_writebacks(memory, w, "memory").items())[:rounds]
        applied: Counter[UUID] = Counter()
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            for key, _ in targets:
                barrier = threading.Barrier(THREADS)

                def run(key: UUID = key, barrier: threading.Barrier = barrier) -> bool:
                    barrier.wait(timeout=30)
                    return memory.writebacks.execute(operator, key).applied

                applied[key] += sum(f.result() for f in [pool.submit(run) for _ in range(THREADS)])
        assert set(applied.values()) == {1}
        for key, deal_id in targets:
            deal = memory.opportunities.get(w.admin, deal_id)
            assert deal.version == 2
            events = memory.audit.list(
                w.admin, action="crm.opportunities.update", target_ref=deal_id
            )
            assert len(events.items) == 1
            assert memory.writebacks.get(w.admin, key).writeback.status.value == "executed"
