"""Tasks, logging interactions and property interests, on both stores."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.support.governance import release, reviewed
from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.crm.entities import PropertyInterestStatus
from velocity_domain.errors import (
    ApprovalRequired,
    ConcurrencyConflict,
    InvalidTransition,
    NotFound,
    ValidationFailed,
    WritebackFailed,
)
from velocity_domain.intel.entities import Channel, Reminder, ReminderStatus
from velocity_domain.inventory.entities import Project, Unit
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.kernel.convert import to_dict
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE
from velocity_domain.kernel.query import Eq, Query
from velocity_domain.testing import unit_of_work
from velocity_domain.workflow.entities import WritebackStatus


def _actions(velocity: Velocity, w: World, action: str) -> int:
    return len(velocity.audit.list(w.admin, action=action).items)


# --- tasks -----------------------------------------------------------------------------


def test_a_task_is_created_for_the_caller_and_listed_as_theirs(world: World) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    now = clock.now()
    task = velocity.tasks.create(
        w.agent_a, title="Call Asha back", due_at=now + timedelta(hours=1), person_id=w.client_a.key
    )
    assert task.assigned_user_id == w.agent_a.user_id
    assert task.created_by_user_id == w.agent_a.user_id
    assert task.status is ReminderStatus.OPEN
    assert [t.key for t in velocity.tasks.mine(w.agent_a)] == [task.key]
    assert velocity.tasks.mine(w.agent_b).items == ()
    assert _actions(velocity, w, "crm.tasks.create") == 1


def test_a_lead_fills_in_the_person_of_a_task(world: World) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    with unit_of_work(velocity) as uow:
        lead = uow.crm.leads.list(Query((Eq("person_id", w.client_a.key),))).items[0]
    task = velocity.tasks.create(
        w.agent_a, title="Qualify", due_at=clock.now() + timedelta(hours=1), lead_id=lead.key
    )
    assert task.person_id == w.client_a.key
    with pytest.raises(ValidationFailed) as err:
        velocity.tasks.create(
            w.admin,
            title="Mixed",
            due_at=clock.now(),
            lead_id=lead.key,
            person_id=w.client_b.key,
        )
    assert err.value.field == "lead_id"


def test_snooze_complete_reopen_and_assign(world: World) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    now = clock.now()
    task = velocity.tasks.create(w.agent_a, title="Send brochure", due_at=now + timedelta(hours=1))
    later = now + timedelta(days=2)
    snoozed = velocity.tasks.snooze(w.agent_a, task.key, later, expected_version=task.version)
    assert (snoozed.snoozed_until, snoozed.due_at, snoozed.version) == (later, later, 2)
    done = velocity.tasks.complete(w.agent_a, task.key, expected_version=snoozed.version)
    assert done.status is ReminderStatus.COMPLETED
    assert (done.completed_at, done.snoozed_until) == (now, None)
    assert velocity.tasks.mine(w.agent_a).items == ()
    with pytest.raises(InvalidTransition):
        velocity.tasks.complete(w.agent_a, task.key, expected_version=done.version)
    again = velocity.tasks.reopen(w.agent_a, task.key, expected_version=done.version)
    assert (again.status, again.completed_at) == (ReminderStatus.OPEN, None)
    with pytest.raises(InvalidTransition):
        velocity.tasks.reopen(w.agent_a, task.key, expected_version=again.version)
    moved = release(
        velocity,
        w.by_role["operator"],
        lambda: velocity.tasks.assign(
            w.agent_a, task.key, w.agent_b.user_id, expected_version=again.version
        ),
    )
    assert [t.key for t in velocity.tasks.mine(w.agent_b)] == [moved.key]
    for action in ("snooze", "complete", "reopen", "assign"):
        assert _actions(velocity, w, f"crm.tasks.{action}") == 1


def test_snoozing_into_the_past_is_refused(world: World) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    task = velocity.tasks.create(w.agent_a, title="Ring", due_at=clock.now())
    for until in (clock.now(), clock.now() - timedelta(minutes=1)):
        with pytest.raises(ValidationFailed) as err:
            velocity.tasks.snooze(w.agent_a, task.key, until, expected_version=task.version)
        assert err.value.field == "until"


def test_overdue_and_due_today(world: World) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    now = clock.set(clock.now().replace(hour=12, minute=0, second=0))
    agent = w.agent_a
    late = velocity.tasks.create(agent, title="Late", due_at=now - timedelta(days=2))
    this_morning = velocity.tasks.create(agent, title="Morning", due_at=now - timedelta(hours=3))
    tonight = velocity.tasks.create(agent, title="Tonight", due_at=now + timedelta(hours=5))
    velocity.tasks.create(agent, title="Tomorrow", due_at=now + timedelta(days=1))
    others = velocity.tasks.create(w.agent_b, title="B's", due_at=now - timedelta(days=1))
    assert [t.key for t in velocity.tasks.overdue(agent)] == [late.key, this_morning.key]
    manager = w.by_role["sales_manager"]
    assert [t.key for t in velocity.tasks.overdue(manager)] == [
        late.key,
        others.key,
        this_morning.key,
    ]
    only_b = velocity.tasks.overdue(manager, assigned_user_id=w.agent_b.user_id)
    assert [t.key for t in only_b] == [others.key]
    assert [t.key for t in velocity.tasks.due_today(agent)] == [this_morning.key, tonight.key]
    velocity.tasks.complete(agent, late.key, expected_version=late.version)
    assert [t.key for t in velocity.tasks.overdue(agent)] == [this_morning.key]


def test_a_stale_version_conflicts(world: World) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    task = velocity.tasks.create(w.agent_a, title="Ring", due_at=clock.now())
    velocity.tasks.complete(w.agent_a, task.key, expected_version=task.version)
    with pytest.raises(ConcurrencyConflict):
        velocity.tasks.assign(w.agent_a, task.key, w.agent_b.user_id, expected_version=1)


def test_tasks_of_another_agents_client_are_not_found(world: World) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    with pytest.raises(ValidationFailed) as err:  # as for a person who does not exist
        velocity.tasks.create(
            w.agent_a, title="Poach", due_at=clock.now(), person_id=w.client_b.key
        )
    assert (err.value.field, err.value.reason) == ("person_id", "names no person")
    theirs = velocity.tasks.create(
        w.agent_b, title="Mine", due_at=clock.now(), person_id=w.client_b.key
    )
    with pytest.raises(NotFound):
        velocity.tasks.complete(w.agent_a, theirs.key, expected_version=theirs.version)
    assert _actions(velocity, w, "crm.tasks.complete") == 0


def _task_row(velocity: Velocity, task_id: uuid.UUID) -> Reminder:
    with unit_of_work(velocity) as uow:
        return uow.intel.reminders.get(task_id)


def _assign_events(velocity: Velocity, w: World, task_id: uuid.UUID) -> list[Any]:
    events = velocity.audit.list(w.admin, action="crm.tasks.assign").items
    return [e for e in events if e.target_ref == str(task_id)]


def test_a_reassignment_waits_for_approval_then_writes_what_a_direct_write_would(
    world: World,
) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    operator = w.by_role["operator"]
    due = clock.now() + timedelta(days=1)
    task, twin = (
        velocity.tasks.create(w.agent_a, title="Site visit", due_at=due, person_id=w.client_a.key)
        for _ in range(2)
    )
    with pytest.raises(ApprovalRequired) as err:
        velocity.tasks.assign(w.agent_a, task.key, w.agent_b.user_id, expected_version=1)
    assert err.value.rule == "reassignment"
    proposal = err.value.proposal_id
    review = velocity.writebacks.get(operator, proposal)
    assert review.writeback.status is WritebackStatus.REVIEW_REQUIRED
    assert review.writeback.target_entity_ref == task.key
    assert [d.rule_name for d in review.decisions] == ["reassignment"]
    assert _task_row(velocity, task.key) == task
    velocity.writebacks.approve(operator, proposal, comment="agent B covers Kolkata")
    assert _task_row(velocity, task.key) == task
    assert _assign_events(velocity, w, task.key) == []

    execution = velocity.writebacks.execute(operator, proposal)
    assert execution.applied
    assert execution.row == _task_row(velocity, task.key)
    assert [t.key for t in velocity.tasks.mine(w.agent_b)] == [task.key]

    velocity.governance.policy.remove("reassignment")  # now the same change goes straight on
    direct = velocity.tasks.assign(w.agent_a, twin.key, w.agent_b.user_id, expected_version=1)
    executed = to_dict(_task_row(velocity, task.key))
    written = to_dict(direct)
    assert executed.pop("reminder_id") == str(task.key)
    assert written.pop("reminder_id") == str(twin.key)
    assert executed == written
    assert executed["assigned_user_id"] == str(w.agent_b.user_id)
    assert executed["version"] == 2
    (event,) = _assign_events(velocity, w, task.key)
    (direct_event,) = _assign_events(velocity, w, twin.key)
    assert (event.before_json, event.after_json) == (
        direct_event.before_json,
        direct_event.after_json,
    )
    assert event.actor_user_id == operator.user_id


def test_a_stale_reassignment_is_refused_before_it_is_proposed(world: World) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    task = velocity.tasks.create(w.agent_a, title="Ring", due_at=clock.now())
    velocity.tasks.snooze(w.agent_a, task.key, clock.now() + timedelta(hours=1), expected_version=1)
    with pytest.raises(ConcurrencyConflict):
        velocity.tasks.assign(w.agent_a, task.key, w.agent_b.user_id, expected_version=1)
    assert velocity.writebacks.list(w.by_role["operator"]).items == ()


def test_keeping_the_assignee_and_creating_for_another_user_go_straight_on(world: World) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    task = velocity.tasks.create(
        w.agent_a, title="Brief B", due_at=clock.now(), assigned_user_id=w.agent_b.user_id
    )
    assert task.assigned_user_id == w.agent_b.user_id
    same = velocity.tasks.assign(w.agent_a, task.key, w.agent_b.user_id, expected_version=1)
    assert same.version == 2
    assert velocity.writebacks.list(w.by_role["operator"]).items == ()


# --- interactions.log ------------------------------------------------------------------


def test_a_call_is_logged_with_its_call_and_transcript(world: World) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    at = clock.now() - timedelta(hours=1)
    logged = velocity.interactions.log(
        w.agent_a,
        person_id=w.client_a.key,
        channel="call",
        direction="outbound",
        happened_at=at,
        interaction_type="follow_up",
        summary="Discussed the 3BHK",
        call={"duration_seconds": 300, "recording_ref": "rec-1", "outcome": "answered"},
        transcript={
            "full_text": "Hello Asha",
            "language": "en-IN",
            "speaker_segments_json": [{"speaker": "agent", "start": 0, "text": "Hello Asha"}],
        },
    )
    assert logged.recorded_by_user_id == w.agent_a.user_id
    detail = velocity.interactions.get(w.agent_a, logged.key)
    tables = sorted(a.table for a in detail.artifacts)
    assert tables == ["intel_calls", "intel_transcripts"]
    timeline = velocity.interactions.timeline(w.agent_a, w.client_a.key, channels=["call"])
    assert logged.key in [i.key for i in timeline]
    assert _actions(velocity, w, "crm.interactions.log") == 1


def test_message_email_and_visit_details(world: World) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    at = clock.now()
    chat = velocity.interactions.log(
        w.agent_a,
        person_id=w.client_a.key,
        channel=Channel.WHATSAPP,
        happened_at=at,
        message={"sender_role": "client", "message_text": "Is the 2BHK free?"},
    )
    mail = velocity.interactions.log(
        w.agent_a,
        person_id=w.client_a.key,
        channel="email",
        happened_at=at,
        email={"from_address": "Asha@Example.com", "subject": "Brochure", "to_addresses": []},
    )
    with unit_of_work(velocity) as uow:
        project = uow.inventory.projects.add(Project(project_name="Lakeview"))
        uow.commit()
    visit = velocity.interactions.log(
        w.agent_a,
        person_id=w.client_a.key,
        channel="visit",
        happened_at=at,
        visit={"project_id": project.key, "host_user_id": w.agent_a.user_id, "visit_notes": "ok"},
    )
    with unit_of_work(velocity) as uow:
        by = Query((Eq("interaction_id", chat.key),), limit=MAX_PAGE_SIZE)
        assert uow.intel.messages.list(by).items[0].sent_at == at
        by = Query((Eq("interaction_id", mail.key),), limit=MAX_PAGE_SIZE)
        assert uow.intel.emails.list(by).items[0].from_address == "asha@example.com"
        by = Query((Eq("interaction_id", visit.key),), limit=MAX_PAGE_SIZE)
        (row,) = uow.intel.visits.list(by).items
        assert (row.person_id, row.project_id, row.status.value) == (
            w.client_a.key,
            project.key,
            "done",
        )


def test_a_bad_detail_writes_nothing(world: World) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    before = velocity.interactions.timeline(w.admin, w.client_a.key).items
    with pytest.raises(ValidationFailed) as err:
        velocity.interactions.log(
            w.admin,
            person_id=w.client_a.key,
            channel="call",
            direction="inbound",
            happened_at=clock.now(),
            call={"duration_seconds": 3},
            transcript={"full_text": ""},
        )
    assert err.value.field == "transcript.full_text"
    assert velocity.interactions.timeline(w.admin, w.client_a.key).items == before
    assert _actions(velocity, w, "crm.interactions.log") == 0


def test_logging_for_another_agents_client_is_not_found(world: World) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    with pytest.raises(NotFound):
        velocity.interactions.log(
            w.agent_a, person_id=w.client_b.key, channel="other", happened_at=clock.now()
        )


# --- property interests ----------------------------------------------------------------


def _project_and_unit(velocity: Velocity) -> tuple[Project, Unit]:
    with unit_of_work(velocity) as uow:
        project = uow.inventory.projects.add(Project(project_name="Lakeview"))
        unit = uow.inventory.units.add(Unit(project_id=project.key, unit_label="A-101"))
        uow.commit()
    return project, unit


def test_record_update_close_and_list_interests(world: World) -> None:
    velocity, w = world.velocity, world
    project, unit = _project_and_unit(velocity)
    interest = velocity.property_interests.record(
        w.agent_a,
        person_id=w.client_a.key,
        project_id=project.key,
        unit_id=unit.key,
        configuration="3BHK",
        budget_min=Decimal("9000000"),
        budget_max=12_000_000,
        priority="high",
    )
    assert interest.budget_max == Decimal("12000000.00")
    changed = release(
        velocity,
        w.by_role["operator"],
        lambda: velocity.property_interests.update(
            w.agent_a,
            interest.key,
            expected_version=1,
            budget_max=Decimal("13000000"),
            notes="flex",
        ),
    )
    assert (changed.version, changed.configuration, changed.notes) == (2, "3BHK", "flex")
    with pytest.raises(ConcurrencyConflict):
        velocity.property_interests.update(
            w.agent_a, interest.key, expected_version=1, notes="stale"
        )
    closed = velocity.property_interests.close(
        w.agent_a, interest.key, expected_version=2, reason="bought elsewhere"
    )
    assert closed.status is PropertyInterestStatus.CLOSED
    assert closed.closed_at is not None
    with pytest.raises(InvalidTransition):
        velocity.property_interests.close(w.agent_a, interest.key, expected_version=3)
    with pytest.raises(ValidationFailed) as err:
        velocity.property_interests.update(w.agent_a, interest.key, expected_version=3, notes="x")
    assert err.value.field == "interest_id"
    second = velocity.property_interests.record(w.agent_a, person_id=w.client_a.key)
    everything = velocity.property_interests.of_client(w.agent_a, w.client_a.key)
    assert {i.key for i in everything} == {interest.key, second.key}
    active = velocity.property_interests.of_client(w.agent_a, w.client_a.key, "active")
    assert [i.key for i in active] == [second.key]
    for action in ("record", "update", "close"):
        assert _actions(velocity, w, f"crm.interests.{action}") >= 1
    events = velocity.audit.list(w.admin, action="crm.interests.close").items
    assert events[0].reason == "bought elsewhere"


def test_interests_of_another_agents_client_are_not_found(world: World) -> None:
    velocity, w = world.velocity, world
    theirs = velocity.property_interests.record(w.agent_b, person_id=w.client_b.key)
    with pytest.raises(NotFound):
        velocity.property_interests.of_client(w.agent_a, w.client_b.key)
    with pytest.raises(NotFound):
        velocity.property_interests.record(w.agent_a, person_id=w.client_b.key)
    with pytest.raises(NotFound):
        velocity.property_interests.close(w.agent_a, theirs.key, expected_version=1)


def test_a_budget_change_is_reviewed_and_other_changes_are_not(world: World) -> None:
    velocity, w = world.velocity, world
    operator = w.by_role["operator"]
    interest = velocity.property_interests.record(
        w.agent_a, person_id=w.client_a.key, budget_max=Decimal("9000000")
    )
    proposal = reviewed(
        lambda: velocity.property_interests.update(
            w.agent_a, interest.key, expected_version=1, budget_max=Decimal("9500000")
        )
    )
    review = velocity.writebacks.get(operator, proposal)
    assert [d.rule_name for d in review.decisions] == ["price_or_value"]
    (unchanged,) = velocity.property_interests.of_client(w.agent_a, w.client_a.key)
    assert unchanged == interest
    same_budget = velocity.property_interests.update(
        w.agent_a, interest.key, expected_version=1, budget_max=9_000_000, priority="high"
    )
    assert (same_budget.version, same_budget.priority.value) == (2, "high")
    velocity.writebacks.approve(operator, proposal)
    with pytest.raises(WritebackFailed):
        velocity.writebacks.execute(operator, proposal)  # based on version 1, now at 2
    failed = velocity.writebacks.get(operator, proposal).writeback
    assert failed.status is WritebackStatus.FAILED
    assert failed.failure_reason is not None
    assert "concurrency_conflict" in failed.failure_reason
    (kept,) = velocity.property_interests.of_client(w.agent_a, w.client_a.key)
    assert kept == same_budget


# --- bad input tables ------------------------------------------------------------------

Call = Callable[[Velocity, FixedClock, World], Any]
LONG = "x" * 10_001
UNKNOWN = uuid.UUID("00000000-0000-7000-8000-000000000001")


def _task_args(**over: Any) -> Call:
    def call(v: Velocity, c: FixedClock, w: World) -> Any:
        args: dict[str, Any] = {"title": "Call back", "due_at": c.now()}
        args.update(over)
        return v.tasks.create(w.admin, **args)

    return call


def _snooze(until: Any) -> Call:
    def call(v: Velocity, c: FixedClock, w: World) -> Any:
        task = v.tasks.create(w.admin, title="t", due_at=c.now())
        return v.tasks.snooze(w.admin, task.key, until, expected_version=1)

    return call


TASK_BAD: list[tuple[str, Call, str]] = [
    ("title wrong type", _task_args(title=42), "title"),
    ("title empty", _task_args(title="  "), "title"),
    ("title too long", _task_args(title="t" * 201), "title"),
    ("title control char", _task_args(title="Call\x07back"), "title"),
    ("notes too long", _task_args(notes=LONG), "notes"),
    ("due_at naive", _task_args(due_at="2026-01-01"), "due_at"),
    ("priority unknown", _task_args(priority="whenever"), "priority"),
    ("unknown assignee", _task_args(assigned_user_id=UNKNOWN), "assigned_user_id"),
    ("assignee wrong type", _task_args(assigned_user_id="u1"), "assigned_user_id"),
    ("unknown person", _task_args(person_id=UNKNOWN), "person_id"),
    ("unknown lead", _task_args(lead_id=UNKNOWN), "lead_id"),
    ("unknown opportunity", _task_args(opportunity_id=UNKNOWN), "opportunity_id"),
    ("snooze wrong type", _snooze("tomorrow"), "until"),
]


@pytest.mark.parametrize(("call", "field"), [t[1:] for t in TASK_BAD], ids=[t[0] for t in TASK_BAD])
def test_bad_task_input(world: World, call: Call, field: str) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    with pytest.raises(ValidationFailed) as err:
        call(velocity, clock, w)
    assert err.value.field == field


def _log(**over: Any) -> Call:
    def call(v: Velocity, c: FixedClock, w: World) -> Any:
        args: dict[str, Any] = {
            "person_id": w.client_a.key,
            "channel": "call",
            "direction": "inbound",
            "happened_at": c.now(),
        }
        args.update(over)
        return v.interactions.log(w.admin, **args)

    return call


LOG_BAD: list[tuple[str, Call, str]] = [
    ("person wrong type", _log(person_id="asha"), "person_id"),
    ("channel unknown", _log(channel="pigeon"), "channel"),
    ("happened_at naive", _log(happened_at="yesterday"), "happened_at"),
    ("summary too long", _log(summary=LONG), "summary"),
    ("summary control char", _log(summary="a\x00b"), "summary"),
    ("unknown lead", _log(lead_id=UNKNOWN), "lead_id"),
    ("unknown opportunity", _log(opportunity_id=UNKNOWN), "opportunity_id"),
    ("email on a call", _log(email={"from_address": "a@b.co"}), "email"),
    ("message on a call", _log(message={"sender_role": "client"}), "message"),
    ("transcript without call", _log(transcript={"full_text": "hi"}), "transcript"),
    ("detail not a dict", _log(call=["x"]), "call"),
    ("unknown detail field", _log(call={"colour": "red"}), "call.colour"),
    ("negative duration", _log(call={"duration_seconds": -5}), "call.duration_seconds"),
    ("duration wrong type", _log(call={"duration_seconds": "long"}), "call.duration_seconds"),
    ("oversized ref", _log(call={"recording_ref": "r" * 501}), "call.recording_ref"),
    ("unknown agent", _log(call={"agent_user_id": UNKNOWN}), "call.agent_user_id"),
    ("call direction missing", _log(direction=None, call={}), "call.call_direction"),
    (
        "bad email address",
        _log(channel="email", email={"from_address": "not an address"}),
        "email.from_address",
    ),
    (
        "unknown project",
        _log(channel="visit", visit={"project_id": UNKNOWN}),
        "visit.project_id",
    ),
    (
        "control char in message",
        _log(channel="message", message={"sender_role": "client", "message_text": "a\x1bb"}),
        "message.message_text",
    ),
]


@pytest.mark.parametrize(("call", "field"), [t[1:] for t in LOG_BAD], ids=[t[0] for t in LOG_BAD])
def test_bad_log_input(world: World, call: Call, field: str) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    with pytest.raises(ValidationFailed) as err:
        call(velocity, clock, w)
    assert err.value.field == field


def _record(**over: Any) -> Call:
    def call(v: Velocity, c: FixedClock, w: World) -> Any:
        args: dict[str, Any] = {"person_id": w.client_a.key}
        args.update(over)
        return v.property_interests.record(w.admin, **args)

    return call


def _update(**over: Any) -> Call:
    def call(v: Velocity, c: FixedClock, w: World) -> Any:
        interest = v.property_interests.record(w.admin, person_id=w.client_a.key)
        return v.property_interests.update(w.admin, interest.key, expected_version=1, **over)

    return call


INTEREST_BAD: list[tuple[str, Call, str]] = [
    ("person wrong type", _record(person_id=7), "person_id"),
    ("configuration empty", _record(configuration=""), "configuration"),
    ("configuration too long", _record(configuration="c" * 65), "configuration"),
    ("configuration control char", _record(configuration="3\tBHK"), "configuration"),
    ("budget float", _record(budget_min=1.5), "budget_min"),
    ("budget negative", _record(budget_min=Decimal(-1)), "budget_min"),
    ("budget inverted", _record(budget_min=10, budget_max=5), "budget_max"),
    ("currency lower case", _record(currency="inr"), "currency"),
    ("priority unknown", _record(priority="asap"), "priority"),
    ("notes too long", _record(notes=LONG), "notes"),
    ("unknown project", _record(project_id=UNKNOWN), "project_id"),
    ("unknown unit", _record(unit_id=UNKNOWN), "unit_id"),
    ("update budget inverted", _update(budget_min=10, budget_max=5), "budget_max"),
    ("update unknown project", _update(project_id=UNKNOWN), "project_id"),
    ("update currency", _update(currency="RUPEES"), "currency"),
]


@pytest.mark.parametrize(
    ("call", "field"), [t[1:] for t in INTEREST_BAD], ids=[t[0] for t in INTEREST_BAD]
)
def test_bad_interest_input(world: World, call: Call, field: str) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    with pytest.raises(ValidationFailed) as err:
        call(velocity, clock, w)
    assert err.value.field == field


@pytest.mark.parametrize(
    "call",
    [
        lambda v, c, w: v.tasks.complete(w.admin, UNKNOWN, expected_version=1),
        lambda v, c, w: v.property_interests.close(w.admin, UNKNOWN, expected_version=1),
        lambda v, c, w: v.property_interests.of_client(w.admin, UNKNOWN),
        lambda v, c, w: v.interactions.log(
            w.admin, person_id=UNKNOWN, channel="other", happened_at=c.now()
        ),
    ],
    ids=["task", "interest", "interests of client", "log for person"],
)
def test_unknown_records_are_not_found(world: World, call: Call) -> None:
    velocity, clock, w = world.velocity, world.clock, world
    with pytest.raises(NotFound):
        call(velocity, clock, w)
