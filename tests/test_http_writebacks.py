"""``/api/workflow/writebacks`` through a real server, on both stores: the release flow by HTTP."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from tests.support.http import HttpWorld, problem
from tests.support.world import World
from velocity_domain.access import Principal
from velocity_domain.errors import ApprovalRequired
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.policy import FieldRule

PREFIX = "/api/workflow/writebacks"
_TO_BOOKING = ("contacted", "site_visit_scheduled", "site_visit_done", "negotiation", "booking")


def _mark_won(world: World, who: Principal) -> UUID:
    """Walk client B's deal to booking as ``who``, then mark it won: the proposal's id."""
    velocity = world.velocity
    deal = velocity.opportunities.list(world.admin, person_id=world.client_b.key).items[0]
    for stage in _TO_BOOKING:
        deal = velocity.opportunities.move_stage(
            who, deal.key, stage, expected_version=deal.version
        )
    with pytest.raises(ApprovalRequired) as held:
        velocity.opportunities.move_stage(who, deal.key, "won", expected_version=deal.version)
    proposal = held.value.proposal_id
    assert isinstance(proposal, UUID)
    return proposal


def _agent_proposal(world: World) -> UUID:
    """A change the Oracle agent proposes, which the default policy sends to review."""
    velocity = world.velocity
    deal = velocity.opportunities.list(world.admin, person_id=world.client_b.key).items[0]
    proposal = velocity.writebacks.propose(
        world.by_role["oracle_agent"],
        target_table="crm_opportunities",
        change_kind="update",
        target_ref=deal.key,
        base_version=deal.version,
        fields={"next_action": "Call back on Monday"},
    )
    assert proposal.status.value == "review_required"
    assert isinstance(proposal.key, UUID)
    return proposal.key


def test_a_won_deal_is_reviewed_approved_and_executed(api: HttpWorld) -> None:
    world = api.world
    operator = api.as_role("operator")
    proposal = str(_mark_won(world, world.agent_b))

    inbox = operator.get(f"{PREFIX}/inbox")
    assert inbox.status_code == 200, inbox.text
    [item] = [i for i in inbox.json()["items"] if i["item_id"] == proposal]
    assert item["kind"] == "proposal"
    assert item["own"] is False
    assert item["writeback"]["status"] == "review_required"
    assert item["writeback"]["proposer_user_id"] == str(world.agent_b.user_id)

    review = api.agent_b.get(f"{PREFIX}/{proposal}")
    assert review.status_code == 200, review.text
    assert review.json()["writeback"]["writeback_id"] == proposal
    assert [d["rule_name"] for d in review.json()["decisions"]] == ["closing_stage"]
    assert review.json()["approvals"] == []

    # The agent who proposed it can neither approve it nor run it before it is approved.
    denied = problem(
        api.agent_b.post(f"{PREFIX}/{proposal}/approve", json={}), 403, "permission_denied"
    )
    assert denied["permission"] == "workflow.writebacks.approve"
    early = problem(api.agent_b.post(f"{PREFIX}/{proposal}/execute"), 409, "invalid_transition")
    assert early["current"] == "review_required"

    approved = operator.post(f"{PREFIX}/{proposal}/approve", json={"comment": "checked"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["approved_by"] == str(world.by_role["operator"].user_id)
    again = problem(
        operator.post(f"{PREFIX}/{proposal}/approve", json={}), 409, "invalid_transition"
    )
    assert again["current"] == "approved"

    done = api.agent_b.post(f"{PREFIX}/{proposal}/execute")
    assert done.status_code == 200, done.text
    assert done.json()["applied"] is True
    assert done.json()["writeback"]["status"] == "executed"
    deal = world.velocity.opportunities.list(world.admin, person_id=world.client_b.key).items[0]
    assert deal.stage.value == "won"
    assert done.json()["writeback"]["target_entity_ref"] == str(deal.key)
    repeat = api.agent_b.post(f"{PREFIX}/{proposal}/execute")
    assert repeat.status_code == 200
    assert repeat.json()["applied"] is False
    assert repeat.json()["writeback"]["executed_at"] == done.json()["writeback"]["executed_at"]

    review = api.agent_b.get(f"{PREFIX}/{proposal}").json()
    assert [(a["decision"], a["comment"]) for a in review["approvals"]] == [("approved", "checked")]
    inbox = operator.get(f"{PREFIX}/inbox").json()["items"]
    assert proposal not in [i["item_id"] for i in inbox]


def test_a_write_held_for_review_answers_202_pointing_here(api: HttpWorld) -> None:
    world = api.world

    def high_scores(change: ProposedChange, _: Principal) -> str | None:
        value = change.fields.get("value")
        return "scores above 95 are checked" if value is not None and Decimal(value) > 95 else None

    world.velocity.governance.policy.add(FieldRule("high_qd", high_scores))
    client_a = world.client_a.person_id
    held = api.agent_a.post(
        f"/api/crm/qd/{client_a}/points",
        json={"score_type": "intent", "signal_source": "manual", "value": 99},
    )
    assert held.status_code == 202, held.text
    assert held.json()["rule"] == "high_qd"
    where = held.headers["location"]
    assert where == held.json()["location"] == f"{PREFIX}/{held.json()['proposal_id']}"
    review = api.agent_a.get(where)
    assert review.status_code == 200, review.text
    assert review.json()["writeback"]["status"] == "review_required"
    assert [d["rule_name"] for d in review.json()["decisions"]] == ["high_qd"]
    # Approved and executed over HTTP, the point is recorded.
    assert api.as_role("operator").post(f"{where}/approve", json={}).status_code == 200
    assert api.agent_a.post(f"{where}/execute").json()["applied"] is True
    scores = api.agent_a.get(f"/api/crm/qd/{client_a}").json()["scores"]
    assert scores["intent"]["current"] is not None


def test_four_eyes_and_agents(api: HttpWorld) -> None:
    world = api.world
    own = _mark_won(world, world.admin)
    refused = problem(api.admin.post(f"{PREFIX}/{own}/approve", json={}), 403, "approval_refused")
    assert "four eyes" in refused["reason"]
    denied = problem(
        api.as_role("oracle_agent").post(f"{PREFIX}/{own}/approve", json={}),
        403,
        "permission_denied",
    )
    assert denied["permission"] == "workflow.writebacks.approve"
    item = next(
        i for i in api.admin.get(f"{PREFIX}/inbox").json()["items"] if i["item_id"] == str(own)
    )
    assert item["own"] is True
    assert api.admin.get(f"{PREFIX}/{own}").json()["writeback"]["status"] == "review_required"


def test_reject_says_why_and_is_final(api: HttpWorld) -> None:
    operator = api.as_role("operator")
    proposal = _agent_proposal(api.world)
    where = f"{PREFIX}/{proposal}/reject"
    assert problem(operator.post(where, json={}), 422, "validation_failed")["field"] == "comment"
    body = problem(operator.post(where, json={"comment": " "}), 422, "validation_failed")
    assert body["field"] == "comment"
    body = problem(
        operator.post(where, json={"comment": "no", "why": "x"}), 422, "validation_failed"
    )
    assert body["field"] == "why"
    denied = problem(api.agent_a.post(where, json={"comment": "no"}), 403, "permission_denied")
    assert denied["permission"] == "workflow.writebacks.approve"

    rejected = operator.post(where, json={"comment": "not now"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["rejection_reason"] == "not now"
    problem(operator.post(where, json={"comment": "still no"}), 409, "invalid_transition")
    problem(operator.post(f"{PREFIX}/{proposal}/approve", json={}), 409, "invalid_transition")
    problem(api.admin.post(f"{PREFIX}/{proposal}/execute"), 409, "invalid_transition")
    body = problem(
        operator.post(f"{PREFIX}/{proposal}/approve", json={"comment": ""}),
        422,
        "validation_failed",
    )
    assert body["field"] == "comment"


def test_unknown_and_invisible_proposals_are_404(api: HttpWorld) -> None:
    operator = api.as_role("operator")
    nobody = uuid.uuid4()
    problem(api.admin.get(f"{PREFIX}/{nobody}"), 404, "not_found")
    problem(operator.post(f"{PREFIX}/{nobody}/approve", json={}), 404, "not_found")
    problem(operator.post(f"{PREFIX}/{nobody}/reject", json={"comment": "x"}), 404, "not_found")
    problem(api.admin.post(f"{PREFIX}/{nobody}/execute"), 404, "not_found")

    proposal = _mark_won(api.world, api.world.agent_b)
    problem(api.agent_a.get(f"{PREFIX}/{proposal}"), 404, "not_found")
    problem(api.agent_a.post(f"{PREFIX}/{proposal}/execute"), 404, "not_found")
    assert str(proposal) not in [w["writeback_id"] for w in api.agent_a.get(PREFIX).json()["items"]]
    problem(operator.get(f"{PREFIX}/inbox", params={"operator_id": str(nobody)}), 404, "not_found")


def test_lists_filter_page_and_refuse(api: HttpWorld) -> None:
    world = api.world
    won = str(_mark_won(world, world.agent_b))
    pending = str(_agent_proposal(world))

    mine = api.agent_b.get(PREFIX)
    assert mine.status_code == 200, mine.text
    assert [w["writeback_id"] for w in mine.json()["items"]] == [won]
    everyone = api.admin.get(PREFIX, params={"status": "review_required"}).json()["items"]
    assert [w["writeback_id"] for w in everyone] == [pending, won]  # newest first
    by_table: dict[str, Any] = {"target_table": "crm_opportunities", "limit": 1}
    first = api.admin.get(PREFIX, params=by_table)
    assert [w["writeback_id"] for w in first.json()["items"]] == [pending]
    following = api.admin.get(first.headers["link"].split(";")[0].strip("<>"))
    assert [w["writeback_id"] for w in following.json()["items"]] == [won]
    assert api.admin.get(PREFIX, params={"status": "executed"}).json()["items"] == []
    by_agent = {"proposer_user_id": str(world.agent_b.user_id)}
    assert [w["writeback_id"] for w in api.admin.get(PREFIX, params=by_agent).json()["items"]] == [
        won
    ]

    operator = api.as_role("operator")
    first = operator.get(f"{PREFIX}/inbox", params={"limit": 1})
    assert [i["item_id"] for i in first.json()["items"]] == [won]  # oldest first
    rest = operator.get(first.headers["link"].split(";")[0].strip("<>")).json()["items"]
    assert [i["item_id"] for i in rest] == [pending]
    someone = {"operator_id": str(world.admin.user_id)}
    assert len(operator.get(f"{PREFIX}/inbox", params=someone).json()["items"]) == 2

    bad: tuple[tuple[str, dict[str, Any], str], ...] = (
        (PREFIX, {"status": "pending"}, "status"),
        (PREFIX, {"limit": 0}, "limit"),
        (PREFIX, {"target_table": "crm_nothing"}, "target_table"),
        (PREFIX, {"agent_run_id": "run-1"}, "agent_run_id"),
        (f"{PREFIX}/inbox", {"operator_id": "me"}, "operator_id"),
        (f"{PREFIX}/inbox", {"limit": 501}, "limit"),
    )
    for where, params, field in bad:
        body = problem(api.admin.get(where, params=params), 422, "validation_failed")
        assert body["field"] == field, params
    problem(api.admin.get(PREFIX, params={"cursor": "garbage"}), 422, "invalid_cursor")
    problem(api.admin.get(f"{PREFIX}/inbox", params={"cursor": "garbage"}), 422, "invalid_cursor")

    denied = problem(api.as_role("analyst").get(PREFIX), 403, "permission_denied")
    assert denied["permission"] == "workflow.writebacks.propose"
    denied = problem(api.agent_a.get(f"{PREFIX}/inbox"), 403, "permission_denied")
    assert denied["permission"] == "workflow.writebacks.approve"
    problem(api.anonymous.get(f"{PREFIX}/inbox"), 401, "authentication_failed")


def test_an_empty_body_stands_for_the_defaults(api: HttpWorld) -> None:
    # approve's body has only optional fields: sent without one, it is read as {}
    unknown = api.as_role("operator").post(f"/api/workflow/writebacks/{uuid.uuid4()}/approve")
    assert problem(unknown, 404, "not_found")
    # a body whose fields are required, sent empty, names the first missing field
    missing = problem(api.admin.post("/api/crm/contacts"), 422, "validation_failed")
    assert missing["field"] == "full_name"
