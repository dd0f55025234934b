"""The tasks route family (``/api/crm/tasks``): reminders and follow-ups in ``intel_reminders``.

A task may hang off a person, a lead or an opportunity; a lead or opportunity
fills in its person. Snoozing moves the due time (``due_at``) to the snooze
time and records it in ``snoozed_until``, so every list reads one column.

Visibility: a principal with ``crm.contacts.read_all`` sees every task; anyone
else sees a task assigned to or created by them, or one linked to a person
they may see. The lists of someone without ``read_all`` cover their own tasks.

Governance (spec section 9): creating a task, changing its details and
assigning it pass the writeback policy before anything is written (no
default rule holds a change of a task's details; a host's rule may). Giving
a task to another user
changes ``assigned_user_id``, so by default it is stored for review (rule
``reassignment``) and ``ApprovalRequired`` is raised; the approved writeback
applies it later. Snoozing, completing and reopening are the assignee's own
bookkeeping of a task: they change no assignee, money or contact detail, so
they are written at once without a policy check.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.crm.entities import Lead, Opportunity, Person
from velocity_domain.errors import (
    InvalidTransition,
    ValidationFailed,
)
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.service import GovernedUpdate, Service, applier, serves
from velocity_domain.intel.entities import Reminder, ReminderPriority, ReminderStatus, ReminderType
from velocity_domain.kernel.arguments import UNCHANGED, Unchanged, Version, changes
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Filter, Query, Range, asc
from velocity_domain.uow import UnitOfWork

__all__ = ["TaskService"]

WRITE = "crm.tasks.write"
READ = "crm.tasks.read"
CREATE = register("crm.tasks.create", WRITE, "create a task (reminder or follow-up)")
ASSIGN = register("crm.tasks.assign", WRITE, "give a task to another user")
SNOOZE = register("crm.tasks.snooze", WRITE, "push a task's due time into the future")
COMPLETE = register("crm.tasks.complete", WRITE, "mark a task done")
REOPEN = register("crm.tasks.reopen", WRITE, "open a completed or cancelled task again")
UPDATE = register("crm.tasks.update", WRITE, "change a task's title, notes, type, priority or due")
GET = register("crm.tasks.get", READ, "read one task")
MINE = register("crm.tasks.mine", READ, "the principal's open tasks by due time")
OVERDUE = register("crm.tasks.overdue", READ, "open tasks past their due time")
DUE_TODAY = register("crm.tasks.due_today", READ, "the principal's open tasks due today (UTC)")

_LIFECYCLE = "task"
#: The fields :meth:`TaskService.update` may change (status and assignee have their own actions).
DETAILS = ("title", "notes", "reminder_type", "priority", "due_at")


def _check_user(uow: UnitOfWork, user_id: UUID) -> None:
    """Refuse an assignee who is no user."""
    if uow.identity.users.find(user_id) is None:
        raise ValidationFailed("assigned_user_id", "names no user", value=user_id)


def _check_assignee(uow: UnitOfWork, _before: Reminder, wanted: Reminder) -> None:
    """Refuse to give a task to someone who is no user."""
    _check_user(uow, wanted.assigned_user_id)


def _person_of_links(
    uow: UnitOfWork,
    person_id: UUID | None,
    lead_id: UUID | None,
    opportunity_id: UUID | None,
) -> UUID | None:
    """The one person a task's links point to; refuse unknown leads and opportunities.

    A task may name its person directly, through a lead, or through an
    opportunity; whatever it names must agree on one person.
    """
    people: dict[str, UUID] = {}
    if person_id is not None:
        people["person_id"] = person_id
    if lead_id is not None:
        lead = uow.crm.leads.find(lead_id)
        if lead is None:
            raise ValidationFailed("lead_id", "names no lead", value=lead_id)
        people["lead_id"] = lead.person_id
    if opportunity_id is not None:
        opp = uow.crm.opportunities.find(opportunity_id)
        if opp is None:
            raise ValidationFailed("opportunity_id", "names no opportunity", value=opportunity_id)
        people["opportunity_id"] = opp.person_id
    return _one_person(people, {"lead_id": lead_id, "opportunity_id": opportunity_id})


def _one_person(people: dict[str, UUID], given: dict[str, UUID | None]) -> UUID | None:
    """The one person of a task's links (``None`` if none); a disagreement names the link."""
    if not people:
        return None
    first = next(iter(people.values()))
    for field, other in people.items():
        if other != first:
            raise ValidationFailed(
                field, "belongs to another person than the task's", value=given.get(field, other)
            )
    return first


_ASSIGN = GovernedUpdate(ASSIGN, Reminder, "intel", _check_assignee)
_UPDATE = GovernedUpdate(UPDATE, Reminder, "intel")


class TaskService(Service):
    """Tasks: reminders and follow-ups, stored in ``intel_reminders``."""

    @serves(CREATE)
    def create(
        self,
        principal: Principal,
        *,
        title: str,
        due_at: datetime,
        assigned_user_id: UUID | None = None,
        person_id: UUID | None = None,
        lead_id: UUID | None = None,
        opportunity_id: UUID | None = None,
        notes: str | None = None,
        priority: ReminderPriority | str = ReminderPriority.MEDIUM,
        reminder_type: ReminderType | str = ReminderType.FOLLOW_UP,
    ) -> Reminder:
        """Create an open task, by default assigned to the principal's own user.

        The write passes the writeback policy first (``ApprovalRequired`` when
        it asks for a review).
        """
        now = self.clock.now()

        def build(uow: UnitOfWork) -> Reminder:
            assignee = assigned_user_id if assigned_user_id is not None else principal.user_id
            if assignee is None:
                raise ValidationFailed(
                    "assigned_user_id", "is required for a principal without a user"
                )
            _check_user(uow, assignee)
            fields: dict[str, Any] = {
                "title": title,
                "notes": notes,
                "reminder_type": reminder_type,
                "person_id": self._linked_person(
                    uow, principal, person_id, lead_id, opportunity_id
                ),
                "lead_id": lead_id,
                "opportunity_id": opportunity_id,
                "assigned_user_id": assignee,
                "created_by_user_id": principal.user_id,
                "due_at": due_at,
                "priority": priority,
                "created_at": now,
                "updated_at": now,
            }
            return Reminder(**fields)

        return self._governed_create(principal, CREATE, build, insert=self._insert)

    def _apply_create(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> Reminder:
        task = self._new_row(change, Reminder)
        if task.status is not ReminderStatus.OPEN:
            raise ValidationFailed("status", "a new task is open", value=task.status)
        _check_user(uow, task.assigned_user_id)
        linked = _person_of_links(uow, task.person_id, task.lead_id, task.opportunity_id)
        if linked is not None:
            if uow.crm.people.find(linked) is None:
                raise ValidationFailed("person_id", "names no person", value=linked)
            task = attrs.evolve(task, person_id=linked)  # a lead or deal fills in its person
        return self._insert(uow, principal, task)

    def _insert(self, uow: UnitOfWork, principal: Principal, task: Reminder) -> Reminder:
        return self._add_audited(uow, principal, CREATE.name, task, domain="intel")

    @serves(ASSIGN)
    def assign(
        self, principal: Principal, task_id: UUID, user_id: UUID, *, expected_version: Version
    ) -> Reminder:
        """Give the task to ``user_id`` (an existing user).

        A stale version is ``ConcurrencyConflict`` at once. Giving the task to
        another user is reviewed by default (rule ``reassignment``): the change
        is stored and ``ApprovalRequired`` carries the proposal's id.
        """
        given = {"assigned_user_id": user_id}
        return self._governed_update(
            principal, _ASSIGN, task_id, expected_version, given, apply=self._apply_assign
        )

    _apply_assign = applier(_ASSIGN)

    @serves(UPDATE)
    def update(
        self,
        principal: Principal,
        task_id: UUID,
        *,
        expected_version: Version,
        title: str | Unchanged = UNCHANGED,
        notes: str | Unchanged | None = UNCHANGED,
        reminder_type: ReminderType | str | Unchanged = UNCHANGED,
        priority: ReminderPriority | str | Unchanged = UNCHANGED,
        due_at: datetime | Unchanged = UNCHANGED,
        reason: str | None = None,
    ) -> Reminder:
        """Change the named details of a task the principal may see (others stay as they are).

        Only the fields named change; ``None`` clears the notes, and an update
        naming no field is refused. Status and assignee are not details: they
        move by :meth:`complete`, :meth:`reopen` and :meth:`assign`. A new
        ``due_at`` ends a snooze (``snoozed_until`` is cleared); it may be in
        the past, as when a date is corrected. A stale version is
        ``ConcurrencyConflict`` at once. The change passes the writeback
        policy first; ``reason`` goes to the audit trail.
        """
        named = changes(
            title=title,
            notes=notes,
            reminder_type=reminder_type,
            priority=priority,
            due_at=due_at,
        )
        return self._governed_update(
            principal,
            _UPDATE,
            task_id,
            expected_version,
            named,
            context={"reason": reason},
            apply=self._apply_update,
        )

    def _apply_update(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> Reminder:
        before, wanted = self._proposed_over(uow, change, Reminder)
        if wanted.due_at != before.due_at and wanted.snoozed_until is not None:
            wanted = attrs.evolve(wanted, snoozed_until=None)  # rescheduled: no longer snoozed
        reason = change.context.get("reason")
        return self._write_update(
            uow, principal, change, before, wanted, domain="intel", reason=reason
        )

    @serves(GET)
    def get(self, principal: Principal, task_id: UUID) -> Reminder:
        """Read one task; one the principal may not see is ``NotFound``, as an unknown one.

        The principal sees a task assigned to or created by them, or one of a
        person they may see (every task with ``crm.contacts.read_all``), as
        for every other action on a task.
        """
        with self._reading(principal, GET) as uow:
            return self._visible_task(uow, principal, task_id)

    @serves(SNOOZE)
    def snooze(
        self, principal: Principal, task_id: UUID, until: datetime, *, expected_version: int
    ) -> Reminder:
        """Push an open task's due time to ``until``, which must be in the future."""
        now = self.clock.now()
        with self._begin(principal, SNOOZE) as uow:
            if until <= now:
                raise ValidationFailed("until", "must be in the future", value=until)
            current = self._visible_task(uow, principal, task_id)
            if current.status is not ReminderStatus.OPEN:
                raise InvalidTransition(
                    _LIFECYCLE, current.status, "snoozed", [ReminderStatus.OPEN]
                )
            return self._change(
                uow,
                principal,
                SNOOZE.name,
                current,
                expected_version,
                due_at=until,
                snoozed_until=until,
            )

    @serves(COMPLETE)
    def complete(self, principal: Principal, task_id: UUID, *, expected_version: int) -> Reminder:
        """Mark an open task completed now."""
        now = self.clock.now()
        with self._begin(principal, COMPLETE) as uow:
            current = self._visible_task(uow, principal, task_id)
            if current.status is not ReminderStatus.OPEN:
                raise InvalidTransition(_LIFECYCLE, current.status, ReminderStatus.COMPLETED, [])
            return self._change(
                uow,
                principal,
                COMPLETE.name,
                current,
                expected_version,
                status=ReminderStatus.COMPLETED,
                completed_at=now,
                snoozed_until=None,
            )

    @serves(REOPEN)
    def reopen(self, principal: Principal, task_id: UUID, *, expected_version: int) -> Reminder:
        """Open a completed or cancelled task again."""
        with self._begin(principal, REOPEN) as uow:
            current = self._visible_task(uow, principal, task_id)
            if current.status is ReminderStatus.OPEN:
                raise InvalidTransition(
                    _LIFECYCLE,
                    current.status,
                    ReminderStatus.OPEN,
                    [ReminderStatus.COMPLETED, ReminderStatus.CANCELLED],
                )
            return self._change(
                uow,
                principal,
                REOPEN.name,
                current,
                expected_version,
                status=ReminderStatus.OPEN,
                completed_at=None,
            )

    @serves(MINE)
    def mine(
        self, principal: Principal, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Reminder]:
        """The principal's open tasks, soonest due first."""
        with self._begin(principal, MINE) as uow:
            return self._open(uow, [self._mine(principal)], limit, cursor)

    @serves(OVERDUE)
    def overdue(
        self,
        principal: Principal,
        *,
        assigned_user_id: UUID | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Reminder]:
        """Open tasks due before now, oldest first (only one's own without ``read_all``)."""
        now = self.clock.now()
        with self._begin(principal, OVERDUE) as uow:
            where: list[Filter] = [Range("due_at", lt=now)]
            if not self._visibility(uow, principal).sees_everyone:
                where.append(self._mine(principal))
            if assigned_user_id is not None:
                where.append(Eq("assigned_user_id", assigned_user_id))
            return self._open(uow, where, limit, cursor)

    @serves(DUE_TODAY)
    def due_today(
        self, principal: Principal, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Reminder]:
        """The principal's open tasks due in the current UTC day."""
        start = datetime.combine(self.clock.now().date(), time(), tzinfo=UTC)
        with self._begin(principal, DUE_TODAY) as uow:
            day = Range("due_at", gte=start, lt=start + timedelta(days=1))
            return self._open(uow, [self._mine(principal), day], limit, cursor)

    @staticmethod
    def _mine(principal: Principal) -> Filter:
        return Eq("assigned_user_id", principal.user_id)

    @staticmethod
    def _open(
        uow: UnitOfWork, where: list[Filter], limit: int, cursor: str | None
    ) -> Page[Reminder]:
        where = [Eq("status", ReminderStatus.OPEN), *where]
        order = (asc("due_at"), asc("reminder_id"))
        return uow.intel.reminders.list(Query(where, order, limit, cursor))

    def _visible_task(self, uow: UnitOfWork, principal: Principal, task_id: UUID) -> Reminder:
        return self._visibility(uow, principal).get(Reminder, task_id, "task_id")

    def _change(
        self,
        uow: UnitOfWork,
        principal: Principal,
        action: str,
        current: Reminder,
        expected_version: int,
        **changes: Any,
    ) -> Reminder:
        """Write an ungated change (snooze, complete, reopen) and commit it."""
        changed = self._write(uow, principal, action, current, expected_version, **changes)
        uow.commit()
        return changed

    def _write(
        self,
        uow: UnitOfWork,
        principal: Principal,
        action: str,
        current: Reminder,
        expected_version: int | None,
        **changes: Any,
    ) -> Reminder:
        wanted = attrs.evolve(current, **changes)
        return self._update_audited(
            uow,
            principal,
            action,
            current,
            wanted,
            domain="intel",
            expected_version=expected_version,
        )

    def _linked_person(
        self,
        uow: UnitOfWork,
        principal: Principal,
        person_id: UUID | None,
        lead_id: UUID | None,
        opportunity_id: UUID | None,
    ) -> UUID | None:
        """Check the linked rows exist, are visible and agree on one person; return that person.

        A link to a row the principal may not see is refused exactly as a
        link to nothing ("names no lead"), naming no other record.
        """
        visibility = self._visibility(uow, principal)
        people: dict[str, UUID] = {}
        if person_id is not None:
            people["person_id"] = visibility.referenced(Person, person_id, "person_id").key
        if lead_id is not None:
            people["lead_id"] = visibility.referenced(Lead, lead_id, "lead_id").person_id
        if opportunity_id is not None:
            deal = visibility.referenced(Opportunity, opportunity_id, "opportunity_id")
            people["opportunity_id"] = deal.person_id
        return _one_person(people, {"lead_id": lead_id, "opportunity_id": opportunity_id})
