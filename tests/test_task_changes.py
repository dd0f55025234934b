"""Reading one task and changing its details (``crm.tasks.get``/``update``), on both stores."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from tests.support.governance import release
from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.errors import (
    ConcurrencyConflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from velocity_domain.governance.policy import FieldRule
from velocity_domain.identity.entities import AuditEvent
from velocity_domain.intel.entities import Reminder, ReminderPriority, ReminderType
from velocity_domain.kernel.convert import to_dict
from velocity_domain.testing import unit_of_work


def _stored(velocity: Velocity, task: Reminder) -> Reminder:
    with unit_of_work(velocity) as uow:
        return uow.intel.reminders.get(task.key)


def _updates(velocity: Velocity, w: World, task: Reminder) -> list[AuditEvent]:
    events = velocity.audit.list(w.admin, action="crm.tasks.update").items
    return [e for e in events if e.target_ref == str(task.key)]


def _task(w: World, **more: Any) -> Reminder:
    args: dict[str, Any] = {"title": "Call back", "due_at": w.clock.now() + timedelta(days=1)}
    args.update(more)
    return w.velocity.tasks.create(w.agent_a, **args)


def test_get_reads_a_task_its_assignee_creator_or_client_owner_may_see(world: World) -> None:
    w, velocity = world, world.velocity
    own = _task(w, person_id=w.client_a.key)
    given_away = _task(w, assigned_user_id=w.agent_b.user_id)  # agent A made it for agent B
    theirs = velocity.tasks.create(
        w.agent_b, title="Ravi's site visit", due_at=w.clock.now(), person_id=w.client_b.key
    )
    assert velocity.tasks.get(w.agent_a, own.key) == own
    assert velocity.tasks.get(w.agent_a, given_away.key) == given_away  # its creator
    assert velocity.tasks.get(w.agent_b, given_away.key) == given_away  # its assignee
    assert velocity.tasks.get(w.by_role["sales_manager"], theirs.key) == theirs  # read_all
    with pytest.raises(NotFound) as hidden:
        velocity.tasks.get(w.agent_a, theirs.key)
    with pytest.raises(NotFound) as unknown:
        velocity.tasks.get(w.agent_a, uuid.uuid4())
    # a hidden task is told apart from none by nothing but its id
    assert str(hidden.value) == f"intel_reminders {theirs.key} not found"
    assert str(unknown.value) == f"intel_reminders {unknown.value.key} not found"
    with pytest.raises(ValidationFailed) as bad:
        velocity.tasks.get(w.agent_a, str(own.key))
    assert bad.value.field == "task_id"


def test_update_changes_only_the_named_details_and_audits_them(world: World) -> None:
    w, velocity = world, world.velocity
    task = _task(w, notes="Ask about parking", person_id=w.client_a.key)
    due = w.clock.now() + timedelta(days=3)
    changed = velocity.tasks.update(
        w.agent_a,
        task.key,
        expected_version=1,
        title="Call Asha back",
        priority="high",
        reminder_type=ReminderType.CALL_BACK,
        due_at=due,
        reason="she asked for Thursday",
    )
    assert (changed.title, changed.priority, changed.reminder_type, changed.due_at) == (
        "Call Asha back",
        ReminderPriority.HIGH,
        ReminderType.CALL_BACK,
        due,
    )
    assert changed.version == 2
    kept = ("notes", "person_id", "assigned_user_id", "status", "created_by_user_id")
    assert {f: getattr(changed, f) for f in kept} == {f: getattr(task, f) for f in kept}
    assert _stored(velocity, task) == changed
    assert velocity.tasks.get(w.agent_a, task.key) == changed

    (event,) = _updates(velocity, w, task)
    assert (event.actor_user_id, event.target_domain, event.reason) == (
        w.agent_a.user_id,
        "intel",
        "she asked for Thursday",
    )
    assert set(event.after_json) == {"title", "priority", "reminder_type", "due_at"}
    assert event.before_json["title"] == "Call back"
    assert "notes" not in event.after_json

    cleared = velocity.tasks.update(w.agent_a, task.key, expected_version=2, notes=None)
    assert (cleared.notes, cleared.title, cleared.version) == (None, "Call Asha back", 3)
    assert len(_updates(velocity, w, task)) == 2


def test_a_new_due_time_ends_a_snooze_and_other_changes_keep_it(world: World) -> None:
    w, velocity = world, world.velocity
    task = _task(w)
    later = w.clock.now() + timedelta(days=2)
    snoozed = velocity.tasks.snooze(w.agent_a, task.key, later, expected_version=1)
    renamed = velocity.tasks.update(w.agent_a, task.key, expected_version=2, title="Ring")
    assert (renamed.snoozed_until, renamed.due_at) == (later, later)
    same_time = velocity.tasks.update(w.agent_a, task.key, expected_version=3, due_at=later)
    assert same_time.snoozed_until == later
    past = w.clock.now() - timedelta(hours=1)  # a corrected date may lie in the past
    moved = velocity.tasks.update(w.agent_a, task.key, expected_version=4, due_at=past)
    assert (moved.due_at, moved.snoozed_until) == (past, None)
    assert snoozed.snoozed_until == later
    assert [t.key for t in velocity.tasks.overdue(w.agent_a)] == [task.key]


def test_a_done_task_can_still_be_corrected(world: World) -> None:
    w, velocity = world, world.velocity
    task = _task(w)
    done = velocity.tasks.complete(w.agent_a, task.key, expected_version=1)
    fixed = velocity.tasks.update(w.agent_a, task.key, expected_version=2, notes="She signed")
    assert (fixed.status, fixed.completed_at, fixed.notes) == (
        done.status,
        done.completed_at,
        "She signed",
    )


def test_a_stale_version_conflicts_and_writes_nothing(world: World) -> None:
    w, velocity = world, world.velocity
    task = _task(w)
    velocity.tasks.update(w.agent_a, task.key, expected_version=1, title="First")
    with pytest.raises(ConcurrencyConflict) as err:
        velocity.tasks.update(w.agent_a, task.key, expected_version=1, title="Second")
    assert (err.value.expected_version, err.value.actual_version) == (1, 2)
    assert _stored(velocity, task).title == "First"
    assert len(_updates(velocity, w, task)) == 1


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("no field", {}, "changes"),
    ("title empty", {"title": "  "}, "title"),
    ("title too long", {"title": "t" * 201}, "title"),
    ("title not text", {"title": 5}, "title"),
    ("title cleared", {"title": None}, "title"),
    ("notes too long", {"notes": "n" * 10_001}, "notes"),
    ("priority unknown", {"priority": "whenever"}, "priority"),
    ("type unknown", {"reminder_type": "lunch"}, "reminder_type"),
    ("due_at naive", {"due_at": "2030-01-01T10:00:00"}, "due_at"),
    ("due_at cleared", {"due_at": None}, "due_at"),
    ("status is no detail", {"status": "completed"}, "status"),
    ("assignee is no detail", {"assigned_user_id": uuid.uuid4()}, "assigned_user_id"),
    ("reason too long", {"title": "X", "reason": "r" * 501}, "reason"),
    ("version zero", {"title": "X", "expected_version": 0}, "expected_version"),
]


@pytest.mark.parametrize(("given", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_values_name_their_field_and_write_nothing(
    world: World, given: dict[str, Any], field: str
) -> None:
    w, velocity = world, world.velocity
    task = _task(w)
    arguments = {"expected_version": 1, **given}
    with pytest.raises(ValidationFailed) as err:
        velocity.tasks.update(w.agent_a, task.key, **arguments)
    assert err.value.field == field
    assert _stored(velocity, task) == task
    assert _updates(velocity, w, task) == []


def test_an_invisible_or_unknown_task_is_not_found_and_a_reader_is_refused(world: World) -> None:
    w, velocity = world, world.velocity
    theirs = velocity.tasks.create(
        w.agent_b, title="Ravi", due_at=w.clock.now(), person_id=w.client_b.key
    )
    for key in (theirs.key, uuid.uuid4()):
        with pytest.raises(NotFound):
            velocity.tasks.update(w.agent_a, key, expected_version=1, title="Mine now")
    analyst = w.by_role["analyst"]
    mine = velocity.tasks.create(
        w.admin, title="Report", due_at=w.clock.now(), assigned_user_id=analyst.user_id
    )
    assert velocity.tasks.get(analyst, mine.key) == mine  # a reader reads their own task
    with pytest.raises(PermissionDenied) as denied:
        velocity.tasks.update(analyst, mine.key, expected_version=1, title="Mine")
    assert denied.value.permission == "crm.tasks.write"
    assert _stored(velocity, theirs) == theirs
    assert _updates(velocity, w, theirs) == _updates(velocity, w, mine) == []


def test_a_held_update_writes_what_a_direct_one_would(world: World) -> None:
    w, velocity = world, world.velocity
    operator = w.by_role["operator"]
    urgent = FieldRule(
        "urgent_tasks",
        lambda c, _: "made urgent" if c.fields.get("priority") == "urgent" else None,
    )
    velocity.governance.policy.add(urgent)
    held, direct = _task(w), _task(w)
    wanted: dict[str, Any] = {"priority": "urgent", "title": "Now", "reason": "the bank called"}
    applied = release(
        velocity,
        operator,
        lambda: velocity.tasks.update(w.agent_a, held.key, expected_version=1, **wanted),
    )
    velocity.governance.policy.remove("urgent_tasks")
    written = velocity.tasks.update(w.agent_a, direct.key, expected_version=1, **wanted)
    assert applied == _stored(velocity, held)
    mine, theirs = to_dict(applied), to_dict(written)
    assert mine.pop("reminder_id") == str(held.key)
    assert theirs.pop("reminder_id") == str(direct.key)
    assert mine == theirs
    assert (applied.priority, applied.version) == (ReminderPriority.URGENT, 2)
    (event,) = _updates(velocity, w, held)
    (direct_event,) = _updates(velocity, w, direct)
    assert (event.before_json, event.after_json, event.reason) == (
        direct_event.before_json,
        direct_event.after_json,
        "the bank called",
    )
    assert event.actor_user_id == operator.user_id
