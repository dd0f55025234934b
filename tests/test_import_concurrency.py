"""Committing an import on PostgreSQL: a crash half-way and racing commits end in one state.

A batch of 4,500 new people (three chunks) is committed while the committing
connection is terminated by the server (``pg_terminate_backend``) after the
first chunk; the commit fails as ``StorageUnavailable``, nothing of it stays,
and committing again ends exactly as an undisturbed commit does. Two threads
committing the same batch at once write every row once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.pg_harness import cut_off_transactions, empty_all_tables
from tests.support.world import World, build
from velocity_domain import Velocity
from velocity_domain.crm.entities import ImportBatch, ImportBatchStatus
from velocity_domain.errors import StorageUnavailable
from velocity_domain.imports.gateway import ImportProgress

pytestmark = pytest.mark.postgres

ROWS = 4500


@pytest.fixture
def velocity(pg_url: sa.URL, pg_engine: sa.Engine) -> Iterator[Velocity]:
    empty_all_tables(pg_engine)
    url = pg_url.render_as_string(hide_password=False)
    with Velocity.from_url(url, pool_size=6) as v:
        yield v


def _rows(tag: str) -> list[dict[str, str]]:
    return [
        {"Name": f"Person {tag} {n}", "Email": f"{tag}{n}@example.in", "Mobile": f"97{n:08d}"}
        for n in range(ROWS)
    ]


def _approved(velocity: Velocity, w: World, tag: str) -> ImportBatch:
    manager = w.by_role["sales_manager"]
    imports = velocity.imports
    batch = imports.submit(manager, _rows(tag), source_system="expo")
    batch = imports.map(manager, batch.key, expected_version=batch.version)
    batch = imports.propose(manager, batch.key, expected_version=batch.version)
    assert batch.status is ImportBatchStatus.APPROVED  # new people only: the policy approved
    return batch


def _state(engine: sa.Engine, batch: ImportBatch) -> dict[str, Any]:
    with engine.connect() as conn:
        people = conn.execute(
            sa.text(
                "SELECT count(*), count(DISTINCT source_ref) FROM crm_people"
                " WHERE source_system = 'expo'"
            )
        ).one()
        leads = conn.execute(
            sa.text("SELECT count(*) FROM crm_leads WHERE source_system = 'expo'")
        ).scalar()
        rows = conn.execute(
            sa.text(
                "SELECT status, count(*), count(DISTINCT target_entity_ref) FROM crm_import_rows"
                " WHERE import_batch_id = :b GROUP BY status"
            ),
            {"b": batch.key},
        ).all()
        executed = conn.execute(
            sa.text(
                "SELECT count(*) FROM core_audit_events"
                " WHERE action = 'crm.imports.commit' AND target_ref = :b"
            ),
            {"b": str(batch.key)},
        ).scalar()
    return {
        "people": tuple(people),
        "leads": leads,
        "rows": sorted(tuple(r) for r in rows),
        "commit_events": executed,
    }


EXPECTED = {
    "people": (ROWS, ROWS),
    "leads": ROWS,
    "rows": [("committed", ROWS, ROWS)],
    "commit_events": 1,
}


def test_a_commit_cut_off_half_way_is_retried_to_the_same_end(
    velocity: Velocity, pg_engine: sa.Engine
) -> None:
    w = build(velocity)
    batch = _approved(velocity, w, "crash")
    manager = w.by_role["sales_manager"]
    cut = threading.Event()

    def crash(progress: ImportProgress) -> None:
        if progress.stage == "committed" and not cut.is_set():
            cut.set()
            assert cut_off_transactions(pg_engine) == 1

    with pytest.raises(StorageUnavailable):
        velocity.imports.commit(manager, batch.key, progress=crash)
    assert cut.is_set()
    half = _state(pg_engine, batch)
    assert half["people"] == (0, 0)  # nothing of the cut-off commit stayed
    assert half["rows"] == [("proposed", ROWS, 0)]
    assert velocity.imports.get(manager, batch.key).status is ImportBatchStatus.APPROVED
    done = velocity.imports.commit(manager, batch.key)
    assert done.status is ImportBatchStatus.COMMITTED
    assert _state(pg_engine, batch) == EXPECTED
    assert velocity.imports.commit(manager, batch.key).status is ImportBatchStatus.COMMITTED
    assert _state(pg_engine, batch) == EXPECTED


def test_two_commits_of_one_batch_at_once_write_every_row_once(
    velocity: Velocity, pg_engine: sa.Engine
) -> None:
    w = build(velocity)
    batch = _approved(velocity, w, "race")
    manager = w.by_role["sales_manager"]
    barrier = threading.Barrier(2)

    def commit() -> ImportBatchStatus:
        barrier.wait()
        return velocity.imports.commit(manager, batch.key).status

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = [f.result() for f in [pool.submit(commit) for _ in range(2)]]
    assert outcomes == [ImportBatchStatus.COMMITTED] * 2
    assert _state(pg_engine, batch) == EXPECTED
