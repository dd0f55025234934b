"""Proposals and the writeback policy, on both stores: what is stored, classified or refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.support.governance import reviewed
from tests.support.world import World
from tests.support.writebacks import agent_proposes_next_action, audit_count, deal_of_client_b
from velocity_domain.access import Principal
from velocity_domain.crm.entities import Opportunity, OpportunityStage
from velocity_domain.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    PolicyDenied,
    ValidationFailed,
)
from velocity_domain.governance.policy import BULK_THRESHOLD, FieldRule
from velocity_domain.testing import unit_of_work
from velocity_domain.workflow.entities import (
    AgentRun,
    PolicyOutcome,
    RiskLevel,
    WritebackStatus,
)

S = WritebackStatus


def test_an_agent_proposal_is_stored_classified_and_waits(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    deal = deal_of_client_b(velocity, w)
    key = agent_proposes_next_action(velocity, w, "Send the floor plan")
    review = velocity.writebacks.get(w.admin, key)
    stored = review.writeback
    assert (stored.target_domain.value, stored.target_table) == ("crm", "crm_opportunities")
    assert (stored.target_entity_ref, stored.base_version) == (deal.key, deal.version)
    assert stored.proposer_user_id == w.by_role["oracle_agent"].user_id
    assert stored.change_json["operation"] == "crm.opportunities.update"
    assert stored.change_json["fields"] == {"next_action": "Send the floor plan"}
    [decision] = review.decisions
    assert (decision.rule_name, decision.decision) == (
        "agent_default",
        PolicyOutcome.REVIEW_REQUIRED,
    )
    assert review.approvals == ()
    assert deal_of_client_b(velocity, w) == deal
    assert audit_count(velocity, w, "workflow.writebacks.propose", key) == 1
    assert audit_count(velocity, w, "workflow.writebacks.review_required", key) == 1


def test_a_humans_low_risk_proposal_is_approved_at_once_and_recorded(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    proposal = velocity.writebacks.propose(
        w.by_role["sales_manager"],
        target_table="crm_opportunities",
        change_kind="create",
        fields={"person_id": w.client_a.key, "next_action": "Intro call"},
    )
    assert (proposal.status, proposal.risk_level) == (S.APPROVED, RiskLevel.LOW)
    [decision] = velocity.writebacks.get(w.admin, proposal.key).decisions
    assert (decision.decision, decision.rule_name) == (PolicyOutcome.AUTO_APPROVE, "default")
    execution = velocity.writebacks.execute(w.by_role["sales_manager"], proposal.key)
    assert execution.applied
    created = execution.row
    assert isinstance(created, Opportunity)
    assert execution.writeback.target_entity_ref == created.key
    assert execution.writeback.executed_result_json == {
        "target_ref": str(created.key),
        "version": 1,
    }
    assert (created.person_id, created.next_action, created.stage) == (
        w.client_a.key,
        "Intro call",
        OpportunityStage.NEW,
    )
    assert velocity.opportunities.get(w.admin, created.key) == created
    assert audit_count(velocity, w, "crm.opportunities.create", created.key) == 1


@pytest.mark.parametrize(
    ("fields", "rule", "risk"),
    [
        ({"value": Decimal("15000000")}, "price_or_value", RiskLevel.HIGH),
        ({"stage": "lost", "lost_reason": "budget"}, "closing_stage", RiskLevel.HIGH),
        ({"next_action": "Call"}, "default", RiskLevel.LOW),
    ],
)
def test_the_default_rules_classify_human_changes(
    world: World,
    fields: dict[str, Any],
    rule: str,
    risk: RiskLevel,
) -> None:
    velocity, w = world.velocity, world
    deal = deal_of_client_b(velocity, w)
    proposal = velocity.writebacks.propose(
        w.admin,
        target_table="crm_opportunities",
        change_kind="update",
        target_ref=deal.key,
        base_version=deal.version,
        fields=fields,
    )
    [decision] = velocity.writebacks.get(w.admin, proposal.key).decisions
    assert (decision.rule_name, decision.risk_level) == (rule, risk)
    expected = S.APPROVED if rule == "default" else S.REVIEW_REQUIRED
    assert proposal.status is expected


def test_a_reassignment_is_reviewed_but_a_first_assignment_is_not(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    assert w.agent_a.user_id is not None
    assert w.agent_b.user_id is not None
    deal = deal_of_client_b(velocity, w)
    proposal_id = reviewed(
        lambda: velocity.opportunities.update(
            w.admin, deal.key, expected_version=deal.version, assigned_user_id=w.agent_a.user_id
        )
    )
    assert velocity.writebacks.get(w.admin, proposal_id).decisions[0].rule_name == "reassignment"
    assert deal_of_client_b(velocity, w).assigned_user_id == w.agent_b.user_id
    fresh = velocity.opportunities.create(w.admin, person_id=w.client_a.key)
    assert fresh.assigned_user_id is None
    given = velocity.opportunities.update(
        w.admin, fresh.key, expected_version=fresh.version, assigned_user_id=w.agent_a.user_id
    )
    assert given.assigned_user_id == w.agent_a.user_id


def test_a_host_adds_and_removes_rules(world: World) -> None:
    velocity, w = world.velocity, world
    policy = velocity.governance.policy
    policy.remove("closing_stage")
    opp = velocity.opportunities.create(w.admin, person_id=w.client_a.key)
    lost = velocity.opportunities.move_stage(
        w.admin, opp.key, "lost", expected_version=opp.version, lost_reason="gone quiet"
    )
    assert lost.stage is OpportunityStage.LOST
    policy.add(
        FieldRule(
            "no_contact_wipes",
            lambda change, _: "clears a name" if change.fields.get("next_action") == "" else None,
            outcome=PolicyOutcome.DENY,
        )
    )
    policy.add(
        FieldRule(
            "tasks_by_hand",
            lambda change, _: (
                "no new deals today"
                if change.target_table == "crm_opportunities"
                and change.change_kind.value == "create"
                else None
            ),
            outcome=PolicyOutcome.DENY,
        )
    )
    with pytest.raises(PolicyDenied) as denied:
        velocity.opportunities.create(w.admin, person_id=w.client_a.key)
    assert denied.value.rule == "tasks_by_hand"
    proposal = velocity.writebacks.propose(
        w.admin,
        target_table="crm_opportunities",
        change_kind="create",
        fields={"person_id": w.client_a.key},
    )
    assert proposal.status is S.REJECTED
    assert proposal.rejection_reason is not None
    assert "tasks_by_hand" in proposal.rejection_reason
    with pytest.raises(ValidationFailed, match="already has a rule") as err:
        policy.add(FieldRule("tasks_by_hand", lambda c, p: None))
    assert err.value.field == "rule"
    with pytest.raises(ValidationFailed) as err:
        policy.remove("no_such_rule")
    assert err.value.field == "name"


def test_bulk_proposals_over_the_threshold_go_to_review_and_bad_rows_are_reported(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    good = {
        "target_table": "crm_opportunities",
        "change_kind": "create",
        "fields": {"person_id": w.client_a.key},
    }
    bad = {**good, "fields": {"person_id": w.client_a.key, "probability": "2"}}
    changes = [good] * BULK_THRESHOLD + [bad]
    batch = velocity.writebacks.propose_many(w.admin, changes)
    assert len(batch.proposed) == BULK_THRESHOLD
    [(index, error)] = batch.refused
    assert index == BULK_THRESHOLD
    assert isinstance(error, ValidationFailed)
    assert error.field == "probability"
    assert {p.status for p in batch.proposed} == {S.REVIEW_REQUIRED}
    decisions = velocity.writebacks.get(w.admin, batch.proposed[0].key).decisions
    assert decisions[0].rule_name == "bulk"
    small = velocity.writebacks.propose_many(w.admin, [good, good])
    assert {p.status for p in small.proposed} == {S.APPROVED}
    assert small.refused == ()


def test_the_same_idempotency_key_returns_the_first_proposal(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    deal = deal_of_client_b(velocity, w)
    args: dict[str, Any] = {
        "target_table": "crm_opportunities",
        "change_kind": "update",
        "target_ref": deal.key,
        "base_version": deal.version,
        "fields": {"next_action": "Call"},
        "idempotency_key": "oracle-run-7-step-2",
    }
    first = velocity.writebacks.propose(w.by_role["oracle_agent"], **args)
    again = velocity.writebacks.propose(w.by_role["oracle_agent"], **args)
    assert again.key == first.key
    assert len(velocity.writebacks.list(w.admin).items) == 1
    with pytest.raises(IdempotencyConflict) as err:
        velocity.writebacks.propose(
            w.by_role["oracle_agent"], **{**args, "fields": {"next_action": "Email"}}
        )
    assert err.value.key == "oracle-run-7-step-2"


def test_a_system_principal_is_recorded_as_an_agent_run(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    importer = Principal.system("nightly-import")
    proposal = velocity.writebacks.propose(
        importer,
        target_table="crm_opportunities",
        change_kind="create",
        fields={"person_id": w.client_a.key},
    )
    assert proposal.proposer_user_id is None
    assert proposal.agent_run_id is not None
    with unit_of_work(velocity) as uow:
        run = uow.workflow.agent_runs.get(proposal.agent_run_id)
    assert isinstance(run, AgentRun)
    assert run.agent_name == "nightly-import"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"target_table": "crm_nothing", "change_kind": "create"}, "target_table"),
        ({"target_table": "workflow_writebacks", "change_kind": "create"}, "target_table"),
        ({"target_table": "crm_opportunities", "change_kind": "rename"}, "change_kind"),
        ({"target_table": "crm_opportunities", "change_kind": "merge"}, "change_kind"),
        (
            {"target_table": "crm_opportunities", "change_kind": "update", "fields": {"x": 1}},
            "fields",
        ),
        (
            {
                "target_table": "crm_opportunities",
                "change_kind": "update",
                "fields": {"next_action": "Call"},
            },
            "target_ref",
        ),
        (
            {
                "target_table": "crm_opportunities",
                "change_kind": "create",
                "fields": {"person_id": "not-a-uuid"},
            },
            "person_id",
        ),
        ({"target_table": "crm_opportunities", "change_kind": "create", "fields": []}, "fields"),
        (
            {
                "target_table": "crm_opportunities",
                "change_kind": "update",
                "fields": {"stage": "won", "next_action": "x"},
            },
            "fields",
        ),
    ],
)
def test_bad_proposals_name_the_field(world: World, args: dict[str, Any], field: str) -> None:
    velocity, w = world.velocity, world
    with pytest.raises(ValidationFailed) as err:
        velocity.writebacks.propose(w.admin, **args)
    assert err.value.field == field
    assert velocity.writebacks.list(w.admin).items == ()


def test_a_stale_proposal_is_refused_when_made(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    deal = deal_of_client_b(velocity, w)
    with pytest.raises(ConcurrencyConflict):
        velocity.writebacks.propose(
            w.admin,
            target_table="crm_opportunities",
            change_kind="update",
            target_ref=deal.key,
            base_version=deal.version + 1,
            fields={"next_action": "Call"},
        )
    assert velocity.writebacks.list(w.admin).items == ()


def test_an_agent_cannot_propose_about_a_client_it_cannot_see(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    deal = deal_of_client_b(velocity, w)
    with pytest.raises(NotFound):
        velocity.writebacks.propose(
            w.agent_a,
            target_table="crm_opportunities",
            change_kind="update",
            target_ref=deal.key,
            base_version=deal.version,
            fields={"next_action": "Mine now"},
        )


def test_a_sales_agent_sees_only_their_own_proposals(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    others = agent_proposes_next_action(velocity, w, "Call")
    lead = velocity.leads.list(w.agent_a).items[0]
    mine = velocity.writebacks.propose(
        w.agent_a,
        target_table="crm_leads",
        change_kind="update",
        target_ref=lead.key,
        base_version=lead.version,
        fields={"assigned_user_id": w.agent_b.user_id},
    )
    assert mine.status is S.REVIEW_REQUIRED
    assert [p.key for p in velocity.writebacks.list(w.agent_a)] == [mine.key]
    assert velocity.writebacks.get(w.agent_a, mine.key).writeback == mine
    with pytest.raises(NotFound):
        velocity.writebacks.get(w.agent_a, others)
    velocity.writebacks.approve(w.by_role["operator"], others)
    with pytest.raises(NotFound):
        velocity.writebacks.execute(w.agent_a, others)
    assert len(velocity.writebacks.list(w.admin).items) == 2


def test_a_proposer_without_the_permission_is_never_approved_at_once(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    operator = w.by_role["operator"]
    with pytest.raises(PermissionDenied):
        velocity.opportunities.create(operator, person_id=w.client_a.key)
    proposal = velocity.writebacks.propose(
        operator,
        target_table="crm_opportunities",
        change_kind="create",
        fields={"person_id": w.client_a.key},
    )
    assert proposal.status is S.REVIEW_REQUIRED
    [decision] = velocity.writebacks.get(w.admin, proposal.key).decisions
    assert decision.rule_name == "not_permitted"
    assert velocity.opportunities.list(w.admin, person_id=w.client_a.key).items == ()


def test_a_proposal_is_tried_against_the_domain_when_made(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    deal = deal_of_client_b(velocity, w)
    with pytest.raises(InvalidTransition) as skipped:
        velocity.writebacks.propose(
            w.admin,
            target_table="crm_opportunities",
            change_kind="update",
            target_ref=deal.key,
            base_version=deal.version,
            fields={"stage": "booking"},
        )
    assert (skipped.value.current, skipped.value.target) == (
        OpportunityStage.NEW,
        OpportunityStage.BOOKING,
    )
    lead = velocity.leads.list(w.admin, person_id=w.client_a.key).items[0]
    the_lead: dict[str, Any] = {
        "target_table": "crm_leads",
        "change_kind": "update",
        "target_ref": lead.key,
        "base_version": lead.version,
    }
    with pytest.raises(ValidationFailed) as disqualify:
        velocity.writebacks.propose(w.admin, fields={"status": "disqualified"}, **the_lead)
    assert disqualify.value.field == "status"
    with pytest.raises(ValidationFailed) as bad_context:
        velocity.writebacks.propose(
            w.admin, fields={"status": "converted"}, context={"project_id": "nope"}, **the_lead
        )
    assert bad_context.value.field == "project_id"
    with pytest.raises(ValidationFailed) as foreign:
        velocity.writebacks.propose(
            w.agent_a,
            target_table="crm_opportunities",
            change_kind="create",
            fields={"person_id": w.client_b.key, "assigned_user_id": w.agent_a.user_id},
        )
    assert (foreign.value.field, foreign.value.reason) == ("person_id", "no such person")
    assert velocity.writebacks.list(w.admin).items == ()
    converted = velocity.writebacks.propose(
        w.admin,
        fields={"status": "converted"},
        context={"value": "12500000"},
        **the_lead,
    )
    execution = velocity.writebacks.execute(w.admin, converted.key)
    assert execution.applied
    opportunity_id = velocity.leads.get(w.admin, lead.key).converted_opportunity_id
    assert opportunity_id is not None
    assert velocity.opportunities.get(w.admin, opportunity_id).value == Decimal("12500000.00")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"full_name": None}, "full_name"),
        ({"full_name": 5}, "full_name"),
        ({"full_name": {"a": [1]}}, "full_name"),
        ({"full_name": "Asha Rao", "nickname": "A"}, "nickname"),
        ({"full_name": "Asha Rao", "version": 99}, "version"),
        ({"full_name": "Asha Rao", "created_at": "2020-01-01T00:00:00+00:00"}, "created_at"),
    ],
)
def test_a_create_proposal_takes_only_well_typed_known_fields(
    world: World, fields: dict[str, Any], field: str
) -> None:
    velocity, w = world.velocity, world
    with pytest.raises(ValidationFailed) as err:
        velocity.writebacks.propose(
            w.admin, target_table="crm_people", change_kind="create", fields=fields
        )
    assert err.value.field == field
    assert velocity.writebacks.list(w.admin).items == ()


@pytest.mark.parametrize(
    ("value", "reason"),
    [("abc", "not a number"), (True, "not bool"), ([1], "not list"), (0.5, "not floats")],
)
def test_money_in_a_proposal_is_a_number_written_as_text(
    world: World, value: object, reason: str
) -> None:
    velocity, w = world.velocity, world
    deal = deal_of_client_b(velocity, w)
    with pytest.raises(ValidationFailed) as err:
        velocity.writebacks.propose(
            w.admin,
            target_table="crm_opportunities",
            change_kind="update",
            target_ref=deal.key,
            base_version=deal.version,
            fields={"value": value},
        )
    assert err.value.field == "value"
    assert reason in err.value.reason


def test_an_idempotent_retry_returns_the_first_proposal_after_the_target_moved_on(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    deal = deal_of_client_b(velocity, w)
    args: dict[str, Any] = {
        "target_table": "crm_opportunities",
        "change_kind": "update",
        "target_ref": deal.key,
        "base_version": deal.version,
        "fields": {"next_action": "Call"},
        "idempotency_key": "import-7-row-3",
    }
    importer = Principal.system("nightly-import")
    first = velocity.writebacks.propose(importer, **args)
    assert first.status is S.APPROVED
    assert velocity.writebacks.execute(importer, first.key).applied
    again = velocity.writebacks.propose(importer, **args)
    assert again.key == first.key
    with pytest.raises(IdempotencyConflict):
        velocity.writebacks.propose(Principal.system("another-feed"), **args)
    with pytest.raises(IdempotencyConflict):
        velocity.writebacks.propose(w.admin, **args)
    assert len(velocity.writebacks.list(w.admin).items) == 1


def test_a_batch_item_missing_its_arguments_is_reported_and_the_rest_land(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    good = {
        "target_table": "crm_opportunities",
        "change_kind": "create",
        "fields": {"person_id": w.client_a.key},
    }
    batch = velocity.writebacks.propose_many(
        w.admin, [{"target_table": "crm_opportunities"}, good, {**good, "bulk_size": 1}, 7, good]
    )
    assert [i for i, _ in batch.refused] == [0, 2, 3]
    fields = [getattr(e, "field", None) for _, e in batch.refused]
    assert fields == ["change_kind", "bulk_size", "changes[3]"]
    assert "is required" in str(batch.refused[0][1])
    assert "is not an argument" in str(batch.refused[1][1])
    assert len(batch.proposed) == 2


def test_a_task_proposal_cannot_reach_another_agents_client_through_a_link(
    world: World,
) -> None:
    velocity, w, clock = world.velocity, world, world.clock
    deal = deal_of_client_b(velocity, w)  # client B's deal, held by agent B
    # Each link is refused as naming nothing, on its own field (no other id is named).
    refusals = [
        ({"opportunity_id": deal.key}, ("opportunity_id", "names no opportunity")),
        ({"person_id": w.client_b.key}, ("person_id", "no such person")),
    ]
    for link, refusal in refusals:
        with pytest.raises(ValidationFailed) as err:
            velocity.writebacks.propose(
                w.agent_a,
                target_table="intel_reminders",
                change_kind="create",
                fields={
                    "title": "Call B's client",
                    "assigned_user_id": w.agent_a.user_id,
                    "due_at": clock.now(),
                    **link,
                },
            )
        assert (err.value.field, err.value.reason) == refusal
        assert err.value.value == next(iter(link.values()))
    assert velocity.writebacks.list(w.admin).items == ()
