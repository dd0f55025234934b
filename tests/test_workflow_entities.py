"""The cross-field rules of the workflow entities name the field at fault."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.ids import new_id
from velocity_domain.workflow.entities import (
    AgentRun,
    AgentRunStatus,
    Approval,
    ApprovalDecision,
    Branch,
    BranchStatus,
    ChangeKind,
    PolicyDecision,
    PolicyOutcome,
    RiskLevel,
    WorkflowAction,
    Writeback,
    WritebackStatus,
)

NOW = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)
USER = new_id()
RUN = new_id()
TARGET = new_id()
WRITEBACK = new_id()


def _writeback(**kw: Any) -> Writeback:
    fields: dict[str, Any] = {
        "proposer_user_id": USER,
        "target_domain": "crm",
        "target_table": "crm_opportunities",
        "target_entity_ref": TARGET,
        "change_kind": ChangeKind.UPDATE,
        "base_version": 4,
        "change_json": {"stage": "won"},
    }
    fields.update(kw)
    return Writeback(**fields)


def _create(**kw: Any) -> Writeback:
    fields: dict[str, Any] = {
        "change_kind": "create",
        "target_entity_ref": None,
        "base_version": None,
    }
    fields.update(kw)
    return _writeback(**fields)


BAD: list[tuple[str, Callable[[], object], str]] = [
    ("running run finished", lambda: AgentRun(agent_name="oracle", finished_at=NOW), "finished_at"),
    (
        "finished run without end",
        lambda: AgentRun(agent_name="oracle", status=AgentRunStatus.SUCCEEDED),
        "finished_at",
    ),
    (
        "run finished before it started",
        lambda: AgentRun(
            agent_name="oracle",
            status=AgentRunStatus.SUCCEEDED,
            started_at=NOW,
            finished_at=NOW - timedelta(seconds=1),
        ),
        "finished_at",
    ),
    (
        "failed run without error",
        lambda: AgentRun(
            agent_name="oracle", status=AgentRunStatus.FAILED, started_at=NOW, finished_at=NOW
        ),
        "error",
    ),
    (
        "succeeded run with error",
        lambda: AgentRun(
            agent_name="oracle",
            status=AgentRunStatus.SUCCEEDED,
            started_at=NOW,
            finished_at=NOW,
            error="boom",
        ),
        "error",
    ),
    (
        "chosen branch without time",
        lambda: Branch(agent_run_id=RUN, label="A", status=BranchStatus.CHOSEN),
        "chosen_at",
    ),
    (
        "open branch with chosen time",
        lambda: Branch(agent_run_id=RUN, label="A", chosen_at=NOW),
        "chosen_at",
    ),
    (
        "rejected branch with chooser",
        lambda: Branch(agent_run_id=RUN, label="A", status="rejected", chosen_by_user_id=USER),
        "chosen_by_user_id",
    ),
    (
        "action sequence zero",
        lambda: WorkflowAction(agent_run_id=RUN, sequence=0, action_type="propose"),
        "sequence",
    ),
    (
        "unknown action status",
        lambda: WorkflowAction(agent_run_id=RUN, sequence=1, action_type="x", status="done"),
        "status",
    ),
    (
        "writeback without proposer",
        lambda: _writeback(proposer_user_id=None),
        "proposer_user_id",
    ),
    ("unknown target domain", lambda: _writeback(target_domain="workflow"), "target_domain"),
    ("update without target", lambda: _writeback(target_entity_ref=None), "target_entity_ref"),
    ("update without base version", lambda: _writeback(base_version=None), "base_version"),
    (
        "create with a target before execution",
        lambda: _create(target_entity_ref=TARGET),
        "target_entity_ref",
    ),
    ("create with a base version", lambda: _create(base_version=1), "base_version"),
    ("no approvals required", lambda: _writeback(required_approvals=0), "required_approvals"),
    ("executed without time", lambda: _writeback(status=WritebackStatus.EXECUTED), "executed_at"),
    (
        "approved with executed time",
        lambda: _writeback(status="approved", executed_at=NOW),
        "executed_at",
    ),
    (
        "rejected without reason",
        lambda: _writeback(status=WritebackStatus.REJECTED),
        "rejection_reason",
    ),
    ("draft with rejection reason", lambda: _writeback(rejection_reason="no"), "rejection_reason"),
    (
        "failed without reason",
        lambda: _writeback(status=WritebackStatus.FAILED),
        "failure_reason",
    ),
    (
        "approved with a failure",
        lambda: _writeback(status="approved", failure_reason="conflict"),
        "failure_reason",
    ),
    (
        "executed with a failure",
        lambda: _writeback(status="executed", executed_at=NOW, failure_reason="conflict"),
        "failure_reason",
    ),
    (
        "rejection without comment",
        lambda: Approval(writeback_id=WRITEBACK, approver_user_id=USER, decision="rejected"),
        "comment",
    ),
    (
        "unknown approval decision",
        lambda: Approval(writeback_id=WRITEBACK, approver_user_id=USER, decision="maybe"),
        "decision",
    ),
    (
        "unknown policy outcome",
        lambda: PolicyDecision(
            writeback_id=WRITEBACK, risk_level="high", rule_name="r", reason="r", decision="allow"
        ),
        "decision",
    ),
]


@pytest.mark.parametrize(("make", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_names_the_field(make: Callable[[], object], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        make()
    assert caught.value.field == field


def test_good_rows_build() -> None:
    run = AgentRun(
        agent_name="oracle",
        status="failed",
        started_at=NOW,
        finished_at=NOW,
        error="timeout",
    )
    branch = Branch(
        agent_run_id=run.agent_run_id,
        label="Offer a discount",
        status=BranchStatus.CHOSEN,
        chosen_at=NOW,
        chosen_by_user_id=USER,
    )
    WorkflowAction(
        agent_run_id=run.agent_run_id, branch_id=branch.branch_id, sequence=1, action_type="x"
    )
    # An agent run alone is a proposer; a create names its row once executed.
    created = _create(
        proposer_user_id=None,
        agent_run_id=run.agent_run_id,
        status="executed",
        executed_at=NOW,
        target_entity_ref=TARGET,
        executed_result_json={"person_id": str(TARGET)},
    )
    assert created.change_kind is ChangeKind.CREATE
    approved = _writeback(
        status=WritebackStatus.APPROVED,
        risk_level=RiskLevel.HIGH,
        required_approvals=2,
        approved_by=USER,
    )
    assert approved.base_version == 4
    failed = _writeback(status="failed", failure_reason="the target moved on to version 5")
    assert failed.executed_at is None
    _writeback(status="rejected", rejection_reason="duplicate proposal")
    Approval(writeback_id=WRITEBACK, approver_user_id=USER, decision=ApprovalDecision.APPROVED)
    PolicyDecision(
        writeback_id=WRITEBACK,
        risk_level="low",
        rule_name="default",
        reason="low-risk change by a permitted user",
        decision=PolicyOutcome.AUTO_APPROVE,
    )
