"""``/api/crm/accounts`` through a real server, on both stores: each case a client meets."""

from __future__ import annotations

import uuid

from tests.support.http import HttpWorld, problem
from tests.support.roleless import roleless_client

URL = "/api/crm/accounts"


def _account(api: HttpWorld, name: str, **more: object) -> dict[str, object]:
    created = api.admin.post(URL, json={"account_name": name, **more})
    assert created.status_code == 201, created.text
    body: dict[str, object] = created.json()
    return body


def test_create_read_change_and_list_accounts(api: HttpWorld) -> None:
    created = api.admin.post(
        URL,
        json={
            "account_name": "Prestige Estates Pvt. Ltd.",
            "account_type": "developer",
            "metadata_json": {"domain": "prestige.example"},
        },
    )
    assert created.status_code == 201, created.text
    parent = created.json()
    assert parent["account_type"] == "developer"
    assert parent["metadata_json"] == {"domain": "prestige.example"}
    assert created.headers["location"] == f"{URL}/{parent['account_id']}"
    assert created.headers["etag"] == '"1"'

    read = api.agent_a.get(created.headers["location"])
    assert read.status_code == 200
    assert read.json() == parent
    assert read.headers["etag"] == '"1"'

    child = _account(api, "Skyline Towers Site Office", parent_account_id=parent["account_id"])
    assert child["parent_account_id"] == parent["account_id"]
    assert child["account_type"] == "company"  # the default

    changed = api.admin.put(
        created.headers["location"],
        json={"industry": "real estate", "location_ref": None},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["industry"] == "real estate"
    assert changed.json()["account_name"] == "Prestige Estates Pvt. Ltd."  # not named: kept
    assert changed.json()["metadata_json"] == {"domain": "prestige.example"}
    assert changed.headers["etag"] == '"2"'

    found = api.admin.get(URL, params={"search": "prestige"}).json()["items"]
    assert [a["account_id"] for a in found] == [parent["account_id"]]
    under = api.admin.get(URL, params={"parent_account_id": parent["account_id"]}).json()
    assert [a["account_id"] for a in under["items"]] == [child["account_id"]]
    developers = api.admin.get(URL, params={"account_type": "developer"}).json()["items"]
    assert [a["account_id"] for a in developers] == [parent["account_id"]]
    first = api.admin.get(URL, params={"limit": 1})
    assert len(first.json()["items"]) == 1
    assert first.json()["next_cursor"] is not None
    assert 'rel="next"' in first.headers["link"]


def test_bad_values_name_their_field(api: HttpWorld) -> None:
    for body, field in (
        ({"account_name": 7}, "account_name"),
        ({}, "account_name"),
        ({"account_name": "X", "account_type": "castle"}, "account_type"),
        ({"account_name": "X", "parent_account_id": "not-a-uuid"}, "parent_account_id"),
        ({"account_name": "X", "parent_account_id": str(uuid.uuid4())}, "parent_account_id"),
        ({"account_name": "X", "metadata_json": [1]}, "metadata_json"),
        ({"account_name": "X", "accountname": "Y"}, "accountname"),
    ):
        refused = problem(api.admin.post(URL, json=body), 422, "validation_failed")
        assert refused["field"] == field, (body, refused)
    for params, field in (({"account_type": "castle"}, "account_type"), ({"limit": 0}, "limit")):
        refused = problem(api.admin.get(URL, params=params), 422, "validation_failed")
        assert refused["field"] == field
    problem(api.admin.get(URL, params={"cursor": "garbage"}), 422, "invalid_cursor")

    parent = _account(api, "Parent Holdings")
    child = _account(api, "Child Ventures", parent_account_id=parent["account_id"])
    cycle = api.admin.put(
        f"{URL}/{parent['account_id']}",
        json={"parent_account_id": child["account_id"]},
        headers={"If-Match": '"1"'},
    )
    assert problem(cycle, 422, "validation_failed")["field"] == "parent_account_id"
    nameless = api.admin.put(
        f"{URL}/{parent['account_id']}", json={"account_name": ""}, headers={"If-Match": '"1"'}
    )
    assert problem(nameless, 422, "validation_failed")["field"] == "account_name"
    assert api.admin.get(f"{URL}/{parent['account_id']}").json()["version"] == 1


def test_an_unknown_account_is_404(api: HttpWorld) -> None:
    missing = f"{URL}/{uuid.uuid4()}"
    problem(api.agent_a.get(missing), 404, "not_found")
    problem(
        api.admin.put(missing, json={"industry": "x"}, headers={"If-Match": '"1"'}),
        404,
        "not_found",
    )
    problem(api.admin.get(f"{URL}/not-a-uuid"), 404, "no_such_route")


def test_permissions_are_checked_before_the_body(api: HttpWorld) -> None:
    account = _account(api, "Guarded Ltd")
    where = f"{URL}/{account['account_id']}"
    for response in (
        api.as_role("analyst").post(URL, json={"account_name": "Nope"}),
        api.as_role("operator").post(URL, json={"account_name": 7}),  # 403 before the 422
        api.as_role("oracle_agent").put(where, json={"industry": "x"}, headers={"If-Match": '"1"'}),
    ):
        denied = problem(response, 403, "permission_denied")
        assert denied["permission"] == "crm.accounts.write"
    with roleless_client(api) as nobody:
        for response in (nobody.get(URL), nobody.get(where)):
            assert problem(response, 403, "permission_denied")["permission"] == "crm.accounts.read"
    problem(api.anonymous.get(URL), 401, "authentication_failed")
    assert api.admin.get(where).json() == account


def test_if_match_is_required_and_checked(api: HttpWorld) -> None:
    account = _account(api, "Versioned Ltd")
    where = f"{URL}/{account['account_id']}"
    problem(api.admin.put(where, json={"industry": "x"}), 428, "precondition_required")
    stale = problem(
        api.admin.put(where, json={"industry": "x"}, headers={"If-Match": '"7"'}),
        412,
        "concurrency_conflict",
    )
    assert stale["actual_version"] == 1
    assert api.admin.get(where).json()["industry"] is None


def test_a_duplicate_account_is_a_conflict(api: HttpWorld) -> None:
    first = _account(api, "Prestige Estates Pvt. Ltd.")
    clash = problem(
        api.admin.post(URL, json={"account_name": "PRESTIGE ESTATES"}), 409, "duplicate_suspected"
    )
    assert clash["existing_ids"] == [first["account_id"]]
    allowed = api.admin.post(
        URL, json={"account_name": "PRESTIGE ESTATES", "allow_duplicate": True, "reason": "branch"}
    )
    assert allowed.status_code == 201, allowed.text
    other = _account(api, "Brigade Group")
    renamed = api.admin.put(
        f"{URL}/{other['account_id']}",
        json={"account_name": "Prestige Estates"},
        headers={"If-Match": '"1"'},
    )
    problem(renamed, 409, "duplicate_suspected")
    assert api.admin.get(f"{URL}/{other['account_id']}").json()["account_name"] == "Brigade Group"
