"""Matrix rows of tasks, logging interactions and property interests (issue 6)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.support.governance import reviewed
from tests.support.matrix import ALL_ROLES, Row

SALES = frozenset({"admin", "sales_manager", "sales_agent"})


def _task(v: Any, w: Any, p: Any) -> Any:
    """A task of ``p``'s own, created by the admin."""
    return v.tasks.create(
        w.admin,
        title="Call back",
        due_at=v.clock.now() + timedelta(days=1),
        assigned_user_id=p.user_id,
    )


def _done_task(v: Any, w: Any, p: Any) -> Any:
    task = _task(v, w, p)
    return v.tasks.complete(w.admin, task.key, expected_version=task.version)


def _reassign(v: Any, w: Any, p: Any) -> Any:
    """Give ``p``'s task to agent B: past the permission check it waits for review."""
    task = _task(v, w, p)
    return reviewed(
        lambda: v.tasks.assign(p, task.key, w.agent_b.user_id, expected_version=task.version)
    )


def _interest(v: Any, w: Any) -> Any:
    return v.property_interests.record(w.admin, person_id=w.client_a.key, configuration="3BHK")


ROWS: dict[str, Row] = {
    "crm.tasks.create": Row(
        SALES,
        lambda v, w, p: v.tasks.create(
            p, title="Follow up", due_at=v.clock.now() + timedelta(hours=2)
        ),
        "assigned to the caller unless another user is named",
    ),
    "crm.tasks.assign": Row(
        SALES, _reassign, "a change of assignee is stored for review (rule reassignment)"
    ),
    "crm.tasks.snooze": Row(
        SALES,
        lambda v, w, p: v.tasks.snooze(
            p,
            (t := _task(v, w, p)).key,
            v.clock.now() + timedelta(days=2),
            expected_version=t.version,
        ),
    ),
    "crm.tasks.complete": Row(
        SALES,
        lambda v, w, p: v.tasks.complete(p, (t := _task(v, w, p)).key, expected_version=t.version),
    ),
    "crm.tasks.reopen": Row(
        SALES,
        lambda v, w, p: v.tasks.reopen(
            p, (t := _done_task(v, w, p)).key, expected_version=t.version
        ),
    ),
    "crm.tasks.update": Row(
        SALES,
        lambda v, w, p: v.tasks.update(
            p, (t := _task(v, w, p)).key, expected_version=t.version, priority="high"
        ),
        "title, notes, type, priority and due time; status and assignee have their own actions",
    ),
    "crm.tasks.get": Row(
        ALL_ROLES,
        lambda v, w, p: v.tasks.get(p, _task(v, w, p).key),
        "a task assigned to or created by the caller, or of a client they may see",
    ),
    "crm.tasks.mine": Row(ALL_ROLES, lambda v, w, p: v.tasks.mine(p)),
    "crm.tasks.overdue": Row(
        ALL_ROLES,
        lambda v, w, p: v.tasks.overdue(p),
        "without crm.contacts.read_all, only one's own tasks",
    ),
    "crm.tasks.due_today": Row(ALL_ROLES, lambda v, w, p: v.tasks.due_today(p)),
    "crm.interactions.log": Row(
        SALES,
        lambda v, w, p: v.interactions.log(
            p,
            person_id=w.client_a.key,
            channel="call",
            direction="inbound",
            happened_at=v.clock.now(),
            call={"duration_seconds": 42},
        ),
        "within the same visibility as contacts",
    ),
    "crm.interests.record": Row(
        SALES,
        lambda v, w, p: v.property_interests.record(
            p, person_id=w.client_a.key, configuration="2BHK"
        ),
        "within the same visibility as contacts",
    ),
    "crm.interests.update": Row(
        SALES,
        lambda v, w, p: v.property_interests.update(
            p, (i := _interest(v, w)).key, expected_version=i.version, configuration="4BHK"
        ),
        "a change of budget is stored for review (rule price_or_value)",
    ),
    "crm.interests.close": Row(
        SALES,
        lambda v, w, p: v.property_interests.close(
            p, (i := _interest(v, w)).key, expected_version=i.version
        ),
    ),
    "crm.interests.of_client": Row(
        ALL_ROLES, lambda v, w, p: v.property_interests.of_client(p, w.client_a.key)
    ),
}
