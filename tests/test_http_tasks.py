"""``/api/crm/tasks`` through a real server, on both stores: each case a client meets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx

from tests.support.http import HttpWorld, problem
from tests.support.roleless import roleless_client

URL = "/api/crm/tasks"


def _at(api: HttpWorld, **delta: float) -> str:
    """The world's now moved by ``delta``, as ISO text."""
    return (api.world.clock.now() + timedelta(**delta)).isoformat()


def _task(client: httpx.Client, api: HttpWorld, **more: object) -> dict[str, Any]:
    created = client.post(URL, json={"title": "Call back", "due_at": _at(api, days=1), **more})
    assert created.status_code == 201, created.text
    task: dict[str, Any] = created.json()
    return task


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [t["reminder_id"] for t in response.json()["items"]]


def _act(
    client: httpx.Client, task: dict[str, Any], action: str, version: int, **body: Any
) -> httpx.Response:
    return client.post(
        f"{URL}/{task['reminder_id']}/{action}",
        json=body or None,
        headers={"If-Match": f'"{version}"'},
    )


def _put(
    client: httpx.Client, task: dict[str, Any], version: int | None, **body: Any
) -> httpx.Response:
    headers = {} if version is None else {"If-Match": f'"{version}"'}
    return client.put(f"{URL}/{task['reminder_id']}", json=body, headers=headers)


def test_create_snooze_complete_and_reopen_a_task(api: HttpWorld) -> None:
    created = api.agent_a.post(
        URL,
        json={
            "title": "Send the floor plans",
            "due_at": _at(api, days=1),
            "person_id": str(api.world.client_a.person_id),
            "priority": "high",
        },
    )
    assert created.status_code == 201, created.text
    task = created.json()
    assert (task["status"], task["priority"], task["reminder_type"]) == (
        "open",
        "high",
        "follow_up",
    )
    assert task["assigned_user_id"] == task["created_by_user_id"] == str(api.world.agent_a.user_id)
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"{URL}/{task['reminder_id']}"
    assert _ids(api.agent_a.get(URL)) == [task["reminder_id"]]
    assert task["reminder_id"] not in _ids(api.agent_b.get(URL))

    later = _at(api, days=3)
    snoozed = _act(api.agent_a, task, "snooze", 1, until=later)
    assert snoozed.status_code == 200, snoozed.text
    assert datetime.fromisoformat(snoozed.json()["due_at"]) == datetime.fromisoformat(later)
    assert snoozed.json()["snoozed_until"] == snoozed.json()["due_at"]
    assert snoozed.headers["etag"] == '"2"'

    done = _act(api.agent_a, task, "complete", 2)
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["snoozed_until"]) == ("completed", None)
    assert done.json()["completed_at"] is not None
    assert _ids(api.agent_a.get(URL)) == []  # only open tasks are listed

    reopened = _act(api.agent_a, task, "reopen", 3)
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["status"], reopened.json()["completed_at"]) == ("open", None)
    assert reopened.headers["etag"] == '"4"'
    assert _ids(api.agent_a.get(URL)) == [task["reminder_id"]]


def test_overdue_and_due_today_lists(api: HttpWorld) -> None:
    now = api.world.clock.now()
    midnight = datetime.combine(now.date(), time(), tzinfo=UTC) + timedelta(days=1)
    today = _task(api.agent_a, api, due_at=(now + (midnight - now) / 2).isoformat())
    late = _task(api.agent_a, api, due_at=_at(api, hours=-1))
    tomorrow = _task(api.agent_a, api, due_at=(midnight + timedelta(hours=1)).isoformat())

    assert _ids(api.agent_a.get(URL)) == [
        late["reminder_id"],
        today["reminder_id"],
        tomorrow["reminder_id"],
    ]  # soonest due first
    assert _ids(api.agent_a.get(f"{URL}/overdue")) == [late["reminder_id"]]
    assert _ids(api.agent_b.get(f"{URL}/overdue")) == []
    agent_a = str(api.world.agent_a.user_id)
    by_admin = _ids(api.admin.get(f"{URL}/overdue", params={"assigned_user_id": agent_a}))
    assert by_admin == [late["reminder_id"]]
    due_today = _ids(api.agent_a.get(f"{URL}/due-today"))
    assert today["reminder_id"] in due_today
    assert tomorrow["reminder_id"] not in due_today

    first = api.agent_a.get(URL, params={"limit": 1})
    assert _ids(first) == [late["reminder_id"]]
    rest = api.agent_a.get(first.headers["link"].split(";")[0].strip("<>"))
    assert _ids(rest)[0] == today["reminder_id"]


def test_giving_a_task_away_waits_for_approval(api: HttpWorld) -> None:
    task = _task(api.agent_a, api)
    kept = _act(api.agent_a, task, "assign", 1, assigned_user_id=str(api.world.agent_a.user_id))
    assert kept.status_code == 200, kept.text
    assert kept.json()["assigned_user_id"] == str(api.world.agent_a.user_id)

    version = kept.json()["version"]
    held = _act(
        api.agent_a, task, "assign", version, assigned_user_id=str(api.world.agent_b.user_id)
    )
    assert held.status_code == 202, held.text
    assert held.headers["location"] == f"/api/workflow/writebacks/{held.json()['proposal_id']}"
    assert held.json()["rule"] == "reassignment"
    assert _ids(api.agent_a.get(URL)) == [task["reminder_id"]]  # still agent A's
    assert _ids(api.agent_b.get(URL)) == []


def test_lifecycle_moves_and_stale_versions_are_conflicts(api: HttpWorld) -> None:
    task = _task(api.agent_a, api)
    problem(_act(api.agent_a, task, "reopen", 1), 409, "invalid_transition")
    stale = problem(_act(api.agent_a, task, "complete", 5), 412, "concurrency_conflict")
    assert stale["actual_version"] == 1
    missing = api.agent_a.post(f"{URL}/{task['reminder_id']}/complete")
    problem(missing, 428, "precondition_required")
    assert _act(api.agent_a, task, "complete", 1).status_code == 200
    moved = problem(_act(api.agent_a, task, "complete", 2), 409, "invalid_transition")
    assert moved["current"] == "completed"
    problem(_act(api.agent_a, task, "snooze", 2, until=_at(api, days=2)), 409, "invalid_transition")
    problem(
        _act(api.agent_a, task, "assign", 1, assigned_user_id=str(api.world.agent_a.user_id)),
        412,
        "concurrency_conflict",
    )


def test_bad_values_name_their_field(api: HttpWorld) -> None:
    client_b = str(api.world.client_b.person_id)
    for body, field in (
        ({"due_at": _at(api, days=1)}, "title"),
        ({"title": 7, "due_at": _at(api, days=1)}, "title"),
        ({"title": "X", "due_at": "tomorrow"}, "due_at"),
        ({"title": "X", "due_at": "2030-01-01T10:00:00"}, "due_at"),  # no offset
        ({"title": "X", "due_at": _at(api, days=1), "priority": "whenever"}, "priority"),
        ({"title": "X", "due_at": _at(api, days=1), "person_id": client_b}, "person_id"),
        ({"title": "X", "due_at": _at(api, days=1), "lead_id": str(uuid.uuid4())}, "lead_id"),
        (
            {"title": "X", "due_at": _at(api, days=1), "assigned_user_id": str(uuid.uuid4())},
            "assigned_user_id",
        ),
        ({"title": "X", "due_at": _at(api, days=1), "status": "completed"}, "status"),
    ):
        refused = problem(api.agent_a.post(URL, json=body), 422, "validation_failed")
        assert refused["field"] == field, (body, refused)
    task = _task(api.agent_a, api)
    for action, body, field in (
        ("snooze", {"until": _at(api, hours=-1)}, "until"),
        ("snooze", {"until": "later"}, "until"),
        ("snooze", {}, "until"),
        ("assign", {"assigned_user_id": str(uuid.uuid4())}, "assigned_user_id"),
        ("assign", {"assigned_user_id": "agent b"}, "assigned_user_id"),
    ):
        refused = problem(
            api.agent_a.post(
                f"{URL}/{task['reminder_id']}/{action}", json=body, headers={"If-Match": '"1"'}
            ),
            422,
            "validation_failed",
        )
        assert refused["field"] == field, (action, body, refused)
    for path, params, field in (
        (URL, {"limit": 0}, "limit"),
        (f"{URL}/overdue", {"assigned_user_id": "me"}, "assigned_user_id"),
        (f"{URL}/due-today", {"limit": 501}, "limit"),
    ):
        refused = problem(api.agent_a.get(path, params=params), 422, "validation_failed")
        assert refused["field"] == field
    assert _ids(api.agent_a.get(URL)) == [task["reminder_id"]]


def test_a_task_the_caller_may_not_see_is_404(api: HttpWorld) -> None:
    theirs = _task(
        api.admin,
        api,
        assigned_user_id=str(api.world.agent_b.user_id),
        person_id=str(api.world.client_b.person_id),
    )  # a task about client B, whom agent A may not see
    unknown = {"reminder_id": str(uuid.uuid4())}
    for task in (theirs, unknown):
        for action, body in (
            ("complete", {}),
            ("reopen", {}),
            ("snooze", {"until": _at(api, days=2)}),
            ("assign", {"assigned_user_id": str(api.world.agent_a.user_id)}),
        ):
            problem(_act(api.agent_a, task, action, 1, **body), 404, "not_found")
        where = f"{URL}/{task['reminder_id']}"
        problem(api.agent_a.get(where), 404, "not_found")
        problem(_put(api.agent_a, task, 1, title="Mine now"), 404, "not_found")
    assert _ids(api.agent_b.get(URL)) == [theirs["reminder_id"]]
    assert api.agent_b.get(URL).json()["items"][0]["version"] == 1
    assert api.agent_b.get(f"{URL}/{theirs['reminder_id']}").json()["title"] == "Call back"


def test_missing_permissions_are_403(api: HttpWorld) -> None:
    task = _task(api.admin, api, assigned_user_id=str(api.world.by_role["analyst"].user_id))
    analyst = api.as_role("analyst")
    assert _ids(analyst.get(URL)) == [task["reminder_id"]]  # the analyst reads their own
    for response in (
        analyst.post(URL, json={"title": "X", "due_at": _at(api, days=1)}),
        _act(analyst, task, "complete", 1),
        _act(analyst, task, "reopen", 1),
        _act(analyst, task, "snooze", 1, until=_at(api, days=2)),
        _act(analyst, task, "assign", 1, assigned_user_id=str(api.world.agent_a.user_id)),
        _put(analyst, task, 1, title="Mine"),
    ):
        assert problem(response, 403, "permission_denied")["permission"] == "crm.tasks.write"
    assert analyst.get(f"{URL}/{task['reminder_id']}").json() == task  # and may read it
    with roleless_client(api) as nobody:
        for path in (URL, f"{URL}/overdue", f"{URL}/due-today", f"{URL}/{task['reminder_id']}"):
            denied = problem(nobody.get(path), 403, "permission_denied")
            assert denied["permission"] == "crm.tasks.read"
    problem(api.anonymous.get(URL), 401, "authentication_failed")
    assert api.as_role("analyst").get(URL).json()["items"][0]["version"] == 1


def test_read_and_change_a_task(api: HttpWorld) -> None:
    task = _task(api.agent_a, api, notes="Ask about parking", person_id=str(api.world.client_a.key))
    where = f"{URL}/{task['reminder_id']}"
    read = api.agent_a.get(where)
    assert read.status_code == 200, read.text
    assert (read.json(), read.headers["etag"]) == (task, '"1"')

    due = _at(api, days=4)
    changed = _put(
        api.agent_a,
        task,
        1,
        title="Call Asha back",
        priority="urgent",
        reminder_type="call_back",
        due_at=due,
        reason="she asked for Friday",
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["title"], body["priority"], body["reminder_type"]) == (
        "Call Asha back",
        "urgent",
        "call_back",
    )
    assert datetime.fromisoformat(body["due_at"]) == datetime.fromisoformat(due)
    assert body["notes"] == "Ask about parking"  # not named: kept
    assert (body["status"], body["assigned_user_id"]) == ("open", task["assigned_user_id"])
    assert (body["version"], changed.headers["etag"]) == (2, '"2"')
    assert api.agent_a.get(where).json() == body
    (event,) = api.world.velocity.audit.list(api.world.admin, action="crm.tasks.update").items
    assert (event.target_ref, event.reason) == (task["reminder_id"], "she asked for Friday")

    cleared = _put(api.agent_a, task, 2, notes=None)
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["notes"], cleared.json()["title"]) == (None, "Call Asha back")
    assert cleared.headers["etag"] == '"3"'


def test_a_change_needs_the_current_version(api: HttpWorld) -> None:
    task = _task(api.agent_a, api)
    problem(_put(api.agent_a, task, None, title="Ring"), 428, "precondition_required")
    assert _put(api.agent_a, task, 1, title="Ring").status_code == 200
    stale = problem(_put(api.agent_a, task, 1, title="Ring again"), 412, "concurrency_conflict")
    assert (stale["expected_version"], stale["actual_version"]) == (1, 2)
    assert api.agent_a.get(f"{URL}/{task['reminder_id']}").json()["title"] == "Ring"


def test_bad_changes_name_their_field(api: HttpWorld) -> None:
    task = _task(api.agent_a, api)
    for body, field in (
        ({"title": None}, "title"),
        ({"title": ""}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"priority": "whenever"}, "priority"),
        ({"reminder_type": "lunch"}, "reminder_type"),
        ({"due_at": "tomorrow"}, "due_at"),
        ({"due_at": "2030-01-01T10:00:00"}, "due_at"),  # no offset
        ({"due_at": None}, "due_at"),
        ({"status": "completed"}, "status"),  # status and assignee have their own actions
        ({"assigned_user_id": str(api.world.agent_b.user_id)}, "assigned_user_id"),
        ({}, "changes"),
        ({"reason": "nothing else"}, "changes"),
    ):
        refused = problem(_put(api.agent_a, task, 1, **body), 422, "validation_failed")
        assert refused["field"] == field, (body, refused)
    problem(api.agent_a.get(f"{URL}/not-a-task"), 404, "no_such_route")  # no UUID: no route
    assert api.agent_a.get(f"{URL}/{task['reminder_id']}").json() == task
