"""``/api/crm/interactions`` through a real server, on both stores: each case a client meets."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from tests.support.http import HttpWorld, problem
from tests.support.roleless import roleless_client
from tests.support.world import T0

URL = "/api/crm/interactions"


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["interaction_id"] for i in items}


def _artifact(detail: dict[str, Any], table: str) -> dict[str, Any]:
    found = [a for a in detail["artifacts"] if a["table"] == table]
    assert len(found) == 1, detail
    return found[0]


def test_a_clients_timeline_by_channel_and_time(api: HttpWorld) -> None:
    client_a = str(api.world.client_a.person_id)
    chat, call = str(api.world.chat.interaction_id), str(api.world.call.interaction_id)
    everything = api.agent_a.get(URL, params={"person_id": client_a})
    assert everything.status_code == 200, everything.text
    items = everything.json()["items"]
    assert len(items) == 3  # the chat, the call and an email
    assert {chat, call} <= _ids(items)
    assert {i["person_id"] for i in items} == {client_a}

    chats = api.agent_a.get(URL, params={"person_id": client_a, "channel": "whatsapp"}).json()
    assert [i["interaction_id"] for i in chats["items"]] == [chat]
    two = api.agent_a.get(
        URL, params=[("person_id", client_a), ("channel", "whatsapp"), ("channel", "call")]
    )
    assert _ids(two.json()["items"]) == {chat, call}
    later = (T0 + timedelta(seconds=1)).isoformat()
    assert (
        api.agent_a.get(URL, params={"person_id": client_a, "since": later}).json()["items"] == []
    )
    assert (
        len(api.agent_a.get(URL, params={"person_id": client_a, "until": later}).json()["items"])
        == 3
    )

    first = api.agent_a.get(URL, params={"person_id": client_a, "limit": 2})
    assert len(first.json()["items"]) == 2
    rest = api.agent_a.get(first.headers["link"].split(";")[0].strip("<>"))
    assert _ids(first.json()["items"]) | _ids(rest.json()["items"]) == _ids(items)
    assert rest.json()["next_cursor"] is None


def test_log_an_interaction_and_read_it_back(api: HttpWorld) -> None:
    client_a = str(api.world.client_a.person_id)
    happened = api.world.clock.now().isoformat()
    logged = api.agent_a.post(
        URL,
        json={
            "person_id": client_a,
            "channel": "call",
            "direction": "inbound",
            "interaction_type": "negotiation",
            "happened_at": happened,
            "summary": "Asked for a discount",
            "call": {"duration_seconds": 42, "from_phone": "+919830012345"},
            "transcript": {"full_text": "Can you do 1.1 Cr?", "language": "en"},
        },
    )
    assert logged.status_code == 201, logged.text
    interaction = logged.json()
    assert interaction["recorded_by_user_id"] == str(api.world.agent_a.user_id)
    assert (interaction["channel"], interaction["interaction_type"]) == ("call", "negotiation")
    assert logged.headers["location"] == f"{URL}/{interaction['interaction_id']}"

    read = api.agent_a.get(logged.headers["location"])
    assert read.status_code == 200, read.text
    detail = read.json()
    assert detail["interaction"] == interaction
    assert _artifact(detail, "intel_calls")["data"]["duration_seconds"] == 42
    transcript = _artifact(detail, "intel_transcripts")
    assert transcript["data"]["full_text"] == "Can you do 1.1 Cr?"  # agents read sensitive text
    assert transcript["redacted_fields"] == []

    hidden = api.as_role("analyst").get(logged.headers["location"]).json()
    transcript = _artifact(hidden, "intel_transcripts")
    assert transcript["data"]["full_text"] is None
    assert "full_text" in transcript["redacted_fields"]

    timeline = api.agent_a.get(URL, params={"person_id": client_a}).json()["items"]
    assert interaction["interaction_id"] in _ids(timeline)


def test_sensitive_content_only_for_those_allowed(api: HttpWorld) -> None:
    where = f"{URL}/{api.world.chat.interaction_id}"
    shown = _artifact(api.admin.get(where).json(), "intel_messages")
    assert shown["data"]["message_text"] == "My budget is 1.2 Cr"
    withheld = _artifact(api.as_role("analyst").get(where).json(), "intel_messages")
    assert withheld["data"]["message_text"] is None
    assert "message_text" in withheld["redacted_fields"]
    assert withheld["key"] == shown["key"]


def test_bad_values_name_their_field(api: HttpWorld) -> None:
    client_a = str(api.world.client_a.person_id)
    at = api.world.clock.now().isoformat()
    base = {"person_id": client_a, "channel": "call", "direction": "outbound", "happened_at": at}
    deal_of_b = api.world.velocity.opportunities.list(
        api.world.admin, person_id=api.world.client_b.key
    ).items[0]
    for body, field in (
        ({"channel": "call", "happened_at": at}, "person_id"),
        ({**base, "channel": "pigeon"}, "channel"),
        ({**base, "happened_at": "2026-05-04T11:00:00"}, "happened_at"),  # no offset
        ({**base, "direction": "sideways"}, "direction"),
        ({**base, "message": {"message_text": "hi"}}, "message"),  # not a call's detail
        ({**base, "call": {"colour": "red"}}, "call.colour"),
        ({**base, "call": {"duration_seconds": -5}}, "call.duration_seconds"),
        ({**base, "call": "long"}, "call"),
        ({**base, "transcript": {"full_text": "x"}}, "transcript"),  # without its call
        ({**base, "lead_id": str(uuid.uuid4())}, "lead_id"),
        ({**base, "opportunity_id": str(deal_of_b.key)}, "opportunity_id"),  # hidden
        ({**base, "recorded_by_user_id": client_a}, "recorded_by_user_id"),
    ):
        refused = problem(api.agent_a.post(URL, json=body), 422, "validation_failed")
        assert refused["field"] == field, (body, refused)
    # A missing person_id is refused too; the HTTP layer does not name it yet ("request").
    problem(api.agent_a.get(URL), 422, "validation_failed")
    for params, field in (
        ({"person_id": "asha"}, "person_id"),
        ({"person_id": client_a, "channel": "pigeon"}, "channel"),
        ({"person_id": client_a, "since": "yesterday"}, "since"),
        ({"person_id": client_a, "limit": 0}, "limit"),
    ):
        refused = problem(api.agent_a.get(URL, params=params), 422, "validation_failed")
        assert refused["field"] == field, (params, refused)
    assert len(api.agent_a.get(URL, params={"person_id": client_a}).json()["items"]) == 3


def test_a_client_the_caller_may_not_see_is_404(api: HttpWorld) -> None:
    velocity, world = api.world.velocity, api.world
    of_b = velocity.interactions.log(
        world.admin, person_id=world.client_b.key, channel="other", happened_at=T0
    )
    for person in (world.client_b.person_id, uuid.uuid4()):
        problem(api.agent_a.get(URL, params={"person_id": str(person)}), 404, "not_found")
        logged = api.agent_a.post(
            URL, json={"person_id": str(person), "channel": "other", "happened_at": T0.isoformat()}
        )
        problem(logged, 404, "not_found")
    for key in (of_b.interaction_id, uuid.uuid4()):
        problem(api.agent_a.get(f"{URL}/{key}"), 404, "not_found")
    seen_by_b = api.agent_b.get(URL, params={"person_id": str(world.client_b.person_id)}).json()
    assert [i["interaction_id"] for i in seen_by_b["items"]] == [str(of_b.interaction_id)]


def test_missing_permissions_are_403(api: HttpWorld) -> None:
    client_a = str(api.world.client_a.person_id)
    logged = api.as_role("analyst").post(
        URL, json={"person_id": client_a, "channel": "other", "happened_at": T0.isoformat()}
    )
    assert problem(logged, 403, "permission_denied")["permission"] == "crm.interactions.write"
    with roleless_client(api) as nobody:
        for response in (
            nobody.get(URL, params={"person_id": client_a}),
            nobody.get(f"{URL}/{api.world.chat.interaction_id}"),
        ):
            denied = problem(response, 403, "permission_denied")
            assert denied["permission"] == "crm.interactions.read"
    problem(
        api.anonymous.get(f"{URL}/{api.world.chat.interaction_id}"), 401, "authentication_failed"
    )
    assert len(api.admin.get(URL, params={"person_id": client_a}).json()["items"]) == 3
