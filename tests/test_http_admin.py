"""``/api/admin/*`` through a real server, on both stores: users, roles, sessions, audit."""

from __future__ import annotations

import uuid
from typing import Any

import attrs
import httpx

from tests.support.http import HttpWorld, problem
from velocity_domain.api.admin_sessions import IssuedSessionView, SessionView
from velocity_domain.identity.entities import Session
from velocity_domain.services.identity.sessions import hash_token

NON_ADMINS = ("sales_manager", "sales_agent", "operator", "analyst", "oracle_agent")


def _bearer(api: HttpWorld, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=api.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _issue(api: HttpWorld, user_id: object, **extra: Any) -> dict[str, Any]:
    issued = api.admin.post("/api/admin/sessions", json={"user_id": str(user_id), **extra})
    assert issued.status_code == 201, issued.text
    body: dict[str, Any] = issued.json()
    return body


# -- users -----------------------------------------------------------------------------------


def test_create_read_list_and_deactivate_a_user(api: HttpWorld) -> None:
    created = api.admin.post(
        "/api/admin/users",
        json={"email": " New.Analyst@Example.COM ", "display_name": "Nia", "roles": ["analyst"]},
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == "new.analyst@example.com"
    assert (user["status"], user["user_kind"], user["version"]) == ("active", "human", 1)
    where = f"/api/admin/users/{user['user_id']}"
    assert created.headers["location"] == where
    assert created.headers["etag"] == '"1"'

    read = api.admin.get(where)
    assert (read.status_code, read.json(), read.headers["etag"]) == (200, user, '"1"')
    everyone = api.admin.get("/api/admin/users", params={"limit": 500}).json()
    emails = [u["email"] for u in everyone["items"]]
    assert emails == sorted(emails)
    assert "new.analyst@example.com" in emails
    assert everyone["next_cursor"] is None
    first = api.admin.get("/api/admin/users", params={"limit": 1})
    assert [u["email"] for u in first.json()["items"]] == emails[:1]
    assert 'rel="next"' in first.headers["link"]

    token = _issue(api, user["user_id"])["token"]
    with _bearer(api, token) as nia:
        assert nia.get("/api/crm/contacts").status_code == 200  # analyst may read contacts
        gone = api.admin.post(
            f"{where}/deactivate", json={"reason": "left"}, headers={"X-Request-ID": "off-1"}
        )
        assert gone.status_code == 200, gone.text
        assert gone.json()["status"] == "deactivated"
        assert gone.json()["deactivated_at"] == api.world.clock.now().isoformat()
        assert gone.json()["version"] == 2
        problem(nia.get("/api/crm/contacts"), 401, "authentication_failed")

    again = api.admin.post(f"{where}/deactivate")  # no body: no reason
    assert again.status_code == 200
    assert again.json() == gone.json()  # a second deactivation changes nothing
    events = api.admin.get(
        "/api/admin/audit-events",
        params={"target_ref": user["user_id"], "action": "identity.users.deactivate"},
    ).json()["items"]
    assert [(e["reason"], e["correlation_id"]) for e in events] == [("left", "off-1")]


def test_user_routes_name_the_refused_field(api: HttpWorld) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"email": "nope", "display_name": "X"}, "email"),
        ({"email": "x@velocity.example"}, "display_name"),
        ({"email": "x@velocity.example", "display_name": "X", "kind": "robot"}, "kind"),
        ({"email": "x@velocity.example", "display_name": "X", "roles": ["wizard"]}, "roles"),
        ({"email": "x@velocity.example", "display_name": "X", "password": "p"}, "password"),
    ]
    for body, field in cases:
        refused = problem(api.admin.post("/api/admin/users", json=body), 422, "validation_failed")
        assert refused["field"] == field, (body, refused)
    assert not [
        u
        for u in api.admin.get("/api/admin/users", params={"limit": 500}).json()["items"]
        if u["email"] == "x@velocity.example"
    ], "a refused user is not created (not even without the unknown role)"
    limit = problem(
        api.admin.get("/api/admin/users", params={"limit": 0}), 422, "validation_failed"
    )
    assert limit["field"] == "limit"
    problem(api.admin.get("/api/admin/users", params={"cursor": "nope"}), 422, "invalid_cursor")
    agent_b = api.world.agent_b.user_id
    long = problem(
        api.admin.post(f"/api/admin/users/{agent_b}/deactivate", json={"reason": "x" * 501}),
        422,
        "validation_failed",
    )
    assert long["field"] == "reason"
    assert api.admin.get(f"/api/admin/users/{agent_b}").json()["status"] == "active"


def test_a_taken_email_is_a_conflict_and_unknown_users_are_not_found(api: HttpWorld) -> None:
    clash = problem(
        api.admin.post(
            "/api/admin/users", json={"email": "Agent.B@Velocity.example", "display_name": "B2"}
        ),
        409,
        "already_exists",
    )
    assert clash["key"] == {"email": "agent.b@velocity.example"}
    nobody = uuid.uuid4()
    for response in (
        api.admin.get(f"/api/admin/users/{nobody}"),
        api.admin.post(f"/api/admin/users/{nobody}/deactivate", json={}),
        api.admin.get(f"/api/admin/users/{nobody}/roles"),
        api.admin.post(f"/api/admin/users/{nobody}/roles", json={"role_name": "analyst"}),
        api.admin.post(f"/api/admin/users/{nobody}/roles/{uuid.uuid4()}/revoke"),
    ):
        body = problem(response, 404, "not_found")
        assert body["entity"] in {"core_users", "core_role_assignments"}
    problem(api.admin.get("/api/admin/users/not-a-uuid"), 404, "no_such_route")


def test_only_an_admin_manages_users_and_roles(api: HttpWorld) -> None:
    agent_b = api.world.agent_b.user_id
    for role in NON_ADMINS:
        client = api.as_role(role)
        for response in (
            client.get("/api/admin/users"),
            client.get(f"/api/admin/users/{agent_b}"),
            client.post("/api/admin/users", json={"email": "x@y.example", "display_name": "X"}),
            client.post(f"/api/admin/users/{agent_b}/deactivate", json={}),
            client.post(f"/api/admin/users/{agent_b}/roles", json={"role_name": "admin"}),
            client.get("/api/admin/roles"),
            client.put(
                "/api/admin/roles/admin/permissions",
                json={"permissions": []},
                headers={"If-Match": '"1"'},
            ),
            client.post("/api/admin/sessions", json={"user_id": str(agent_b)}),
        ):
            denied = problem(response, 403, "permission_denied")
            assert denied["permission"] == "identity.users.manage", (role, response.url)
        denied = problem(client.get("/api/admin/audit-events"), 403, "permission_denied")
        assert denied["permission"] == "audit.read"
    assert api.admin.get(f"/api/admin/users/{agent_b}").json()["status"] == "active"
    assert [a["role_id"] for a in api.admin.get(f"/api/admin/users/{agent_b}/roles").json()] == [
        r["role_id"]
        for r in api.admin.get("/api/admin/roles").json()
        if r["role_name"] == "sales_agent"
    ]


# -- role assignments ------------------------------------------------------------------------


def test_assigning_and_revoking_a_role_changes_what_a_user_sees(api: HttpWorld) -> None:
    agent_b = api.world.agent_b.user_id
    client_a = f"/api/crm/contacts/{api.world.client_a.person_id}"
    problem(api.agent_b.get(client_a), 404, "not_found")  # not agent B's client

    given = api.admin.post(f"/api/admin/users/{agent_b}/roles", json={"role_name": "operator"})
    assert given.status_code == 201, given.text
    assignment = given.json()
    assert assignment["user_id"] == str(agent_b)
    assert assignment["scope_type"] == "global"
    assert assignment["granted_by_user_id"] == str(api.world.admin.user_id)
    in_force = api.admin.get(f"/api/admin/users/{agent_b}/roles").json()
    assert [a["role_assignment_id"] for a in in_force][-1] == assignment["role_assignment_id"]
    assert len(in_force) == 2  # sales_agent and now operator
    assert api.agent_b.get(client_a).status_code == 200  # operators read every contact

    revoke = f"/api/admin/users/{agent_b}/roles/{assignment['role_assignment_id']}/revoke"
    agent_a = api.world.agent_a.user_id
    someone_else = f"/api/admin/users/{agent_a}/roles/{assignment['role_assignment_id']}/revoke"
    problem(api.admin.post(someone_else), 404, "not_found")  # not agent A's assignment
    assert api.agent_b.get(client_a).status_code == 200  # so nothing was revoked
    revoked = api.admin.post(revoke)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] == api.world.clock.now().isoformat()
    assert revoked.json()["revoked_by_user_id"] == str(api.world.admin.user_id)
    assert api.admin.post(revoke).json() == revoked.json()  # again: no change
    assert len(api.admin.get(f"/api/admin/users/{agent_b}/roles").json()) == 1
    problem(api.agent_b.get(client_a), 404, "not_found")


def test_a_role_assignment_names_its_refused_field(api: HttpWorld) -> None:
    where = f"/api/admin/users/{api.world.agent_b.user_id}/roles"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"role_name": "wizard"}, "role_name"),
        ({}, "role_name"),
        ({"role_name": "analyst", "scope_type": "galaxy"}, "scope_type"),
        ({"role_name": "analyst", "scope_type": "account"}, "scope_ref"),
        ({"role_name": "analyst", "scope_ref": str(uuid.uuid4())}, "scope_ref"),
        ({"role_name": "analyst", "expires_at": "2020-01-01T00:00:00+00:00"}, "expires_at"),
        ({"role_name": "analyst", "expires_at": "soon"}, "expires_at"),
    ]
    for body, field in cases:
        refused = problem(api.admin.post(where, json=body), 422, "validation_failed")
        assert refused["field"] == field, (body, refused)
    assert len(api.admin.get(where).json()) == 1  # only the sales_agent role it had
    scoped = api.admin.post(
        where,
        json={
            "role_name": "analyst",
            "scope_type": "account",
            "scope_ref": str(uuid.uuid4()),
            "expires_at": "2099-01-01T00:00:00+00:00",
        },
    )
    assert scoped.status_code == 201, scoped.text
    assert scoped.json()["expires_at"] == "2099-01-01T00:00:00+00:00"


# -- roles -----------------------------------------------------------------------------------


def test_roles_are_listed_and_their_permissions_replaced_at_a_version(api: HttpWorld) -> None:
    roles = api.admin.get("/api/admin/roles")
    assert roles.status_code == 200
    names = [r["role_name"] for r in roles.json()]
    assert names == sorted(
        ["admin", "analyst", "operator", "oracle_agent", "sales_agent", "sales_manager"]
    )
    analyst = next(r for r in roles.json() if r["role_name"] == "analyst")
    assert "crm.contacts.read" in analyst["permission_names"]
    where = "/api/admin/roles/analyst/permissions"
    wanted = {"permissions": ["inventory.read"]}
    problem(api.admin.put(where, json=wanted), 428, "precondition_required")
    stale = problem(
        api.admin.put(where, json=wanted, headers={"If-Match": f'"{analyst["version"] + 1}"'}),
        412,
        "concurrency_conflict",
    )
    assert stale["actual_version"] == analyst["version"]
    assert api.as_role("analyst").get("/api/crm/contacts").status_code == 200  # unchanged

    changed = api.admin.put(where, json=wanted, headers={"If-Match": f'"{analyst["version"]}"'})
    assert changed.status_code == 200, changed.text
    assert changed.json()["permission_names"] == ["inventory.read"]
    assert changed.headers["etag"] == f'"{analyst["version"] + 1}"'
    denied = problem(api.as_role("analyst").get("/api/crm/contacts"), 403, "permission_denied")
    assert denied["permission"] == "crm.contacts.read"

    now = {"If-Match": changed.headers["etag"]}
    for body, field in (
        ({"permissions": ["crm.contacts.fly"]}, "permissions"),
        ({"permissions": "inventory.read"}, "permissions"),
        ({}, "permissions"),
        ({"permissions": [], "role_name": "x"}, "role_name"),
    ):
        refused = problem(api.admin.put(where, json=body, headers=now), 422, "validation_failed")
        assert refused["field"] == field, (body, refused)
    missing = problem(
        api.admin.put("/api/admin/roles/wizard/permissions", json=wanted, headers=now),
        404,
        "not_found",
    )
    assert missing["entity"] == "core_roles"


# -- sessions --------------------------------------------------------------------------------


def test_a_session_issued_over_http_authenticates_until_revoked(api: HttpWorld) -> None:
    agent_b = api.world.agent_b.user_id
    issued = api.admin.post(
        "/api/admin/sessions",
        json={
            "user_id": str(agent_b),
            "ttl_seconds": 600,
            "user_agent": "pytest",
            "ip_address": "10.0.0.7",
        },
    )
    assert issued.status_code == 201, issued.text
    session = issued.json()
    token = session["token"]
    assert set(session) == {f.name for f in attrs.fields(IssuedSessionView)}
    assert "token_sha256" not in session
    assert hash_token(token) not in issued.text
    assert (session["user_id"], session["user_agent"], session["ip_address"]) == (
        str(agent_b),
        "pytest",
        "10.0.0.7",
    )
    assert session["revoked_at"] is None
    with _bearer(api, token) as client:
        listed = client.get("/api/crm/contacts")
        assert listed.status_code == 200
        assert [p["person_id"] for p in listed.json()["items"]] == [
            str(api.world.client_b.person_id)
        ]

        where = f"/api/admin/sessions/{session['session_id']}/revoke"
        revoked = api.admin.post(where, json={"reason": "lost phone"})
        assert revoked.status_code == 200, revoked.text
        view = revoked.json()
        assert set(view) == {f.name for f in attrs.fields(SessionView)}
        assert "token" not in view
        assert hash_token(token) not in revoked.text
        assert view["revoked_at"] == api.world.clock.now().isoformat()
        assert view["revoked_reason"] == "lost phone"
        assert view["last_seen_at"] is not None  # the request above was seen
        problem(client.get("/api/crm/contacts"), 401, "authentication_failed")
        assert api.admin.post(where).json() == view  # again (no body needed): no change
    assert api.agent_b.get("/api/crm/contacts").status_code == 200  # B's other session lives


def test_issuing_a_session_names_the_refused_field(api: HttpWorld) -> None:
    agent_b = str(api.world.agent_b.user_id)
    for body, field in (
        ({"user_id": agent_b, "ttl_seconds": 0}, "ttl_seconds"),
        ({"user_id": agent_b, "ttl_seconds": 10**12}, "ttl_seconds"),
        ({"user_id": agent_b, "ttl_seconds": "long"}, "ttl_seconds"),
        ({"user_id": "me"}, "user_id"),
        ({}, "user_id"),
        ({"user_id": agent_b, "user_agent": "u" * 501}, "user_agent"),
        ({"user_id": agent_b, "ip_address": "1" * 46}, "ip_address"),
        ({"user_id": agent_b, "token": "chosen"}, "token"),
    ):
        refused = problem(
            api.admin.post("/api/admin/sessions", json=body), 422, "validation_failed"
        )
        assert refused["field"] == field, (body, refused)
    problem(
        api.admin.post("/api/admin/sessions", json={"user_id": str(uuid.uuid4())}),
        404,
        "not_found",
    )
    gone = api.admin.post(
        "/api/admin/users", json={"email": "g@velocity.example", "display_name": "G"}
    )
    api.admin.post(f"/api/admin/users/{gone.json()['user_id']}/deactivate", json={})
    problem(
        api.admin.post("/api/admin/sessions", json={"user_id": gone.json()["user_id"]}),
        404,
        "not_found",
    )
    long = problem(
        api.admin.post(
            f"/api/admin/sessions/{_issue(api, agent_b)['session_id']}/revoke",
            json={"reason": "r" * 201},
        ),
        422,
        "validation_failed",
    )
    assert long["field"] == "reason"
    problem(api.admin.post(f"/api/admin/sessions/{uuid.uuid4()}/revoke", json={}), 404, "not_found")


def test_anyone_revokes_their_own_sessions_and_only_an_admin_anyones(api: HttpWorld) -> None:
    agent_a, agent_b = api.world.agent_a.user_id, api.world.agent_b.user_id
    of_a = _issue(api, agent_a)
    for attempt in (
        api.agent_b.post(f"/api/admin/sessions/{of_a['session_id']}/revoke", json={}),
        api.agent_b.post("/api/admin/sessions/revoke-all", json={"user_id": str(agent_a)}),
        api.as_role("oracle_agent").post(
            "/api/admin/sessions/revoke-all", json={"user_id": str(agent_a)}
        ),
    ):
        denied = problem(attempt, 403, "permission_denied")
        assert denied["permission"] == "identity.users.manage"
    with _bearer(api, of_a["token"]) as second:
        assert second.get("/api/crm/contacts").status_code == 200  # nothing was revoked
        refused = problem(
            api.agent_a.post("/api/admin/sessions/revoke-all", json={"user_id": "me"}),
            422,
            "validation_failed",
        )
        assert refused["field"] == "user_id"
        mine = api.agent_a.post(
            "/api/admin/sessions/revoke-all", json={"user_id": str(agent_a), "reason": "signed out"}
        )
        assert mine.status_code == 200, mine.text
        assert mine.json() == {"user_id": str(agent_a), "revoked": 2}  # its own and the second
        problem(second.get("/api/crm/contacts"), 401, "authentication_failed")
        problem(api.agent_a.get("/api/crm/contacts"), 401, "authentication_failed")
    assert api.agent_b.get("/api/crm/contacts").status_code == 200
    long = problem(
        api.admin.post(
            "/api/admin/sessions/revoke-all", json={"user_id": str(agent_b), "reason": "r" * 201}
        ),
        422,
        "validation_failed",
    )
    assert long["field"] == "reason"
    everyone_b = api.admin.post("/api/admin/sessions/revoke-all", json={"user_id": str(agent_b)})
    assert everyone_b.json() == {"user_id": str(agent_b), "revoked": 1}
    problem(api.agent_b.get("/api/crm/contacts"), 401, "authentication_failed")
    nobody = api.admin.post("/api/admin/sessions/revoke-all", json={"user_id": str(uuid.uuid4())})
    assert nobody.json()["revoked"] == 0


def test_the_session_views_are_the_session_without_its_hash() -> None:
    hidden = {f.name for f in attrs.fields(Session)} - {f.name for f in attrs.fields(SessionView)}
    assert hidden == {"token_sha256"}
    assert {f.name for f in attrs.fields(IssuedSessionView)} - {
        f.name for f in attrs.fields(Session)
    } == {"token"}


# -- the audit trail -------------------------------------------------------------------------


def test_the_audit_trail_shows_each_requests_correlation_id(api: HttpWorld) -> None:
    made = api.admin.post(
        "/api/admin/users",
        json={"email": "traced@velocity.example", "display_name": "T", "roles": ["analyst"]},
        headers={"X-Request-ID": "adm-42"},
    )
    user_id = made.json()["user_id"]
    trail = api.admin.get("/api/admin/audit-events", params={"target_ref": user_id})
    assert trail.status_code == 200, trail.text
    events = trail.json()["items"]
    assert sorted(e["action"] for e in events) == ["identity.roles.assign", "identity.users.create"]
    assert {e["correlation_id"] for e in events} == {"adm-42"}
    assert {e["actor_user_id"] for e in events} == {str(api.world.admin.user_id)}
    created = next(e for e in events if e["action"] == "identity.users.create")
    assert created["after_json"]["email"] == "traced@velocity.example"

    mine = {"actor_user_id": str(api.world.admin.user_id), "target_domain": "identity"}
    everything = api.admin.get("/api/admin/audit-events", params={**mine, "limit": 500}).json()
    assert everything["next_cursor"] is None
    assert len(everything["items"]) > 2
    stamps = [e["occurred_at"] for e in everything["items"]]
    assert stamps == sorted(stamps, reverse=True)
    seen: list[str] = []
    url: str | None = "/api/admin/audit-events?" + str(httpx.QueryParams({**mine, "limit": 2}))
    while url is not None:
        page = api.admin.get(url)
        seen += [e["audit_event_id"] for e in page.json()["items"]]
        link = page.headers.get("link")
        url = link.split(";")[0].strip("<>") if link else None
    assert seen == [e["audit_event_id"] for e in everything["items"]]
    now = api.world.clock.now().isoformat()
    assert (
        api.admin.get(
            "/api/admin/audit-events", params={"target_ref": user_id, "until": now}
        ).json()["items"]
        == []
    )  # until is exclusive and everything happened at now
    assert (
        len(
            api.admin.get(
                "/api/admin/audit-events", params={"target_ref": user_id, "since": now}
            ).json()["items"]
        )
        == 2
    )

    for params, field in (
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"actor_user_id": "me"}, "actor_user_id"),
        ({"limit": 501}, "limit"),
    ):
        refused = problem(
            api.admin.get("/api/admin/audit-events", params=params), 422, "validation_failed"
        )
        assert refused["field"] == field, (params, refused)
    problem(api.admin.get("/api/admin/audit-events", params={"cursor": "x"}), 422, "invalid_cursor")


def test_a_session_token_is_never_kept_for_a_replay(api: HttpWorld) -> None:
    agent_b = api.world.agent_b.user_id
    key = {"Idempotency-Key": "issue-1"}
    first = api.admin.post("/api/admin/sessions", json={"user_id": str(agent_b)}, headers=key)
    assert first.status_code == 201
    assert first.headers["cache-control"] == "no-store"
    token = first.json()["token"]
    again = api.admin.post("/api/admin/sessions", json={"user_id": str(agent_b)}, headers=key)
    body = problem(again, 409, "secret_not_replayed")
    assert again.headers["idempotent-replayed"] == "true"
    assert token not in again.text
    assert body["detail"].startswith("the first request with this Idempotency-Key succeeded")
    # the work was done once: only the first token works, and it still does
    assert (
        api.anonymous.get(
            "/api/crm/contacts", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )
