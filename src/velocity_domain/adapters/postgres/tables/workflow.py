"""The ``workflow_*`` tables (spec section 4, AI workflow and governance; section 5 writebacks)."""

from __future__ import annotations

import sqlalchemy as sa

from velocity_domain.adapters.postgres.tables._columns import (
    choice,
    created_at,
    fk,
    jsonb,
    metadata,
    pk,
    text,
    versioned,
)
from velocity_domain.workflow.entities import (
    ActionStatus,
    AgentRunStatus,
    ApprovalDecision,
    BranchStatus,
    ChangeKind,
    PolicyOutcome,
    RiskLevel,
    TargetDomain,
    WritebackStatus,
)

__all__ = [
    "workflow_actions",
    "workflow_agent_runs",
    "workflow_approvals",
    "workflow_branches",
    "workflow_policy_decisions",
    "workflow_writebacks",
]


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


workflow_agent_runs = sa.Table(
    "workflow_agent_runs",
    metadata,
    pk("agent_run_id"),
    text("agent_name", 100, nullable=False),
    text("agent_version", 64),
    fk("started_by_user_id", "core_users.user_id"),
    choice("status", AgentRunStatus, default=AgentRunStatus.RUNNING),
    created_at("started_at"),
    _timestamp("finished_at"),
    jsonb("input_json"),
    jsonb("output_json"),
    text("error", None),
    *versioned(),
    sa.CheckConstraint(
        "(status = 'running') = (finished_at IS NULL)", name="finished_iff_not_running"
    ),
    sa.CheckConstraint("finished_at >= started_at", name="finished_after_started"),
    sa.CheckConstraint("(status = 'failed') = (error IS NOT NULL)", name="error_iff_failed"),
    sa.Index(None, "status", "started_at"),
    sa.Index(None, "agent_name", "started_at"),
    sa.Index(None, "started_by_user_id", "started_at"),
)

workflow_branches = sa.Table(
    "workflow_branches",
    metadata,
    pk("branch_id"),
    fk("agent_run_id", "workflow_agent_runs.agent_run_id", nullable=False),
    text("label", 200, nullable=False),
    text("rationale", None),
    choice("status", BranchStatus, default=BranchStatus.OPEN),
    _timestamp("chosen_at"),
    fk("chosen_by_user_id", "core_users.user_id"),
    *versioned(),
    sa.UniqueConstraint("agent_run_id", "label"),
    # The target of the actions' (branch_id, agent_run_id) reference: same run.
    sa.UniqueConstraint("branch_id", "agent_run_id"),
    sa.CheckConstraint(
        "(status = 'chosen') = (chosen_at IS NOT NULL)", name="chosen_at_iff_chosen"
    ),
    sa.CheckConstraint(
        "status = 'chosen' OR chosen_by_user_id IS NULL", name="chosen_by_only_if_chosen"
    ),
    sa.Index(
        "uq_workflow_branches_one_chosen_per_run",
        "agent_run_id",
        unique=True,
        postgresql_where=sa.text("status = 'chosen'"),
    ),
)

workflow_writebacks = sa.Table(
    "workflow_writebacks",
    metadata,
    pk("writeback_id"),
    text("proposal_ref", 200),
    fk("proposer_user_id", "core_users.user_id"),
    fk("agent_run_id", "workflow_agent_runs.agent_run_id"),
    choice("target_domain", TargetDomain),
    text("target_table", 64, nullable=False),
    sa.Column("target_entity_ref", sa.Uuid, nullable=True),
    choice("change_kind", ChangeKind),
    sa.Column("base_version", sa.Integer, nullable=True),
    jsonb("change_json"),
    choice("status", WritebackStatus, default=WritebackStatus.DRAFT),
    choice("risk_level", RiskLevel, nullable=True),
    sa.Column("required_approvals", sa.Integer, nullable=False, server_default="1"),
    fk("approved_by", "core_users.user_id"),
    text("idempotency_key", 200),
    _timestamp("executed_at"),
    jsonb("executed_result_json", nullable=True),
    text("rejection_reason", 2000),
    text("failure_reason", 2000),
    *versioned(),
    sa.UniqueConstraint("idempotency_key"),
    sa.CheckConstraint(
        "proposer_user_id IS NOT NULL OR agent_run_id IS NOT NULL", name="has_proposer"
    ),
    sa.CheckConstraint(
        "change_kind = 'create' OR target_entity_ref IS NOT NULL", name="target_required"
    ),
    sa.CheckConstraint(
        "change_kind <> 'create' OR status = 'executed' OR target_entity_ref IS NULL",
        name="create_target_only_once_executed",
    ),
    sa.CheckConstraint(
        "(change_kind = 'create') = (base_version IS NULL)", name="base_version_unless_create"
    ),
    sa.CheckConstraint("base_version >= 1", name="base_version_positive"),
    sa.CheckConstraint("required_approvals >= 1", name="required_approvals_positive"),
    sa.CheckConstraint(
        "(status = 'executed') = (executed_at IS NOT NULL)", name="executed_at_iff_executed"
    ),
    sa.CheckConstraint(
        "(status = 'rejected') = (rejection_reason IS NOT NULL)",
        name="rejection_reason_iff_rejected",
    ),
    sa.CheckConstraint(
        "(status = 'failed') = (failure_reason IS NOT NULL)", name="failure_reason_iff_failed"
    ),
    # The operator inbox: unresolved writebacks, oldest first.
    sa.Index(None, "status", "created_at"),
    sa.Index(None, "target_table", "target_entity_ref"),
    sa.Index(None, "agent_run_id"),
    sa.Index(None, "proposer_user_id", "created_at"),
)

workflow_actions = sa.Table(
    "workflow_actions",
    metadata,
    pk("action_id"),
    fk("agent_run_id", "workflow_agent_runs.agent_run_id", nullable=False),
    sa.Column("branch_id", sa.Uuid, nullable=True),
    sa.Column("sequence", sa.Integer, nullable=False),
    text("action_type", 64, nullable=False),
    text("description", None),
    jsonb("payload_json"),
    choice("status", ActionStatus, default=ActionStatus.PROPOSED),
    fk("writeback_id", "workflow_writebacks.writeback_id"),
    *versioned(),
    # An action's branch must belong to the action's own run.
    sa.ForeignKeyConstraint(
        ["branch_id", "agent_run_id"],
        ["workflow_branches.branch_id", "workflow_branches.agent_run_id"],
        ondelete="RESTRICT",
    ),
    sa.UniqueConstraint("agent_run_id", "sequence"),
    sa.CheckConstraint("sequence >= 1", name="sequence_positive"),
    sa.Index(None, "branch_id"),
    sa.Index(None, "writeback_id"),
)

workflow_approvals = sa.Table(
    "workflow_approvals",
    metadata,
    pk("approval_id"),
    fk("writeback_id", "workflow_writebacks.writeback_id", nullable=False),
    fk("approver_user_id", "core_users.user_id", nullable=False),
    choice("decision", ApprovalDecision),
    text("comment", 2000),
    created_at("decided_at"),
    sa.UniqueConstraint("writeback_id", "approver_user_id", "decision"),
    sa.CheckConstraint(
        "decision <> 'rejected' OR comment IS NOT NULL", name="rejection_has_comment"
    ),
    sa.Index(None, "approver_user_id", "decided_at"),
)

workflow_policy_decisions = sa.Table(
    "workflow_policy_decisions",
    metadata,
    pk("policy_decision_id"),
    fk("writeback_id", "workflow_writebacks.writeback_id", nullable=False),
    choice("risk_level", RiskLevel),
    text("rule_name", 100, nullable=False),
    text("reason", 2000, nullable=False),
    choice("decision", PolicyOutcome),
    created_at("decided_at"),
    jsonb("details_json"),
    sa.Index(None, "writeback_id", "decided_at"),
    sa.Index(None, "decision", "decided_at"),
)
