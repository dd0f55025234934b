"""Deciding and executing writebacks, and the operator inbox, on both stores."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import attrs
import pytest

from tests.support.governance import reviewed
from tests.support.world import World
from tests.support.writebacks import agent_proposes_next_action, audit_count, deal_of_client_b
from velocity_domain.access.catalogue import PERMISSION_NAMES
from velocity_domain.access.principal import PrincipalKind
from velocity_domain.crm.lifecycle import Pipeline
from velocity_domain.errors import (
    ApprovalRefused,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    WritebackFailed,
)
from velocity_domain.governance.policy import FieldRule
from velocity_domain.kernel.query import Eq
from velocity_domain.testing import unit_of_work
from velocity_domain.workflow.entities import (
    AgentRun,
    ApprovalDecision,
    RiskLevel,
    WritebackStatus,
)

S = WritebackStatus


def test_an_approved_proposal_may_be_withdrawn_until_executed(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    deal = deal_of_client_b(velocity, w)
    key = agent_proposes_next_action(velocity, w, "Visit on Sunday")
    velocity.writebacks.approve(w.by_role["operator"], key)
    withdrawn = velocity.writebacks.reject(
        w.by_role["operator"], key, comment="the client asked to wait"
    )
    assert withdrawn.status is S.REJECTED
    decisions = [a.decision for a in velocity.writebacks.get(w.admin, key).approvals]
    assert decisions == [ApprovalDecision.APPROVED, ApprovalDecision.REJECTED]
    with pytest.raises(InvalidTransition):
        velocity.writebacks.execute(w.admin, key)
    assert deal_of_client_b(velocity, w) == deal


def test_four_eyes_the_proposer_never_approves_their_own(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    operator = w.by_role["operator"]
    deal = deal_of_client_b(velocity, w)
    proposal = velocity.writebacks.propose(
        operator,
        target_table="crm_opportunities",
        change_kind="update",
        target_ref=deal.key,
        base_version=deal.version,
        fields={"value": Decimal("20000000")},
    )
    assert proposal.status is S.REVIEW_REQUIRED
    with pytest.raises(ApprovalRefused) as refused:
        velocity.writebacks.approve(operator, proposal.key)
    assert "four eyes" in refused.value.reason
    assert velocity.writebacks.get(w.admin, proposal.key).approvals == ()
    approved = velocity.writebacks.approve(w.admin, proposal.key, comment="fine")
    assert (approved.status, approved.approved_by) == (S.APPROVED, w.admin.user_id)
    [vote] = velocity.writebacks.get(w.admin, proposal.key).approvals
    assert (vote.approver_user_id, vote.decision, vote.comment) == (
        w.admin.user_id,
        ApprovalDecision.APPROVED,
        "fine",
    )


def test_an_agent_never_approves_even_with_the_permission(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    key = agent_proposes_next_action(velocity, w, "Call")
    with pytest.raises(PermissionDenied):
        velocity.writebacks.approve(w.by_role["oracle_agent"], key)
    other = velocity.users.create(
        w.admin, email="bot@velocity.example", display_name="Bot", kind="agent", roles=["admin"]
    )
    mighty_bot = velocity.users.principal_for(w.admin, other.key)
    assert mighty_bot.kind is PrincipalKind.AGENT
    assert mighty_bot.permissions == PERMISSION_NAMES
    with pytest.raises(ApprovalRefused) as refused:
        velocity.writebacks.approve(mighty_bot, key)
    assert "agent" in refused.value.reason
    with pytest.raises(ApprovalRefused):
        velocity.writebacks.reject(mighty_bot, key, comment="no")
    assert velocity.writebacks.get(w.admin, key).writeback.status is S.REVIEW_REQUIRED


def test_whoever_started_the_proposing_run_cannot_approve_it(
    world: World,
) -> None:
    velocity, w, clock = world.velocity, world, world.clock
    operator = w.by_role["operator"]
    run = AgentRun(
        agent_name="oracle",
        started_by_user_id=operator.user_id,
        started_at=clock.now(),
    )
    with unit_of_work(velocity) as uow:
        uow.workflow.agent_runs.add(run)
        uow.commit()
    deal = deal_of_client_b(velocity, w)
    proposal = velocity.writebacks.propose(
        w.by_role["oracle_agent"],
        target_table="crm_opportunities",
        change_kind="update",
        target_ref=deal.key,
        base_version=deal.version,
        fields={"next_action": "Call"},
        agent_run_id=run.key,
    )
    with pytest.raises(ApprovalRefused) as refused:
        velocity.writebacks.approve(operator, proposal.key)
    assert "started the proposing run" in refused.value.reason
    assert velocity.writebacks.approve(w.admin, proposal.key).status is S.APPROVED


def test_a_rule_asking_for_two_approvals_needs_two_different_approvers(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    velocity.governance.policy.add(
        FieldRule(
            "big_deals",
            lambda change, _: "a big deal" if "value" in change.fields else None,
            required_approvals=2,
        )
    )
    deal = deal_of_client_b(velocity, w)
    key = reviewed(
        lambda: velocity.opportunities.update(
            w.by_role["sales_manager"],
            deal.key,
            expected_version=deal.version,
            value=Decimal("90000000"),
        )
    )
    stored = velocity.writebacks.get(w.admin, key).writeback
    assert (stored.required_approvals, stored.risk_level) == (2, RiskLevel.HIGH)
    first = velocity.writebacks.approve(w.by_role["operator"], key)
    assert first.status is S.REVIEW_REQUIRED
    with pytest.raises(ApprovalRefused) as twice:
        velocity.writebacks.approve(w.by_role["operator"], key)
    assert "already decided" in twice.value.reason
    with pytest.raises(InvalidTransition):
        velocity.writebacks.execute(w.admin, key)
    second = velocity.writebacks.approve(w.admin, key)
    assert second.status is S.APPROVED
    assert velocity.writebacks.execute(w.admin, key).applied
    assert deal_of_client_b(velocity, w).value == Decimal("90000000.00")


def test_a_rejected_proposal_leaves_canonical_data_untouched(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    deal = deal_of_client_b(velocity, w)
    key = reviewed(
        lambda: velocity.opportunities.move_stage(
            w.by_role["sales_manager"],
            deal.key,
            "lost",
            expected_version=deal.version,
            lost_reason="went quiet",
        )
    )
    with pytest.raises(ValidationFailed) as err:
        velocity.writebacks.reject(w.by_role["operator"], key, comment=None)  # type: ignore[arg-type]
    assert err.value.field == "comment"
    rejected = velocity.writebacks.reject(
        w.by_role["operator"], key, comment="she replied this morning"
    )
    assert (rejected.status, rejected.rejection_reason) == (S.REJECTED, "she replied this morning")
    with pytest.raises(InvalidTransition) as err_run:
        velocity.writebacks.execute(w.admin, key)
    assert err_run.value.current is S.REJECTED
    with pytest.raises(InvalidTransition):
        velocity.writebacks.approve(w.admin, key)
    assert deal_of_client_b(velocity, w) == deal
    assert audit_count(velocity, w, "crm.opportunities.move_stage", deal.key) == 0


def test_executing_twice_applies_once_with_one_audit_event(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    deal = deal_of_client_b(velocity, w)
    key = agent_proposes_next_action(velocity, w, "Share the payment plan")
    velocity.writebacks.approve(w.by_role["operator"], key)
    first = velocity.writebacks.execute(w.by_role["operator"], key)
    second = velocity.writebacks.execute(w.admin, key)
    assert (first.applied, second.applied) == (True, False)
    assert second.writeback == first.writeback
    assert first.writeback.status is S.EXECUTED
    after = deal_of_client_b(velocity, w)
    assert (after.next_action, after.version) == ("Share the payment plan", deal.version + 1)
    assert audit_count(velocity, w, "crm.opportunities.update", deal.key) == 1
    assert audit_count(velocity, w, "workflow.writebacks.executed", key) == 1


def test_a_stale_writeback_fails_and_never_overwrites(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    key = agent_proposes_next_action(velocity, w, "Old plan")
    velocity.writebacks.approve(w.by_role["operator"], key)
    deal = deal_of_client_b(velocity, w)
    moved_on = velocity.opportunities.update(
        w.admin, deal.key, expected_version=deal.version, next_action="Newer plan"
    )
    with pytest.raises(WritebackFailed) as failed:
        velocity.writebacks.execute(w.by_role["operator"], key)
    assert failed.value.proposal_id == key
    stored = velocity.writebacks.get(w.admin, key).writeback
    assert stored.status is S.FAILED
    assert stored.failure_reason is not None
    assert "concurrency_conflict" in stored.failure_reason
    assert stored.executed_at is None
    assert deal_of_client_b(velocity, w) == moved_on
    with pytest.raises(WritebackFailed) as again:  # executing it again tells the same outcome
        velocity.writebacks.execute(w.by_role["operator"], key)
    assert again.value.reason == failed.value.reason
    assert audit_count(velocity, w, "workflow.writebacks.failed", key) == 1


def test_an_approved_stage_move_the_pipeline_now_refuses_fails(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    deal = deal_of_client_b(velocity, w)
    key = reviewed(
        lambda: velocity.opportunities.move_stage(
            w.admin, deal.key, "lost", expected_version=deal.version, lost_reason="budget"
        )
    )
    velocity.writebacks.approve(w.by_role["operator"], key)
    velocity.opportunities.pipeline = Pipeline(
        {"new": ["contacted"], "contacted": ["won", "lost"]}, name="no early losses"
    )
    with pytest.raises(WritebackFailed):
        velocity.writebacks.execute(w.admin, key)
    failure = velocity.writebacks.get(w.admin, key).writeback.failure_reason
    assert failure is not None
    assert "invalid_transition" in failure
    assert deal_of_client_b(velocity, w) == deal


def test_execution_reports_unapproved_and_unknown_writebacks_clearly(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    key = agent_proposes_next_action(velocity, w, "Call")
    with pytest.raises(InvalidTransition) as err:
        velocity.writebacks.execute(w.admin, key)
    assert (err.value.current, err.value.target) == (S.REVIEW_REQUIRED, S.EXECUTED)
    with pytest.raises(NotFound):
        velocity.writebacks.execute(w.admin, UUID(int=5))
    with pytest.raises(ValidationFailed) as bad:
        velocity.writebacks.execute(w.admin, "nope")  # type: ignore[arg-type]
    assert bad.value.field == "writeback_id"


def test_the_inbox_merges_proposals_and_due_reminders_oldest_first_and_pages(
    world: World,
) -> None:
    velocity, w, clock = world.velocity, world, world.clock
    operator = w.by_role["operator"]
    assert operator.user_id is not None
    expected: list[UUID] = []
    for n in range(3):
        due = velocity.tasks.create(
            w.admin,
            title=f"Chase {n}",
            due_at=clock.now(),
            assigned_user_id=operator.user_id,
        )
        expected.append(due.key)
        clock.advance(minutes=1)
        expected.append(agent_proposes_next_action(velocity, w, f"Step {n}"))
        clock.advance(minutes=1)
    velocity.tasks.create(
        w.admin,
        title="Later",
        due_at=clock.now() + timedelta(days=1),
        assigned_user_id=operator.user_id,
    )
    velocity.tasks.create(
        w.admin, title="Not his", due_at=clock.now() - timedelta(days=1), assigned_user_id=None
    )
    done = agent_proposes_next_action(velocity, w, "Rejected")
    velocity.writebacks.reject(operator, done, comment="no")
    whole = velocity.writebacks.inbox(operator, limit=50)
    assert whole.next_cursor is None
    assert [i.item_id for i in whole] == expected
    assert [i.kind.value for i in whole] == ["reminder", "proposal"] * 3
    assert {i.risk for i in whole if i.kind.value == "proposal"} == {RiskLevel.LOW}
    seen: list[UUID] = []
    cursor: str | None = None
    while True:
        page = velocity.writebacks.inbox(operator, limit=2, cursor=cursor)
        assert len(page.items) <= 2
        seen.extend(i.item_id for i in page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected
    with pytest.raises(ValidationFailed):
        velocity.writebacks.inbox(operator, cursor="garbage!")
    with pytest.raises(ValidationFailed) as bad_limit:
        velocity.writebacks.inbox(operator, limit=0)
    assert bad_limit.value.field == "limit"
    with pytest.raises(PermissionDenied):
        velocity.writebacks.inbox(w.agent_a)
    assert velocity.writebacks.inbox(w.admin, operator_id=operator.user_id, limit=50) == whole
    admins = velocity.writebacks.inbox(w.admin, limit=50)
    assert [i.title for i in admins if i.kind.value == "reminder"] == ["Not his"]
    assert [i for i in admins if i.kind.value == "proposal"] == [
        i for i in whole if i.kind.value == "proposal"
    ]
    narrow = attrs.evolve(operator, permissions=operator.permissions - {"crm.contacts.read_all"})
    assert velocity.writebacks.inbox(narrow, limit=50) == whole
    with pytest.raises(PermissionDenied) as others:
        velocity.writebacks.inbox(narrow, operator_id=w.admin.user_id)
    assert others.value.permission == "crm.contacts.read_all"


def test_the_writeback_list_filters(world: World) -> None:
    velocity, w = world.velocity, world
    pending = agent_proposes_next_action(velocity, w, "Call")
    created = velocity.writebacks.propose(
        w.admin,
        target_table="crm_opportunities",
        change_kind="create",
        fields={"person_id": w.client_a.key},
    )
    assert [p.key for p in velocity.writebacks.list(w.admin, status="review_required")] == [pending]
    assert [p.key for p in velocity.writebacks.list(w.admin, proposer_user_id=w.admin.user_id)] == [
        created.key
    ]
    assert len(velocity.writebacks.list(w.admin, target_table="crm_opportunities").items) == 2
    with pytest.raises(ValidationFailed) as err:
        velocity.writebacks.list(w.admin, status="pending")
    assert err.value.field == "status"
    with unit_of_work(velocity) as uow:
        assert uow.workflow.policy_decisions.count(Eq("writeback_id", pending)) == 1


def test_a_withdrawal_is_recorded_as_the_approvers_rejection(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    operator = w.by_role["operator"]
    key = agent_proposes_next_action(velocity, w, "Call")
    velocity.writebacks.approve(operator, key, comment="fine")
    velocity.writebacks.reject(operator, key, comment="second thoughts")
    votes = velocity.writebacks.get(w.admin, key).approvals
    assert [(v.approver_user_id, v.decision, v.comment) for v in votes] == [
        (operator.user_id, ApprovalDecision.APPROVED, "fine"),
        (operator.user_id, ApprovalDecision.REJECTED, "second thoughts"),
    ]


def test_the_inbox_keeps_the_moment_of_its_first_page(
    world: World,
) -> None:
    velocity, w, clock = world.velocity, world, world.clock
    operator = w.by_role["operator"]
    first_three = [agent_proposes_next_action(velocity, w, f"Step {n}") for n in range(3)]
    page = velocity.writebacks.inbox(operator, limit=2)
    clock.advance(minutes=5)
    later = agent_proposes_next_action(velocity, w, "Made while paging")
    velocity.tasks.create(
        w.admin, title="Due now", due_at=clock.now(), assigned_user_id=operator.user_id
    )
    rest = velocity.writebacks.inbox(operator, limit=2, cursor=page.next_cursor)
    assert [i.item_id for i in (*page.items, *rest.items)] == first_three
    assert rest.next_cursor is None
    assert later in [i.item_id for i in velocity.writebacks.inbox(operator).items]
    with pytest.raises(ValidationFailed):
        velocity.writebacks.inbox(operator, cursor=5)  # type: ignore[arg-type]
