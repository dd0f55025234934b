"""``/api/crm/opportunities`` through a real server, on both stores: each case a client meets."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.http import HttpWorld, problem
from tests.support.roleless import roleless_client
from velocity_domain.crm.entities import Opportunity

URL = "/api/crm/opportunities"


def _deal(api: HttpWorld, **more: object) -> dict[str, Any]:
    """A new deal of client A held by agent A, opened by the admin."""
    body = {
        "person_id": str(api.world.client_a.person_id),
        "assigned_user_id": str(api.world.agent_a.user_id),
        **more,
    }
    created = api.admin.post(URL, json=body)
    assert created.status_code == 201, created.text
    deal: dict[str, Any] = created.json()
    return deal


def _deal_of_b(api: HttpWorld) -> Opportunity:
    """Client B's deal, held by agent B (agent A may not see it)."""
    page = api.world.velocity.opportunities.list(api.world.admin, person_id=api.world.client_b.key)
    deal = page.items[0]
    assert isinstance(deal, Opportunity)
    return deal


def test_open_read_change_move_and_list_a_deal(api: HttpWorld) -> None:
    client_a = str(api.world.client_a.person_id)
    created = api.agent_a.post(
        URL,
        json={"person_id": client_a, "value": "12500000.00", "expected_close_date": "2026-09-30"},
    )
    assert created.status_code == 201, created.text
    deal = created.json()
    assert (deal["stage"], deal["value"], deal["currency"]) == ("new", "12500000.00", "INR")
    assert deal["assigned_user_id"] == str(api.world.agent_a.user_id)  # the agent holds it
    assert created.headers["location"] == f"{URL}/{deal['opportunity_id']}"
    assert created.headers["etag"] == '"1"'
    where = created.headers["location"]

    read = api.agent_a.get(where)
    assert (read.status_code, read.json(), read.headers["etag"]) == (200, deal, '"1"')

    changed = api.agent_a.put(
        where, json={"next_action": "Send the brochure"}, headers={"If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["next_action"] == "Send the brochure"
    assert changed.json()["value"] == "12500000.00"  # not named: kept
    assert changed.headers["etag"] == '"2"'

    moved = api.agent_a.post(
        f"{where}/stage",
        json={"to_stage": "contacted", "reason": "first call"},
        headers={"If-Match": '"2"'},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["stage"] == "contacted"
    assert moved.headers["etag"] == '"3"'

    stays = api.agent_a.get(f"{where}/time-in-stages")
    assert stays.status_code == 200, stays.text
    assert [s["stage"] for s in stays.json()] == ["new", "contacted"]
    first, current = stays.json()
    assert first["left_at"] == current["entered_at"]
    assert current["left_at"] is None
    assert all(isinstance(s["duration_seconds"], int | float) for s in stays.json())

    mine = api.agent_a.get(URL, params={"person_id": client_a}).json()["items"]
    assert [d["opportunity_id"] for d in mine] == [deal["opportunity_id"]]
    contacted = api.admin.get(URL, params={"stage": "contacted"}).json()["items"]
    assert [d["opportunity_id"] for d in contacted] == [deal["opportunity_id"]]
    seen_by_a = {d["opportunity_id"] for d in api.agent_a.get(URL).json()["items"]}
    assert str(_deal_of_b(api).key) not in seen_by_a


def test_won_or_lost_waits_for_approval(api: HttpWorld) -> None:
    deal = _deal(api)
    where = f"{URL}/{deal['opportunity_id']}"
    held = api.agent_a.post(
        f"{where}/stage",
        json={"to_stage": "lost", "lost_reason": "bought elsewhere"},
        headers={"If-Match": '"1"'},
    )
    assert held.status_code == 202, held.text
    proposal = held.json()
    assert held.headers["location"] == f"/api/workflow/writebacks/{proposal['proposal_id']}"
    assert proposal["location"] == held.headers["location"]
    unchanged = api.agent_a.get(where).json()
    assert (unchanged["stage"], unchanged["version"], unchanged["closed_at"]) == ("new", 1, None)

    velocity, operator = api.world.velocity, api.world.by_role["operator"]
    velocity.writebacks.approve(operator, uuid.UUID(proposal["proposal_id"]), comment="ok")
    assert velocity.writebacks.execute(operator, uuid.UUID(proposal["proposal_id"])).applied
    closed = api.agent_a.get(where).json()
    assert (closed["stage"], closed["lost_reason"]) == ("lost", "bought elsewhere")
    assert closed["closed_at"] is not None

    other = _deal(api, value="5000000")
    repriced = api.agent_a.put(
        f"{URL}/{other['opportunity_id']}", json={"value": "4000000"}, headers={"If-Match": '"1"'}
    )
    assert repriced.status_code == 202, repriced.text
    assert api.agent_a.get(f"{URL}/{other['opportunity_id']}").json()["value"] == "5000000.00"


def test_illegal_moves_and_stale_versions_are_conflicts(api: HttpWorld) -> None:
    deal = _deal(api)
    where = f"{URL}/{deal['opportunity_id']}"
    for stage in ("won", "booking"):
        refused = problem(
            api.agent_a.post(
                f"{where}/stage", json={"to_stage": stage}, headers={"If-Match": '"1"'}
            ),
            409,
            "invalid_transition",
        )
        assert (refused["current"], refused["target"]) == ("new", stage)
        assert refused["allowed"] == ["contacted", "lost"]
    stale = problem(
        api.agent_a.post(
            f"{where}/stage", json={"to_stage": "contacted"}, headers={"If-Match": '"4"'}
        ),
        412,
        "concurrency_conflict",
    )
    assert stale["actual_version"] == 1
    problem(
        api.agent_a.post(f"{where}/stage", json={"to_stage": "contacted"}),
        428,
        "precondition_required",
    )
    problem(
        api.agent_a.put(where, json={"next_action": "x"}, headers={"If-Match": '"2"'}),
        412,
        "concurrency_conflict",
    )
    problem(api.agent_a.put(where, json={"next_action": "x"}), 428, "precondition_required")
    assert api.agent_a.get(where).json() == deal


def test_bad_values_name_their_field(api: HttpWorld) -> None:
    client_a = str(api.world.client_a.person_id)
    for body, field in (
        ({}, "person_id"),
        ({"person_id": "nope"}, "person_id"),
        ({"person_id": str(uuid.uuid4())}, "person_id"),
        ({"person_id": client_a, "value": 1.5}, "value"),
        ({"person_id": client_a, "probability": "2"}, "probability"),
        ({"person_id": client_a, "expected_close_date": "soon"}, "expected_close_date"),
        ({"person_id": client_a, "account_id": str(uuid.uuid4())}, "account_id"),
        ({"person_id": client_a, "stage": "won"}, "stage"),
    ):
        refused = problem(api.admin.post(URL, json=body), 422, "validation_failed")
        assert refused["field"] == field, (body, refused)
    deal = _deal(api)
    where = f"{URL}/{deal['opportunity_id']}"
    for body, field in (
        ({"to_stage": "castle"}, "to_stage"),
        ({"to_stage": "lost"}, "lost_reason"),
        ({"to_stage": "contacted", "lost_reason": "why"}, "lost_reason"),
    ):
        refused = problem(
            api.agent_a.post(f"{where}/stage", json=body, headers={"If-Match": '"1"'}),
            422,
            "validation_failed",
        )
        assert refused["field"] == field, (body, refused)
    refused = problem(
        api.agent_a.put(where, json={"currency": "rupees"}, headers={"If-Match": '"1"'}),
        422,
        "validation_failed",
    )
    assert refused["field"] == "currency"
    for params, field in (({"stage": "castle"}, "stage"), ({"limit": 501}, "limit")):
        refused = problem(api.admin.get(URL, params=params), 422, "validation_failed")
        assert refused["field"] == field
    assert api.agent_a.get(where).json() == deal


def test_a_deal_the_caller_may_not_see_is_404(api: HttpWorld) -> None:
    hidden = f"{URL}/{_deal_of_b(api).key}"
    missing = f"{URL}/{uuid.uuid4()}"
    for where in (hidden, missing):
        problem(api.agent_a.get(where), 404, "not_found")
        problem(api.agent_a.get(f"{where}/time-in-stages"), 404, "not_found")
        problem(
            api.agent_a.put(where, json={"next_action": "x"}, headers={"If-Match": '"1"'}),
            404,
            "not_found",
        )
        problem(
            api.agent_a.post(
                f"{where}/stage", json={"to_stage": "contacted"}, headers={"If-Match": '"1"'}
            ),
            404,
            "not_found",
        )
    assert api.agent_b.get(hidden).json()["stage"] == "new"


def test_missing_permissions_are_403(api: HttpWorld) -> None:
    deal = _deal(api)
    where = f"{URL}/{deal['opportunity_id']}"
    analyst = api.as_role("analyst")
    for response in (
        analyst.post(URL, json={"person_id": str(api.world.client_a.person_id)}),
        analyst.put(where, json={"next_action": "x"}, headers={"If-Match": '"1"'}),
        analyst.post(f"{where}/stage", json={"to_stage": "contacted"}, headers={"If-Match": '"1"'}),
    ):
        denied = problem(response, 403, "permission_denied")
        assert denied["permission"] == "crm.opportunities.write"
    assert analyst.get(where).json() == deal  # the analyst reads
    with roleless_client(api) as nobody:
        for response in (nobody.get(URL), nobody.get(where), nobody.get(f"{where}/time-in-stages")):
            denied = problem(response, 403, "permission_denied")
            assert denied["permission"] == "crm.opportunities.read"
    problem(api.anonymous.get(where), 401, "authentication_failed")
