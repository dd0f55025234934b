"""Import batches and their lifecycle, on both stores."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.access import Principal
from velocity_domain.crm.entities import ImportBatch, ImportBatchStatus
from velocity_domain.crm.lifecycle import IMPORT_BATCH
from velocity_domain.errors import (
    ApprovalRefused,
    ConcurrencyConflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from velocity_domain.kernel.ids import new_id

B = ImportBatchStatus
FORWARD = [B.PARSED, B.MAPPED, B.PROPOSED, B.APPROVED, B.COMMITTED]
SHA = "ab" * 32


def _submit(velocity: Velocity, who: Principal) -> ImportBatch:
    return velocity.imports.submit(
        who, source_system="csv", file_name="leads.csv", content_sha256=SHA, row_count=120
    )


def _to(
    velocity: Velocity, mover: Principal, batch: ImportBatch, until: ImportBatchStatus
) -> ImportBatch:
    """Move ``batch`` forward along the happy path until it is in ``until``."""
    for status in FORWARD:
        if batch.status is until:
            break
        batch = velocity.imports.advance(mover, batch.key, status, expected_version=batch.version)
    assert batch.status is until
    return batch


def test_a_submitted_batch_is_uploaded_by_its_submitter(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    manager = w.by_role["sales_manager"]
    batch = _submit(velocity, manager)
    assert (batch.status, batch.submitted_by_user_id) == (B.UPLOADED, manager.user_id)
    assert (batch.row_count, batch.content_sha256, batch.failure_reason) == (120, SHA, None)
    assert velocity.imports.get(manager, batch.key) == batch
    event = velocity.audit.list(w.admin, action="crm.imports.submit").items[0]
    assert (event.target_ref, event.actor_user_id) == (str(batch.key), manager.user_id)
    assert event.after_json["status"] == "uploaded"


def test_a_batch_goes_the_whole_way_each_move_audited(
    world: World,
) -> None:
    velocity, w, clock = world.velocity, world, world.clock
    manager, operator = w.by_role["sales_manager"], w.by_role["operator"]
    batch = _submit(velocity, manager)
    parsed = velocity.imports.advance(
        manager, batch.key, "parsed", expected_version=batch.version, stats={"rows": 120}
    )
    mapped = velocity.imports.advance(
        manager,
        batch.key,
        B.MAPPED,
        expected_version=parsed.version,
        mapping={"Name": "full_name", "Phone": "primary_phone"},
    )
    proposed = velocity.imports.advance(
        manager, batch.key, "proposed", expected_version=mapped.version
    )
    clock.advance(minutes=5)
    approved = velocity.imports.approve(operator, batch.key, expected_version=proposed.version)
    committed = velocity.imports.advance(
        operator,
        batch.key,
        "committed",
        expected_version=approved.version,
        stats={"rows": 120, "committed": 118, "invalid": 2},
    )
    assert committed.status is B.COMMITTED
    assert committed.mapping_json == {"Name": "full_name", "Phone": "primary_phone"}
    assert committed.stats_json == {"rows": 120, "committed": 118, "invalid": 2}

    moves = [
        (e.action, e.details_json["from"], e.details_json["to"], e.actor_user_id, e.occurred_at)
        for e in reversed(velocity.audit.list(w.admin, target_ref=batch.key).items)
        if e.action != "crm.imports.submit"
    ]
    start, later = batch.created_at, approved.updated_at
    assert moves == [
        ("crm.imports.advance", "uploaded", "parsed", manager.user_id, start),
        ("crm.imports.advance", "parsed", "mapped", manager.user_id, start),
        ("crm.imports.advance", "mapped", "proposed", manager.user_id, start),
        ("crm.imports.approve", "proposed", "approved", operator.user_id, later),
        ("crm.imports.advance", "approved", "committed", operator.user_id, later),
    ]
    approval = velocity.audit.list(w.admin, action="crm.imports.approve").items[0]
    assert (approval.before_json["status"], approval.after_json["status"]) == (
        "proposed",
        "approved",
    )
    with pytest.raises(InvalidTransition) as caught:
        velocity.imports.fail(operator, batch.key, reason="late", expected_version=4)
    assert caught.value.allowed == ()


def test_a_reviewer_may_send_a_proposed_batch_back_to_mapping(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    operator = w.by_role["operator"]
    proposed = _to(velocity, operator, _submit(velocity, operator), B.PROPOSED)
    back = velocity.imports.advance(
        operator,
        proposed.key,
        "mapped",
        expected_version=proposed.version,
        mapping={"Mobile": "primary_phone"},
    )
    assert (back.status, back.mapping_json) == (B.MAPPED, {"Mobile": "primary_phone"})


def test_approving_takes_a_reviewer_who_did_not_submit(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    operator, manager = w.by_role["operator"], w.by_role["sales_manager"]
    agent = w.by_role["oracle_agent"]
    mine = _to(velocity, operator, _submit(velocity, operator), B.PROPOSED)
    with pytest.raises(ApprovalRefused) as caught:
        velocity.imports.approve(operator, mine.key, expected_version=mine.version)
    assert "four eyes" in caught.value.reason
    with pytest.raises(ApprovalRefused):
        velocity.imports.advance(operator, mine.key, "approved", expected_version=mine.version)
    with pytest.raises(PermissionDenied) as denied:
        velocity.imports.approve(manager, mine.key, expected_version=mine.version)
    assert denied.value.permission == "crm.imports.review"
    reviewing_agent = attrs.evolve(agent, permissions=agent.permissions | {"crm.imports.review"})
    with pytest.raises(ApprovalRefused):
        velocity.imports.approve(reviewing_agent, mine.key, expected_version=mine.version)
    assert velocity.imports.get(operator, mine.key) == mine

    approved = velocity.imports.approve(w.by_role["admin"], mine.key, expected_version=mine.version)
    assert approved.status is B.APPROVED


def test_whoever_prepared_a_batch_may_not_approve_it(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    operator, manager = w.by_role["operator"], w.by_role["sales_manager"]
    theirs = _submit(velocity, manager)
    prepared = _to(velocity, operator, theirs, B.PROPOSED)
    with pytest.raises(ApprovalRefused) as caught:
        velocity.imports.approve(operator, prepared.key, expected_version=prepared.version)
    assert "prepared the batch" in caught.value.reason
    assert velocity.imports.get(operator, prepared.key) == prepared
    approved = velocity.imports.approve(w.admin, prepared.key, expected_version=prepared.version)
    assert approved.status is B.APPROVED


def test_a_failed_batch_says_why_and_may_be_retried(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    operator = w.by_role["operator"]
    mapped = _to(velocity, operator, _submit(velocity, operator), B.MAPPED)
    for reason in ("", "   ", None):
        with pytest.raises(ValidationFailed) as caught:
            velocity.imports.fail(
                operator,
                mapped.key,
                reason=reason,  # type: ignore[arg-type]
                expected_version=mapped.version,
            )
        assert caught.value.field == "reason"
    failed = velocity.imports.fail(
        operator, mapped.key, reason="column Phone is empty", expected_version=mapped.version
    )
    assert (failed.status, failed.failure_reason) == (B.FAILED, "column Phone is empty")
    event = velocity.audit.list(w.admin, action="crm.imports.fail").items[0]
    assert (event.reason, event.details_json) == (
        "column Phone is empty",
        {"from": "mapped", "to": "failed"},
    )
    with pytest.raises(InvalidTransition):
        velocity.imports.advance(operator, mapped.key, "parsed", expected_version=failed.version)
    again = velocity.imports.retry(operator, mapped.key, expected_version=failed.version)
    assert (again.status, again.failure_reason) == (B.UPLOADED, None)
    assert again.mapping_json == mapped.mapping_json
    with pytest.raises(InvalidTransition) as caught_retry:
        velocity.imports.retry(operator, mapped.key, expected_version=again.version)
    assert caught_retry.value.current is B.UPLOADED


def test_bad_arguments_and_stale_versions_change_nothing(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    operator = w.by_role["operator"]
    batch = _submit(velocity, operator)
    v = batch.version
    refusals: list[tuple[str, Callable[[], object]]] = [
        (
            "to_status",
            lambda: velocity.imports.advance(operator, batch.key, "failed", expected_version=v),
        ),
        (
            "to_status",
            lambda: velocity.imports.advance(operator, batch.key, "uploaded", expected_version=v),
        ),
        (
            "to_status",
            lambda: velocity.imports.advance(operator, batch.key, "done", expected_version=v),
        ),
        (
            "mapping",
            lambda: velocity.imports.advance(
                operator, batch.key, "parsed", mapping={}, expected_version=v
            ),
        ),
        (
            "stats",
            lambda: velocity.imports.advance(
                operator,
                batch.key,
                "parsed",
                stats=[1],  # type: ignore[arg-type]
                expected_version=v,
            ),
        ),
        (
            "expected_version",
            lambda: velocity.imports.advance(operator, batch.key, "parsed", expected_version=0),
        ),
        ("batch_id", lambda: velocity.imports.get(operator, str(batch.key))),  # type: ignore[arg-type]
        ("source_system", lambda: velocity.imports.submit(operator, source_system="")),
        (
            "row_count",
            lambda: velocity.imports.submit(operator, source_system="csv", row_count=-1),
        ),
        (
            "content_sha256",
            lambda: velocity.imports.submit(operator, source_system="csv", content_sha256="x"),
        ),
        ("status", lambda: velocity.imports.list(operator, status="done")),
    ]
    for field, call in refusals:
        with pytest.raises(ValidationFailed) as caught:
            call()
        assert caught.value.field == field, field
    with pytest.raises(ConcurrencyConflict):
        velocity.imports.advance(operator, batch.key, "parsed", expected_version=batch.version + 1)
    with pytest.raises(NotFound):
        velocity.imports.get(operator, new_id())
    with pytest.raises(PermissionDenied):
        velocity.imports.submit(w.by_role["sales_agent"], source_system="csv")
    assert velocity.imports.get(operator, batch.key) == batch
    assert velocity.imports.list(operator).items == (batch,)


def test_batches_are_listed_newest_first_by_status(
    world: World,
) -> None:
    velocity, w, clock = world.velocity, world, world.clock
    operator = w.by_role["operator"]
    batches = []
    for _ in range(5):
        clock.advance(minutes=1)
        batches.append(_submit(velocity, operator))
    parsed = [
        velocity.imports.advance(operator, b.key, "parsed", expected_version=b.version)
        for b in batches[1:3]
    ]
    first = velocity.imports.list(operator, limit=3)
    assert first.next_cursor is not None
    rest = velocity.imports.list(operator, limit=3, cursor=first.next_cursor)
    assert [b.key for b in (*first.items, *rest.items)] == [b.key for b in reversed(batches)]
    assert rest.next_cursor is None
    only = velocity.imports.list(operator, status="parsed").items
    assert list(only) == list(reversed(parsed))


# --- every sequence of moves: exactly the lifecycle's moves succeed --------------------------

Move = tuple[str, ImportBatchStatus]
ALL_MOVES: list[Move] = [
    *(("advance", s) for s in FORWARD),
    ("fail", B.FAILED),
    ("retry", B.UPLOADED),
]


def _make(
    velocity: Velocity, who: Principal, reviewer: Principal, batch: ImportBatch, move: Move
) -> ImportBatch:
    """Make ``move``: ``who`` prepares the batch, ``reviewer`` (who never prepared it) approves."""
    verb, target = move
    version = batch.version
    if target is B.APPROVED:
        return velocity.imports.advance(reviewer, batch.key, target, expected_version=version)
    if verb == "fail":
        return velocity.imports.fail(who, batch.key, reason="broken", expected_version=version)
    if verb == "retry":
        return velocity.imports.retry(who, batch.key, expected_version=version)
    return velocity.imports.advance(who, batch.key, target, expected_version=version)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_exactly_the_lifecycle_moves_succeed(world: World, data: st.DataObject) -> None:
    velocity, w = world.velocity, world
    operator = w.by_role["operator"]
    manager = w.by_role["sales_manager"]
    batch = _submit(velocity, manager)
    for _ in range(data.draw(st.integers(0, 14), label="length")):
        allowed = [m for m in ALL_MOVES if IMPORT_BATCH.can(batch.status, m[1])]
        legal = bool(allowed) and data.draw(st.booleans(), label="legal")
        move = data.draw(st.sampled_from(allowed if legal else ALL_MOVES), label="move")
        if IMPORT_BATCH.can(batch.status, move[1]):
            after = _make(velocity, manager, operator, batch, move)
            assert (after.status, after.version) == (move[1], batch.version + 1)
            assert (after.failure_reason is not None) == (move[1] is B.FAILED)
            batch = after
        else:
            with pytest.raises(InvalidTransition) as caught:
                _make(velocity, manager, operator, batch, move)
            assert caught.value.current is batch.status
            assert set(caught.value.allowed) == {
                s.value for s in IMPORT_BATCH.allowed(batch.status)
            }
            assert velocity.imports.get(operator, batch.key) == batch
    assert velocity.imports.get(operator, batch.key) == batch
