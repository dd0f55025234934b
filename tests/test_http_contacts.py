"""``/api/crm/contacts`` through a real server, on both stores: each case a client meets."""

from __future__ import annotations

import uuid

from tests.support.http import HttpWorld, problem
from velocity_domain.identity.entities import AuditEvent
from velocity_domain.kernel.query import Eq, Query
from velocity_domain.testing import unit_of_work


def test_create_read_change_and_list_a_contact(api: HttpWorld) -> None:
    created = api.admin.post(
        "/api/crm/contacts", json={"full_name": "Meera Iyer", "primary_phone": "098300 55555"}
    )
    assert created.status_code == 201, created.text
    person = created.json()
    assert person["primary_phone"] == "+919830055555"
    assert created.headers["location"] == f"/api/crm/contacts/{person['person_id']}"
    assert created.headers["etag"] == '"1"'

    read = api.admin.get(created.headers["location"])
    assert read.status_code == 200
    assert read.json() == person
    assert read.headers["etag"] == '"1"'
    assert (
        api.admin.get(created.headers["location"], headers={"If-None-Match": '"1"'}).status_code
        == 304
    )

    changed = api.admin.put(
        created.headers["location"],
        json={"primary_email": "Meera@Example.com"},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["primary_email"] == "meera@example.com"
    assert changed.json()["full_name"] == "Meera Iyer"  # not named: kept
    assert changed.headers["etag"] == '"2"'

    listed = api.admin.get("/api/crm/contacts", params={"search": "meera"})
    assert [p["person_id"] for p in listed.json()["items"]] == [person["person_id"]]


def test_pages_follow_the_link_header(api: HttpWorld) -> None:
    seen: list[str] = []
    url: str | None = "/api/crm/contacts?limit=1"
    pages = 0
    while url is not None:
        response = api.admin.get(url)
        assert response.status_code == 200
        seen += [p["person_id"] for p in response.json()["items"]]
        link = response.headers.get("link")
        assert (link is None) == (response.json()["next_cursor"] is None)
        url = link.split(";")[0].strip("<>") if link else None
        pages += 1
    everyone = api.admin.get("/api/crm/contacts", params={"limit": 500}).json()["items"]
    assert seen == [p["person_id"] for p in everyone]
    assert pages == len(everyone) + 1 or pages == len(everyone)
    assert len(seen) >= 2


def test_bad_values_name_their_field(api: HttpWorld) -> None:
    body = problem(
        api.admin.post("/api/crm/contacts", json={"full_name": 7}), 422, "validation_failed"
    )
    assert body["field"] == "full_name"
    body = problem(
        api.admin.post("/api/crm/contacts", json={"full_name": "X", "primary_email": "nope"}),
        422,
        "validation_failed",
    )
    assert body["field"] == "primary_email"
    body = problem(
        api.admin.post("/api/crm/contacts", json={"fullname": "X"}), 422, "validation_failed"
    )
    assert body["field"] == "fullname"
    body = problem(
        api.admin.get("/api/crm/contacts", params={"limit": 501}), 422, "validation_failed"
    )
    assert body["field"] == "limit"
    problem(api.admin.get("/api/crm/contacts", params={"cursor": "garbage"}), 422, "invalid_cursor")


def test_malformed_bodies_are_400_415_and_413(api: HttpWorld) -> None:
    headers = {"content-type": "application/json"}
    problem(
        api.admin.post("/api/crm/contacts", content=b'{"full_name": ', headers=headers),
        400,
        "malformed_json",
    )
    problem(
        api.admin.post(
            "/api/crm/contacts",
            content=b"full_name=x",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        415,
        "unsupported_media_type",
    )
    big = b'{"full_name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    problem(
        api.admin.post("/api/crm/contacts", content=big, headers=headers), 413, "body_too_large"
    )


def test_an_invisible_contact_is_404_and_a_missing_permission_403(api: HttpWorld) -> None:
    client_b = api.world.client_b.person_id
    problem(api.agent_a.get(f"/api/crm/contacts/{client_b}"), 404, "not_found")
    problem(api.agent_a.get(f"/api/crm/contacts/{uuid.uuid4()}"), 404, "not_found")
    denied = problem(
        api.as_role("analyst").post("/api/crm/contacts", json={"full_name": "X"}),
        403,
        "permission_denied",
    )
    assert denied["permission"] == "crm.contacts.write"
    problem(api.anonymous.get("/api/crm/contacts"), 401, "authentication_failed")
    bad_token = api.anonymous.get("/api/crm/contacts", headers={"Authorization": "Bearer nope"})
    assert problem(bad_token, 401, "authentication_failed")
    assert bad_token.headers["www-authenticate"].startswith("Bearer")


def test_if_match_is_required_and_checked(api: HttpWorld) -> None:
    where = f"/api/crm/contacts/{api.world.client_a.person_id}"
    problem(api.admin.put(where, json={"full_name": "Asha R"}), 428, "precondition_required")
    problem(
        api.admin.put(where, json={"full_name": "Asha R"}, headers={"If-Match": "1"}),
        400,
        "malformed_if_match",
    )
    stale = problem(
        api.admin.put(where, json={"full_name": "Asha R"}, headers={"If-Match": '"9"'}),
        412,
        "concurrency_conflict",
    )
    assert stale["actual_version"] == 1
    assert (
        api.admin.put(where, json={"full_name": "Asha R"}, headers={"If-Match": '"1"'}).status_code
        == 200
    )


def test_a_duplicate_is_a_conflict(api: HttpWorld) -> None:
    clash = api.admin.post(
        "/api/crm/contacts", json={"full_name": "Asha Again", "primary_phone": "+919830012345"}
    )
    body = problem(clash, 409, "duplicate_suspected")
    assert body["matched_on"]
    allowed = api.admin.post(
        "/api/crm/contacts",
        json={"full_name": "Asha Again", "primary_phone": "+919830012345", "allow_duplicate": True},
    )
    assert allowed.status_code == 201


def test_the_request_id_is_returned_and_audited(api: HttpWorld) -> None:
    created = api.admin.post(
        "/api/crm/contacts", json={"full_name": "Traced Person"}, headers={"X-Request-ID": "req-42"}
    )
    assert created.headers["x-request-id"] == "req-42"
    person_id = uuid.UUID(created.json()["person_id"])
    with unit_of_work(api.world.velocity, read_only=True) as uow:
        found = uow.table(AuditEvent).list(Query((Eq("target_ref", str(person_id)),), limit=10))
    events = list(found.items)
    assert [e.correlation_id for e in events] == ["req-42"]
    made = api.admin.get("/api/crm/contacts", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32


def test_concurrent_requests_with_one_token_all_succeed(api: HttpWorld) -> None:
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    api.world.clock.advance(minutes=5)  # every request finds last_seen_at stale
    with ThreadPoolExecutor(16) as pool:
        statuses = list(
            pool.map(lambda _: api.admin.get("/api/crm/contacts").status_code, range(64))
        )
    assert statuses == [200] * 64
