"""``/api/crm/tasks``: reminders and follow-ups, and what is done with them (domain: intel).

Tasks are stored in ``intel_reminders``. A ``PUT`` changes a task's details
(title, notes, type, priority, due time); its status and assignee move by
its actions, each a ``POST`` on the task: complete, reopen, snooze, assign.
Every change needs ``If-Match`` with the task's version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.api.routing import Call, Created, Family, Param, Route, page_params
from velocity_domain.errors import ConcurrencyConflict, InvalidTransition
from velocity_domain.intel.entities import Reminder, ReminderPriority, ReminderType

__all__ = ["FAMILY", "TaskAssignment", "TaskChange", "TaskDraft", "TaskSnooze"]

PREFIX = "/api/crm/tasks"


@attrs.frozen
class TaskDraft:
    """A new open task, assigned to the caller unless ``assigned_user_id`` names another user.

    A task may hang off a person, a lead or an opportunity (the caller must
    see them, and they must be of one person); a lead or opportunity fills
    in its person.
    """

    title: str
    due_at: datetime
    assigned_user_id: UUID | None = None
    person_id: UUID | None = None
    lead_id: UUID | None = None
    opportunity_id: UUID | None = None
    notes: str | None = None
    priority: ReminderPriority = ReminderPriority.MEDIUM
    reminder_type: ReminderType = ReminderType.FOLLOW_UP


@attrs.frozen
class TaskChange:
    """The details of a task to change; a field left out keeps its value, ``null`` clears notes.

    A new ``due_at`` ends a snooze; it may lie in the past (a corrected
    date). ``reason`` is written to the audit trail.
    """

    title: str | None = None
    notes: str | None = None
    reminder_type: ReminderType | None = None
    priority: ReminderPriority | None = None
    due_at: datetime | None = None
    reason: str | None = None


@attrs.frozen
class TaskSnooze:
    """When an open task is due again: a time in the future (with its offset)."""

    until: datetime


@attrs.frozen
class TaskAssignment:
    """The user a task is given to; giving it to another user is held for approval by default."""

    assigned_user_id: UUID


def _mine(call: Call) -> Any:
    return call.velocity.tasks.mine(call.principal, **call.query("limit", "cursor"))


def _overdue(call: Call) -> Any:
    return call.velocity.tasks.overdue(
        call.principal, **call.query("assigned_user_id", "limit", "cursor")
    )


def _due_today(call: Call) -> Any:
    return call.velocity.tasks.due_today(call.principal, **call.query("limit", "cursor"))


def _create(call: Call) -> Created:
    task = call.velocity.tasks.create(call.principal, **call.arguments())
    return Created(task, f"{PREFIX}/{task.reminder_id}")


def _get(call: Call) -> Reminder:
    return call.velocity.tasks.get(call.principal, call["task_id"])


def _version(call: Call) -> int:
    assert call.version is not None  # a conditional route always has one
    return call.version


def _update(call: Call) -> Reminder:
    return call.velocity.tasks.update(
        call.principal,
        call["task_id"],
        expected_version=_version(call),
        reason=call.body.reason,
        **call.given(exclude=("reason",)),
    )


def _complete(call: Call) -> Reminder:
    return call.velocity.tasks.complete(
        call.principal, call["task_id"], expected_version=_version(call)
    )


def _reopen(call: Call) -> Reminder:
    return call.velocity.tasks.reopen(
        call.principal, call["task_id"], expected_version=_version(call)
    )


def _snooze(call: Call) -> Reminder:
    return call.velocity.tasks.snooze(
        call.principal, call["task_id"], call.body.until, expected_version=_version(call)
    )


def _assign(call: Call) -> Reminder:
    return call.velocity.tasks.assign(
        call.principal, call["task_id"], call.body.assigned_user_id, expected_version=_version(call)
    )


_ID = Param("task_id", UUID, where="path", description="the task's reminder_id")
_MOVES = (ConcurrencyConflict, InvalidTransition)

FAMILY = Family(
    name="crm.tasks",
    domain="intel",
    prefix=PREFIX,
    summary="Tasks: reminders and follow-ups, created, changed, completed, snoozed and reassigned.",
    routes=(
        Route(
            "GET",
            "",
            "crm.tasks.mine",
            "The caller's open tasks, soonest due first.",
            _mine,
            params=page_params(),
            returns=Reminder,
            many=True,
        ),
        Route(
            "GET",
            "/overdue",
            "crm.tasks.overdue",
            "Open tasks past their due time, oldest first (only one's own without"
            " crm.contacts.read_all).",
            _overdue,
            params=(
                Param("assigned_user_id", UUID | None, description="only this user's tasks"),
                *page_params(),
            ),
            returns=Reminder,
            many=True,
        ),
        Route(
            "GET",
            "/due-today",
            "crm.tasks.due_today",
            "The caller's open tasks due in the current UTC day, soonest first.",
            _due_today,
            params=page_params(),
            returns=Reminder,
            many=True,
        ),
        Route(
            "POST",
            "",
            "crm.tasks.create",
            "Create an open task (the caller's unless it names another assignee).",
            _create,
            body=TaskDraft,
            returns=Reminder,
            status=201,
        ),
        Route(
            "GET",
            "/{task_id}",
            "crm.tasks.get",
            "Read one task (the caller's own, one they created, or one of a client they see).",
            _get,
            params=(_ID,),
            returns=Reminder,
        ),
        Route(
            "PUT",
            "/{task_id}",
            "crm.tasks.update",
            "Change the details the body names (not status or assignee), if the task is at the"
            " If-Match version.",
            _update,
            params=(_ID,),
            body=TaskChange,
            returns=Reminder,
            conditional=True,
            errors=(ConcurrencyConflict,),
        ),
        Route(
            "POST",
            "/{task_id}/complete",
            "crm.tasks.complete",
            "Mark an open task completed now, if it is at the If-Match version.",
            _complete,
            params=(_ID,),
            returns=Reminder,
            conditional=True,
            errors=_MOVES,
        ),
        Route(
            "POST",
            "/{task_id}/reopen",
            "crm.tasks.reopen",
            "Open a completed or cancelled task again, if it is at the If-Match version.",
            _reopen,
            params=(_ID,),
            returns=Reminder,
            conditional=True,
            errors=_MOVES,
        ),
        Route(
            "POST",
            "/{task_id}/snooze",
            "crm.tasks.snooze",
            "Push an open task's due time to a later time, if it is at the If-Match version.",
            _snooze,
            params=(_ID,),
            body=TaskSnooze,
            returns=Reminder,
            conditional=True,
            errors=_MOVES,
        ),
        Route(
            "POST",
            "/{task_id}/assign",
            "crm.tasks.assign",
            "Give the task to a user, if it is at the If-Match version (held for approval"
            " when it changes hands).",
            _assign,
            params=(_ID,),
            body=TaskAssignment,
            returns=Reminder,
            conditional=True,
            errors=(ConcurrencyConflict,),
        ),
    ),
)
