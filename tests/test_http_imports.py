"""``/api/crm/imports`` through a real server, on both stores: a file sent, reviewed, committed."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import httpx

from tests.support.http import HttpWorld, problem

BASE = "/api/crm/imports"
CSV = {"content-type": "text/csv"}
NDJSON = {"content-type": "application/x-ndjson"}

#: A new person, an update of client A (a new email: held for review) and a bad row.
SHEET = (
    b"Name,Email,Mobile\r\n"
    b"Meera Iyer,meera@example.in,9840011111\r\n"
    b"Asha Rao,asha.http@example.in,9830012345\r\n"
    b"Bad Row,not-an-email,12345\r\n"
)


def _submit(client: httpx.Client, data: bytes, **params: Any) -> httpx.Response:
    params.setdefault("source_system", "expo")
    return client.post(BASE, content=data, headers=CSV, params=params)


def _submitted(client: httpx.Client, data: bytes = SHEET, **params: Any) -> dict[str, Any]:
    response = _submit(client, data, **params)
    assert response.status_code == 201, response.text
    batch: dict[str, Any] = response.json()
    return batch


def _step(client: httpx.Client, batch: dict[str, Any], verb: str, **body: Any) -> dict[str, Any]:
    """POST ``verb`` on the batch at its version (If-Match); return the moved batch."""
    response = client.post(
        f"{BASE}/{batch['import_batch_id']}/{verb}",
        json=body if verb == "map" else None,
        headers={"If-Match": f'"{batch["version"]}"'},
    )
    assert response.status_code == 200, response.text
    moved: dict[str, Any] = response.json()
    return moved


def _proposed(api: HttpWorld, data: bytes = SHEET) -> dict[str, Any]:
    manager = api.as_role("sales_manager")
    batch = _step(manager, _submitted(manager, data), "map")
    return _step(manager, batch, "propose")


def test_a_csv_is_submitted_reviewed_approved_and_committed(api: HttpWorld) -> None:
    manager, operator = api.as_role("sales_manager"), api.as_role("operator")
    created = _submit(manager, SHEET, file_name="expo.csv")
    assert created.status_code == 201, created.text
    batch = created.json()
    batch_id = batch["import_batch_id"]
    assert created.headers["location"] == f"{BASE}/{batch_id}"
    assert created.headers["etag"] == f'"{batch["version"]}"'
    assert (batch["status"], batch["row_count"], batch["file_name"]) == ("parsed", 3, "expo.csv")
    assert batch["stats_json"]["parsed"] == {"rows": 3, "valid": 2, "invalid": 1}
    assert batch["stats_json"]["format"] == "csv"
    assert batch["source_system"] == "expo"
    assert manager.get(f"{BASE}/{batch_id}").json() == batch

    errors = manager.get(f"{BASE}/{batch_id}/errors")
    assert errors.status_code == 200, errors.text
    assert errors.headers["content-type"].startswith("text/csv")
    assert f"import-{batch_id}-errors.csv" in errors.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(errors.text)))
    assert lines[0] == ["Name", "Email", "Mobile", "row", "error"]
    assert len(lines) == 2
    assert lines[1][:4] == ["Bad Row", "not-an-email", "12345", "3"]
    assert "primary_email" in lines[1][4]
    assert "not-an-email" in lines[1][4]

    batch = _step(manager, batch, "map")
    assert batch["status"] == "mapped"
    batch = _step(manager, batch, "propose")
    assert batch["status"] == "proposed"
    assert batch["stats_json"]["outcomes"] == {
        "new": 1,
        "update": 1,
        "unchanged": 0,
        "duplicate": 0,
        "invalid": 1,
    }

    updates = manager.get(f"{BASE}/{batch_id}/rows", params={"outcome": "update"}).json()
    assert [r["row_number"] for r in updates["items"]] == [2]
    assert updates["items"][0]["changes_json"] == {"primary_email": [None, "asha.http@example.in"]}
    bad = manager.get(f"{BASE}/{batch_id}/rows", params={"status": "invalid"}).json()["items"]
    assert [(r["row_number"], r["outcome"]) for r in bad] == [(3, "invalid")]
    assert "not-an-email" in bad[0]["error_reason"]
    first = manager.get(f"{BASE}/{batch_id}/rows", params={"limit": 1})
    assert [r["row_number"] for r in first.json()["items"]] == [1]
    assert 'rel="next"' in first.headers["link"]

    # The new person is approved at once and may be committed now; the update waits.
    partial = manager.post(f"{BASE}/{batch_id}/commit")
    assert partial.status_code == 200, partial.text
    assert partial.json()["status"] == "proposed"
    assert partial.json()["stats_json"]["committed"] == {"new": {"created": 1, "skipped": 0}}
    waiting = operator.get(f"{BASE}/unresolved").json()["items"]
    assert [w["change_json"]["context"]["outcome"] for w in waiting] == ["update"]
    assert waiting[0]["target_entity_ref"] == batch_id

    approved = operator.post(
        f"{BASE}/{batch_id}/approve", json={"comment": "checked against the register"}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    twice = problem(operator.post(f"{BASE}/{batch_id}/approve", json={}), 409, "invalid_transition")
    assert "approved" in twice["detail"]

    committed = manager.post(f"{BASE}/{batch_id}/commit")
    assert committed.status_code == 200, committed.text
    assert committed.json()["status"] == "committed"
    meera = manager.get("/api/crm/contacts", params={"search": "meera"}).json()["items"]
    assert [(p["full_name"], p["primary_phone"]) for p in meera] == [
        ("Meera Iyer", "+919840011111")
    ]
    asha = api.admin.get(f"/api/crm/contacts/{api.world.client_a.person_id}").json()
    assert asha["primary_email"] == "asha.http@example.in"

    replay = manager.get(f"{BASE}/{batch_id}/replay")
    assert replay.status_code == 200, replay.text
    history = replay.json()
    assert history["batch"]["status"] == "committed"
    actions = [e["action"] for e in history["events"]]
    assert actions[:4] == [
        "crm.imports.submit",
        "crm.imports.parsed",
        "crm.imports.mapped",
        "crm.imports.proposed",
    ]
    assert actions[-1] == "crm.imports.committed"
    reviewed = {p["proposal"]["change_json"]["context"]["outcome"]: p for p in history["proposals"]}
    assert reviewed["update"]["decisions"][0]["rule_name"] == "import_review"
    assert [a["approver_user_id"] for a in reviewed["update"]["approvals"]] == [
        str(api.world.by_role["operator"].user_id)
    ]
    counts = {(c["outcome"], c["status"]): c["rows"] for c in history["rows"]}
    assert counts == {
        ("new", "committed"): 1,
        ("update", "committed"): 1,
        ("invalid", "invalid"): 1,
    }

    # Taking the batch back files a proposal, reviewed like any other deletion.
    problem(manager.post(f"{BASE}/{batch_id}/undo", json={"reason": " "}), 422, "validation_failed")
    undo = manager.post(f"{BASE}/{batch_id}/undo", json={"reason": "a test run"})
    assert undo.status_code == 201, undo.text
    proposal = undo.json()
    assert undo.headers["location"] == f"/api/workflow/writebacks/{proposal['writeback_id']}"
    assert (proposal["status"], proposal["change_kind"]) == ("review_required", "delete")
    assert proposal["target_entity_ref"] == batch_id


def test_an_ndjson_file_is_read_line_by_line_and_a_bad_line_is_its_own_error(
    api: HttpWorld,
) -> None:
    manager = api.as_role("sales_manager")
    lines = [
        json.dumps({"id": "hs-1", "firstname": "Anita", "lastname": "Rao", "email": "a@x.in"}),
        "[1, 2]",
        json.dumps({"id": "hs-3", "firstname": "Dev", "lastname": "Shah", "phone": "9840055555"}),
    ]
    data = ("\n".join(lines) + "\n").encode()
    sent = manager.post(
        BASE,
        content=data,
        headers={"content-type": "application/x-ndjson; charset=utf-8"},
        params={"source_system": "hubspot", "file_name": "contacts.ndjson"},
    )
    assert sent.status_code == 201, sent.text
    batch = sent.json()
    assert batch["stats_json"]["format"] == "jsonl"
    assert batch["stats_json"]["parsed"] == {"rows": 3, "valid": 2, "invalid": 1}
    columns = batch["mapping_json"]["columns"]["columns"]
    assert [(c["column"], c["target"]) for c in columns] == [
        ("id", "source_ref"),
        ("firstname", "first_name"),
        ("lastname", "last_name"),
        ("email", "email"),
        ("phone", "phone"),
    ]
    listed = manager.get(BASE).json()["items"]
    assert [(b["import_batch_id"], b["file_name"]) for b in listed] == [
        (batch["import_batch_id"], "contacts.ndjson")
    ]

    rows = manager.get(f"{BASE}/{batch['import_batch_id']}/rows").json()["items"]
    assert [(r["row_number"], r["status"]) for r in rows] == [
        (1, "valid"),
        (2, "invalid"),
        (3, "valid"),
    ]
    assert rows[1]["error_reason"] == "line 2 holds an array, not a JSON object"
    errors = manager.get(f"{BASE}/{batch['import_batch_id']}/errors")
    lines = list(csv.reader(io.StringIO(errors.text)))
    assert lines[0] == ["id", "firstname", "lastname", "email", "phone", "row", "error"]
    assert len(lines) == 2
    assert lines[1][-2:] == ["2", "line 2 holds an array, not a JSON object"]


def test_wrong_media_types_unreadable_files_and_bad_options_are_refused(
    api: HttpWorld,
) -> None:
    manager = api.as_role("sales_manager")
    for kind in ("text/plain", "application/json", "application/vnd.ms-excel"):
        refused = manager.post(
            BASE, content=SHEET, headers={"content-type": kind}, params={"source_system": "x"}
        )
        problem(refused, 415, "unsupported_media_type")
    problem(
        manager.post(BASE, content=SHEET, params={"source_system": "x"}),
        415,
        "unsupported_media_type",
    )
    empty = problem(_submit(manager, b""), 422, "unreadable_import")
    assert (empty["field"], empty["reason"]) == ("file", "the file is empty")
    xlsx = b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4
    binary = problem(_submit(manager, xlsx), 422, "unreadable_import")
    assert binary["field"] == "file"
    headless = problem(
        _submit(manager, b"Asha,asha@example.in,9840011111\r\n"), 422, "unreadable_import"
    )
    assert "header row" in headless["reason"]
    not_lines = manager.post(
        BASE, content=b"[1, 2]\n", headers=NDJSON, params={"source_system": "x"}
    )
    assert problem(not_lines, 422, "unreadable_import")["field"] == "file"

    missing = problem(manager.post(BASE, content=SHEET, headers=CSV), 422, "validation_failed")
    assert missing["field"] == "source_system"
    for params, field in (
        ({"delimiter": ";;"}, "delimiter"),
        ({"assign_to": str(uuid.uuid4())}, "assign_to"),
        ({"assign_to": "nobody"}, "assign_to"),
        ({"mapping_from": str(uuid.uuid4())}, "mapping_from"),
    ):
        body = problem(_submit(manager, SHEET, **params), 422, "validation_failed")
        assert body["field"] == field, (params, body)
    codec = problem(_submit(manager, SHEET, encoding="no-such-codec"), 422, "unreadable_import")
    assert codec["field"] == "encoding"
    assert manager.get(BASE).json()["items"] == []  # nothing was stored


def test_the_mapping_is_edited_checked_and_reused(api: HttpWorld) -> None:
    manager = api.as_role("sales_manager")
    sheet = b"Token,Name,Mobile\r\nT-1,Kiran Shah,9830054321\r\nT-2,Dev Rao,9830054322\r\n"
    batch = _submitted(manager, sheet)
    suggested = batch["mapping_json"]["columns"]
    assert [(c["column"], c["target"]) for c in suggested["columns"]] == [
        ("Token", None),
        ("Name", "full_name"),
        ("Mobile", "mobile"),
    ]
    url = f"{BASE}/{batch['import_batch_id']}/map"
    at = {"If-Match": f'"{batch["version"]}"'}
    edited = {
        **suggested,
        "columns": [{"column": "Token", "target": "source_ref"}, *suggested["columns"][1:]],
    }

    bad_target = {**edited, "columns": [{"column": "Token", "target": "shoe_size"}]}
    body = problem(
        manager.post(url, json={"mapping": bad_target}, headers=at), 422, "validation_failed"
    )
    assert "target" in body["field"]
    twice = {
        **suggested,
        "columns": [
            {"column": "Name", "target": "full_name"},
            {"column": "Mobile", "target": "full_name"},
        ],
    }
    body = problem(manager.post(url, json={"mapping": twice}, headers=at), 422, "validation_failed")
    assert body["field"] == "target"
    assert "full_name" in body["reason"]
    problem(manager.post(url, json={"maping": edited}, headers=at), 422, "validation_failed")
    problem(manager.post(url, json={"mapping": edited}), 428, "precondition_required")
    stale = {"If-Match": f'"{batch["version"] + 5}"'}
    problem(manager.post(url, json={"mapping": edited}, headers=stale), 412, "concurrency_conflict")

    mapped = manager.post(url, json={"mapping": edited}, headers=at)
    assert mapped.status_code == 200, mapped.text
    doc = mapped.json()["mapping_json"]
    assert doc["edited"] is True
    assert doc["columns"]["columns"][0]["target"] == "source_ref"
    rows = manager.get(f"{BASE}/{batch['import_batch_id']}/rows").json()["items"]
    assert [r["mapped_json"]["source_ref"] for r in rows] == ["T-1", "T-2"]

    reused = _submitted(manager, sheet, mapping_from=batch["import_batch_id"])
    assert reused["mapping_json"]["columns"]["columns"][0]["target"] == "source_ref"


def test_rows_are_set_aside_and_proposals_rejected(api: HttpWorld) -> None:
    operator = api.as_role("operator")
    batch = _proposed(api)
    batch_id = batch["import_batch_id"]
    url = f"{BASE}/{batch_id}/review-rows"
    body = problem(
        operator.post(url, json={"reject": [2], "restore": [2]}), 422, "validation_failed"
    )
    assert body["field"] == "restore"
    problem(operator.post(url, json={"reject": ["two"]}), 422, "validation_failed")
    reviewed = operator.post(url, json={"reject": [2]})
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json() == {"import_batch_id": batch_id, "changed": 1}
    skipped = operator.get(f"{BASE}/{batch_id}/rows", params={"status": "skipped"}).json()
    assert [r["row_number"] for r in skipped["items"]] == [2]
    assert operator.post(url, json={"restore": [2]}).json()["changed"] == 1

    reject = f"{BASE}/{batch_id}/reject"
    assert (
        problem(operator.post(reject, json={"comment": ""}), 422, "validation_failed")["field"]
        == "comment"
    )
    assert problem(operator.post(reject, json={}), 422, "validation_failed")["field"] == "comment"
    wrong = problem(
        operator.post(reject, json={"comment": "no", "outcomes": ["invalid"]}),
        422,
        "validation_failed",
    )
    assert wrong["field"] == "outcomes"
    rejected = operator.post(reject, json={"comment": "the wrong sheet", "outcomes": ["update"]})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "approved"
    problem(operator.post(url, json={"reject": [1]}), 409, "invalid_transition")

    done = operator.post(f"{BASE}/{batch_id}/commit").json()
    assert done["status"] == "committed"
    assert done["stats_json"]["committed"]["new"] == {"created": 1, "skipped": 0}
    assert "update" not in done["stats_json"]["committed"]
    asha = api.admin.get(f"/api/crm/contacts/{api.world.client_a.person_id}").json()
    assert asha["primary_email"] is None


def test_illegal_lifecycle_moves_are_409_and_stale_versions_412(api: HttpWorld) -> None:
    manager, operator = api.as_role("sales_manager"), api.as_role("operator")
    batch = _submitted(manager)
    batch_id = batch["import_batch_id"]
    at = {"If-Match": f'"{batch["version"]}"'}
    early = problem(manager.post(f"{BASE}/{batch_id}/commit"), 409, "invalid_transition")
    assert "parsed" in early["detail"]
    problem(manager.post(f"{BASE}/{batch_id}/propose", headers=at), 409, "invalid_transition")
    problem(operator.post(f"{BASE}/{batch_id}/approve", json={}), 409, "invalid_transition")
    problem(
        manager.post(f"{BASE}/{batch_id}/undo", json={"reason": "x"}), 409, "invalid_transition"
    )
    problem(manager.post(f"{BASE}/{batch_id}/retry", headers=at), 409, "invalid_transition")

    fail = f"{BASE}/{batch_id}/fail"
    assert (
        problem(manager.post(fail, json={"reason": " "}, headers=at), 422, "validation_failed")[
            "field"
        ]
        == "reason"
    )
    problem(manager.post(fail, json={"reason": "x"}), 428, "precondition_required")
    failed = manager.post(fail, json={"reason": "the wrong export"}, headers=at)
    assert failed.status_code == 200, failed.text
    assert (failed.json()["status"], failed.json()["failure_reason"]) == (
        "failed",
        "the wrong export",
    )
    problem(manager.post(f"{BASE}/{batch_id}/retry", headers=at), 412, "concurrency_conflict")
    retried = _step(manager, failed.json(), "retry")
    assert (retried["status"], retried["failure_reason"]) == ("uploaded", None)
    mapped = _step(manager, retried, "map")
    assert mapped["status"] == "mapped"
    listed = manager.get(BASE, params={"status": "mapped"}).json()["items"]
    assert [b["import_batch_id"] for b in listed] == [batch_id]
    assert manager.get(BASE, params={"status": "parsed"}).json()["items"] == []
    assert (
        problem(manager.get(BASE, params={"status": "done"}), 422, "validation_failed")["field"]
        == "status"
    )


def test_four_eyes_permissions_and_unknown_batches(api: HttpWorld) -> None:
    manager, operator = api.as_role("sales_manager"), api.as_role("operator")
    denied = problem(_submit(api.agent_a, SHEET), 403, "permission_denied")
    assert denied["permission"] == "crm.imports.submit"
    denied = problem(api.as_role("analyst").get(BASE), 403, "permission_denied")
    assert denied["permission"] == "crm.imports.submit"
    problem(_submit(api.anonymous, SHEET), 401, "authentication_failed")

    batch = _proposed(api)
    batch_id = batch["import_batch_id"]
    for method, path, body in (
        ("POST", "approve", {}),
        ("POST", "reject", {"comment": "no"}),
        ("POST", "review-rows", {"reject": [2]}),
    ):
        refused = manager.request(method, f"{BASE}/{batch_id}/{path}", json=body)
        assert problem(refused, 403, "permission_denied")["permission"] == "crm.imports.review"
    assert (
        problem(manager.get(f"{BASE}/unresolved"), 403, "permission_denied")["permission"]
        == "crm.imports.review"
    )
    for path in ("", "/rows", "/errors", "/replay"):
        refused = api.agent_a.get(f"{BASE}/{batch_id}{path}")
        assert problem(refused, 403, "permission_denied")["permission"] == "crm.imports.submit"

    # The operator who prepared a batch never approves it.
    own = _step(operator, _step(operator, _submitted(operator), "map"), "propose")
    assert own["status"] == "proposed"
    refused = problem(
        operator.post(f"{BASE}/{own['import_batch_id']}/approve", json={}), 403, "approval_refused"
    )
    assert "four eyes" in refused["detail"]

    unknown = uuid.uuid4()
    at = {"If-Match": '"1"'}
    for method, path, body, headers in (
        ("GET", "", None, None),
        ("GET", "/rows", None, None),
        ("GET", "/errors", None, None),
        ("GET", "/replay", None, None),
        ("POST", "/map", {}, at),
        ("POST", "/propose", None, at),
        ("POST", "/commit", None, None),
        ("POST", "/undo", {"reason": "x"}, None),
        ("POST", "/fail", {"reason": "x"}, at),
        ("POST", "/retry", None, at),
    ):
        missing = manager.request(method, f"{BASE}/{unknown}{path}", json=body, headers=headers)
        assert problem(missing, 404, "not_found")["detail"].endswith("not found"), path
    for path, body in (("/approve", {}), ("/reject", {"comment": "x"}), ("/review-rows", {})):
        problem(operator.post(f"{BASE}/{unknown}{path}", json=body), 404, "not_found")
    problem(manager.get(f"{BASE}/not-a-uuid"), 404, "no_such_route")
    assert (
        problem(
            manager.get(f"{BASE}/{batch_id}/rows", params={"outcome": "maybe"}),
            422,
            "validation_failed",
        )["field"]
        == "outcome"
    )
