"""Client 360, the client summaries and QD through a real server, on both stores."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.http import HttpWorld, problem
from tests.support.world import World


def _allow_analyst(world: World, *permissions: str) -> None:
    """Leave the analyst role only ``permissions`` (read again on the analyst's next request)."""
    world.velocity.roles.set_permissions(world.admin, "analyst", permissions)


def _twins_merged(api: HttpWorld) -> tuple[str, str]:
    """Two fresh people merged (the first survives): their ids, as text."""
    velocity, world = api.world.velocity, api.world
    twins = [
        velocity.contacts.create(world.admin, full_name="Twin Das", allow_duplicate=True).key
        for _ in range(2)
    ]
    proposal = velocity.merges.propose(
        world.by_role["sales_manager"], twins, reason="twins"
    ).writeback_id
    assert proposal is not None
    velocity.writebacks.approve(world.by_role["operator"], proposal)
    velocity.writebacks.approve(world.admin, proposal)
    velocity.writebacks.execute(world.admin, proposal)
    return str(twins[0]), str(twins[1])


# -- /api/crm/client-360/{client_id} ----------------------------------------------------------


def test_client_360_shows_the_client_and_pages_the_interactions(api: HttpWorld) -> None:
    client_a = str(api.world.client_a.person_id)
    first = api.admin.get(f"/api/crm/client-360/{client_a}", params={"interactions": 2})
    assert first.status_code == 200, first.text
    view = first.json()
    assert view["person"]["person_id"] == client_a
    assert [lead["person_id"] for lead in view["leads"]] == [client_a]
    assert view["interactions_by_channel"] == {"call": 1, "email": 1, "whatsapp": 1}
    assert view["omitted"] == []
    assert view["deals"] == []
    assert view["open_deals"] == 0
    page = view["interactions"]
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    rest = api.admin.get(
        f"/api/crm/client-360/{client_a}",
        params={"interactions": 2, "cursor": page["next_cursor"]},
    ).json()["interactions"]
    seen = [i["interaction_id"] for i in (*page["items"], *rest["items"])]
    assert len(set(seen)) == 3
    assert rest["next_cursor"] is None

    client_b = str(api.world.client_b.person_id)
    deal_view = api.admin.get(f"/api/crm/client-360/{client_b}").json()
    [deal] = deal_view["deals"]
    assert deal["opportunity"]["person_id"] == client_b
    assert isinstance(deal["seconds_in_stage"], int)
    assert deal["seconds_in_stage"] >= 0
    assert deal["stage_since"] == deal["opportunity"]["created_at"]
    assert deal_view["open_deals"] == 1


def test_client_360_leaves_out_the_parts_a_role_may_not_read(api: HttpWorld) -> None:
    _allow_analyst(api.world, "crm.contacts.read", "crm.contacts.read_all", "crm.leads.read")
    client_a = api.world.client_a.person_id
    view = api.as_role("analyst").get(f"/api/crm/client-360/{client_a}").json()
    assert [lead["person_id"] for lead in view["leads"]] == [str(client_a)]
    assert "leads" not in view["omitted"]
    assert {"interactions", "opportunities", "qd"} <= set(view["omitted"])
    assert view["interactions"] == {"items": [], "next_cursor": None}


def test_client_360_refusals(api: HttpWorld) -> None:
    client_a, client_b = api.world.client_a.person_id, api.world.client_b.person_id
    problem(api.agent_a.get(f"/api/crm/client-360/{client_b}"), 404, "not_found")
    problem(api.admin.get(f"/api/crm/client-360/{uuid.uuid4()}"), 404, "not_found")
    for size in (0, 501, "many"):
        body = problem(
            api.admin.get(f"/api/crm/client-360/{client_a}", params={"interactions": size}),
            422,
            "validation_failed",
        )
        assert body["field"] == "interactions"
    problem(
        api.admin.get(f"/api/crm/client-360/{client_a}", params={"cursor": "garbage"}),
        422,
        "invalid_cursor",
    )
    _allow_analyst(api.world, "crm.qd.read")
    denied = problem(
        api.as_role("analyst").get(f"/api/crm/client-360/{client_a}"), 403, "permission_denied"
    )
    assert denied["permission"] == "crm.contacts.read"


def test_client_360_of_a_merged_client_is_its_survivor(api: HttpWorld) -> None:
    survivor, merged = _twins_merged(api)
    view = api.admin.get(f"/api/crm/client-360/{merged}").json()
    assert view["person"]["person_id"] == survivor
    assert [m["merged_person_ids"] for m in view["merged_from"]] == [[merged]]


# -- /api/crm/client-summaries ----------------------------------------------------------------


def _names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [line["full_name"] for line in response.json()["items"]]


def test_summaries_sort_filter_and_page(api: HttpWorld) -> None:
    world = api.world
    assert _names(api.admin.get("/api/crm/client-summaries", params={"sort": "name"})) == [
        "Asha Rao",
        "Ravi Sen",
    ]
    # The default order is the latest activity first; Ravi has none, so he comes last.
    lines = api.admin.get("/api/crm/client-summaries").json()["items"]
    assert [line["full_name"] for line in lines] == ["Asha Rao", "Ravi Sen"]
    assert lines[0]["last_activity_at"] is not None
    assert lines[1]["last_activity_at"] is None
    assert _names(api.admin.get("/api/crm/client-summaries", params={"stage": "new"})) == [
        "Ravi Sen"
    ]
    mine = {"assigned_user_id": str(world.agent_b.user_id)}
    assert _names(api.admin.get("/api/crm/client-summaries", params=mine)) == ["Ravi Sen"]
    assert _names(api.agent_a.get("/api/crm/client-summaries")) == ["Asha Rao"]
    hot = {"qd_band": "hot", "sort": "qd"}
    assert _names(api.admin.get("/api/crm/client-summaries", params=hot)) == []
    api.admin.post(
        f"/api/crm/qd/{world.client_b.person_id}/points",
        json={"score_type": "overall", "signal_source": "manual", "value": 90},
    )
    [line] = api.admin.get("/api/crm/client-summaries", params=hot).json()["items"]
    assert line["full_name"] == "Ravi Sen"
    assert line["qd_band"] == "hot"

    first = api.admin.get("/api/crm/client-summaries", params={"sort": "name", "limit": 1})
    assert _names(first) == ["Asha Rao"]
    link = first.headers["link"]
    assert link.endswith('rel="next"')
    following = api.admin.get(link.split(";")[0].strip("<>"))
    assert _names(following) == ["Ravi Sen"]
    assert "link" not in following.headers


def test_summaries_refusals(api: HttpWorld) -> None:
    where = "/api/crm/client-summaries"
    for params, field in (
        ({"sort": "bogus"}, "sort"),
        ({"stage": "sold"}, "stage"),
        ({"qd_band": "tepid"}, "qd_band"),
        ({"limit": 0}, "limit"),
        ({"assigned_user_id": "someone"}, "assigned_user_id"),
        ({"active_from": "2026-02-01T00:00:00Z", "active_to": "2026-01-01T00:00:00Z"}, "active_to"),
    ):
        body = problem(api.admin.get(where, params=params), 422, "validation_failed")
        assert body["field"] == field, params
    problem(api.admin.get(where, params={"cursor": "garbage"}), 422, "invalid_cursor")
    by_name = api.admin.get(where, params={"sort": "name", "limit": 1}).json()["next_cursor"]
    problem(api.admin.get(where, params={"sort": "qd", "cursor": by_name}), 422, "invalid_cursor")

    _allow_analyst(api.world, "crm.contacts.read", "crm.contacts.read_all")
    analyst = api.as_role("analyst")
    lines = analyst.get(where, params={"sort": "name"}).json()["items"]
    assert lines
    assert all(set(line["omitted"]) == {"activity", "deals", "qd"} for line in lines)
    assert all(line["qd"] is None and line["open_deals"] is None for line in lines)
    denied = problem(analyst.get(where, params={"sort": "qd"}), 403, "permission_denied")
    assert denied["permission"] == "crm.qd.read"
    _allow_analyst(api.world, "crm.qd.read")
    denied = problem(analyst.get(where), 403, "permission_denied")
    assert denied["permission"] == "crm.contacts.read"


# -- /api/crm/qd/{client_id} ------------------------------------------------------------------


def test_qd_points_are_recorded_and_read_back(api: HttpWorld) -> None:
    client_a = str(api.world.client_a.person_id)
    empty = api.agent_a.get(f"/api/crm/qd/{client_a}")
    assert empty.status_code == 200, empty.text
    assert empty.json()["scores"] == {}
    assert empty.json()["truncated"] is False

    made = api.agent_a.post(
        f"/api/crm/qd/{client_a}/points",
        json={
            "score_type": "intent",
            "signal_source": "call",
            "value": "70",
            "interaction_id": str(api.world.call.interaction_id),
            "evidence_ref": "call:budget",
        },
    )
    assert made.status_code == 201, made.text
    assert made.headers["location"] == f"/api/crm/qd/{client_a}"
    recorded = made.json()
    assert recorded["point"]["person_id"] == client_a
    assert recorded["point"]["evidence_ref"] == "call:budget"
    assert recorded["summary"]["score_type"] == "intent"
    assert recorded["summary"]["current_value"] is not None

    read = api.agent_a.get(f"/api/crm/qd/{client_a}", params={"series": "raw"}).json()
    intent = read["scores"]["intent"]
    assert intent["current"] == recorded["summary"]["current_value"]
    assert [p["timeseries_id"] for p in intent["points"]] == [recorded["point"]["timeseries_id"]]
    assert intent["buckets"] == []
    by_day = api.agent_a.get(f"/api/crm/qd/{client_a}", params={"series": "day"}).json()
    [bucket] = by_day["scores"]["intent"]["buckets"]
    assert bucket["count"] == 1
    assert by_day["scores"]["intent"]["points"] == []
    later = api.agent_a.get(
        f"/api/crm/qd/{client_a}", params={"series": "raw", "since": "2999-01-01T00:00:00Z"}
    ).json()
    assert later["scores"]["intent"]["points"] == []


def test_qd_refusals(api: HttpWorld) -> None:
    world = api.world
    client_a, client_b = world.client_a.person_id, world.client_b.person_id
    points = f"/api/crm/qd/{client_a}/points"
    good = {"score_type": "intent", "signal_source": "call", "value": 50}
    for change, field in (
        ({"value": 101}, "value"),
        ({"value": 70.5}, "value"),
        ({"score_type": "mood"}, "score_type"),
        ({"signal_source": "rumour"}, "signal_source"),
        ({"timestamp": "2999-01-01T00:00:00+00:00"}, "timestamp"),
        ({"interaction_id": str(uuid.uuid4())}, "interaction_id"),
        ({"colour": "red"}, "colour"),
    ):
        body = problem(api.agent_a.post(points, json=good | change), 422, "validation_failed")
        assert body["field"] == field, change
    missing = {k: v for k, v in good.items() if k != "value"}
    assert problem(api.agent_a.post(points, json=missing), 422, "validation_failed")["field"] == (
        "value"
    )
    body = problem(
        api.admin.get(f"/api/crm/qd/{client_a}", params={"series": "hourly"}),
        422,
        "validation_failed",
    )
    assert body["field"] == "series"

    # Another agent's client, and nobody at all, are both simply not there.
    problem(api.agent_a.get(f"/api/crm/qd/{client_b}"), 404, "not_found")
    problem(api.agent_a.post(f"/api/crm/qd/{client_b}/points", json=good), 404, "not_found")
    problem(api.admin.get(f"/api/crm/qd/{uuid.uuid4()}"), 404, "not_found")
    problem(api.admin.post(f"/api/crm/qd/{uuid.uuid4()}/points", json=good), 404, "not_found")

    denied = problem(api.as_role("analyst").post(points, json=good), 403, "permission_denied")
    assert denied["permission"] == "crm.qd.write"
    _allow_analyst(world, "crm.contacts.read")
    denied = problem(
        api.as_role("analyst").get(f"/api/crm/qd/{client_a}"), 403, "permission_denied"
    )
    assert denied["permission"] == "crm.qd.read"
    # Nothing refused was recorded.
    assert api.admin.get(f"/api/crm/qd/{client_a}").json()["scores"] == {}


def test_qd_of_a_merged_client_names_the_survivor(api: HttpWorld) -> None:
    survivor, merged = _twins_merged(api)
    body = problem(api.admin.get(f"/api/crm/qd/{merged}"), 409, "merged_record")
    assert body["survivor"] == survivor
    body = problem(
        api.admin.post(
            f"/api/crm/qd/{merged}/points",
            json={"score_type": "intent", "signal_source": "call", "value": 50},
        ),
        409,
        "merged_record",
    )
    assert body["survivor"] == survivor
