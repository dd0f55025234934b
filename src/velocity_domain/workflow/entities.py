"""AI workflow and governance entities: one attrs class per ``workflow_*`` table.

An agent run is one invocation of an AI agent (the Oracle, an import
intelligence); it proposes ordered actions, possibly along alternative
branches of which one is chosen. A writeback is a proposed change to a
canonical row (spec section 5): it is stored first, classified by the policy
(each classification a policy decision), approved or rejected by operators
(approvals) and executed at most once (spec sections 8, 9 and 12). Approvals
and policy decisions are evidence and only ever appended.

>>> from uuid import UUID
>>> w = Writeback(
...     proposer_user_id=UUID(int=1),
...     target_domain="crm",
...     target_table="crm_people",
...     change_kind="create",
...     change_json={"full_name": "Asha Rao"},
... )
>>> (w.status, w.target_entity_ref, w.required_approvals)
(<WritebackStatus.DRAFT: 'draft'>, None, 1)
"""

import enum
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import attrs

from velocity_domain.kernel.constraints import CompositeRef, Unique
from velocity_domain.kernel.fields import (
    choice,
    count,
    id_field,
    invalid,
    json_field,
    long_text,
    ref,
    text,
    timestamp,
)
from velocity_domain.kernel.model import (
    Entity,
    VersionedEntity,
    check_not_before,
    check_only_when,
    check_set_exactly_when,
)
from velocity_domain.kernel.query import Eq

__all__ = [
    "ActionStatus",
    "AgentRun",
    "AgentRunStatus",
    "Approval",
    "ApprovalDecision",
    "Branch",
    "BranchStatus",
    "ChangeKind",
    "PolicyDecision",
    "PolicyOutcome",
    "RiskLevel",
    "TargetDomain",
    "WorkflowAction",
    "Writeback",
    "WritebackStatus",
]


class AgentRunStatus(enum.StrEnum):
    """Where an agent run stands; every status but ``running`` is final."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ActionStatus(enum.StrEnum):
    """What became of a step an agent proposed."""

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXECUTED = "executed"


class BranchStatus(enum.StrEnum):
    """Whether an alternative branch of a run is still open, chosen or rejected."""

    OPEN = "open"
    CHOSEN = "chosen"
    REJECTED = "rejected"


class WritebackStatus(enum.StrEnum):
    """The writeback lifecycle of spec section 8, plus ``failed`` (see ``workflow.lifecycle``).

    ``failed`` is where an approved writeback ends when its execution meets a
    conflict (the target moved on since the proposal, was removed, or the
    change no longer passes the domain's rules): the change is not applied and
    ``failure_reason`` says why.
    """

    DRAFT = "draft"
    REVIEW_REQUIRED = "review_required"
    APPROVED = "approved"
    EXECUTED = "executed"
    REJECTED = "rejected"
    FAILED = "failed"


class TargetDomain(enum.StrEnum):
    """The canonical domain a writeback changes (the governance tables themselves excluded)."""

    CRM = "crm"
    INTEL = "intel"
    INVENTORY = "inventory"
    ORACLE = "oracle"
    IDENTITY = "identity"


class ChangeKind(enum.StrEnum):
    """What a writeback does to its target row."""

    CREATE = "create"
    UPDATE = "update"
    MERGE = "merge"
    DELETE = "delete"


class RiskLevel(enum.StrEnum):
    """How risky the policy judges a proposed change."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ApprovalDecision(enum.StrEnum):
    """An approver's verdict on a writeback."""

    APPROVED = "approved"
    REJECTED = "rejected"


class PolicyOutcome(enum.StrEnum):
    """What the policy engine decided for a writeback."""

    AUTO_APPROVE = "auto_approve"
    REVIEW_REQUIRED = "review_required"
    DENY = "deny"


@attrs.frozen(kw_only=True)
class AgentRun(VersionedEntity):
    """One invocation of an AI agent, its input, output and outcome (``workflow_agent_runs``)."""

    table_name: ClassVar[str] = "workflow_agent_runs"
    key_field: ClassVar[str] = "agent_run_id"

    agent_run_id: UUID = id_field()
    agent_name: str = text(max_length=100)
    agent_version: str | None = text(max_length=64, optional=True)
    started_by_user_id: UUID | None = ref("core_users.user_id", optional=True)
    status: AgentRunStatus = choice(AgentRunStatus, default=AgentRunStatus.RUNNING)
    started_at: datetime = timestamp(now=True)
    finished_at: datetime | None = timestamp(optional=True)
    input_json: dict[str, Any] = json_field()
    output_json: dict[str, Any] = json_field()
    error: str | None = long_text(max_length=10_000)

    def check(self) -> None:  # noqa: D102
        super().check()
        done = self.status is not AgentRunStatus.RUNNING
        check_set_exactly_when(self, "finished_at", done, "the run is no longer running")
        check_not_before(self, "finished_at", "started_at")
        failed = self.status is AgentRunStatus.FAILED
        check_set_exactly_when(self, "error", failed, "the run has failed")


@attrs.frozen(kw_only=True)
class Branch(VersionedEntity):
    """An alternative line of steps within an agent run (``workflow_branches``).

    Choosing one branch rejects its siblings; at most one branch of a run is chosen.
    """

    table_name: ClassVar[str] = "workflow_branches"
    key_field: ClassVar[str] = "branch_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (
        Unique(["branch_id", "agent_run_id"]),
        Unique(["agent_run_id", "label"]),
        Unique(
            ["agent_run_id"],
            where=[Eq("status", "chosen")],
            name="uq_workflow_branches_one_chosen_per_run",
        ),
    )

    branch_id: UUID = id_field()
    agent_run_id: UUID = ref("workflow_agent_runs.agent_run_id")
    label: str = text(max_length=200)
    rationale: str | None = long_text(max_length=10_000)
    status: BranchStatus = choice(BranchStatus, default=BranchStatus.OPEN)
    chosen_at: datetime | None = timestamp(optional=True)
    chosen_by_user_id: UUID | None = ref("core_users.user_id", optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        chosen = self.status is BranchStatus.CHOSEN
        check_set_exactly_when(self, "chosen_at", chosen, "the branch is chosen")
        check_only_when(self, "chosen_by_user_id", chosen, "is only kept for the chosen branch")


@attrs.frozen(kw_only=True)
class WorkflowAction(VersionedEntity):
    """One step an agent run proposes, in order, maybe on a branch (``workflow_actions``).

    ``action_type`` is the agent's own name for the step (a tool name), an open
    vocabulary; a step that changes canonical data links its writeback.
    """

    table_name: ClassVar[str] = "workflow_actions"
    key_field: ClassVar[str] = "action_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (Unique(["agent_run_id", "sequence"]),)
    composite_refs: ClassVar[tuple[CompositeRef, ...]] = (
        CompositeRef(
            ["branch_id", "agent_run_id"], "workflow_branches", ["branch_id", "agent_run_id"]
        ),
    )

    action_id: UUID = id_field()
    agent_run_id: UUID = ref("workflow_agent_runs.agent_run_id")
    branch_id: UUID | None = ref("workflow_branches.branch_id", optional=True)
    sequence: int = count(minimum=1)
    action_type: str = text(max_length=64)
    description: str | None = long_text(max_length=10_000)
    payload_json: dict[str, Any] = json_field()
    status: ActionStatus = choice(ActionStatus, default=ActionStatus.PROPOSED)
    writeback_id: UUID | None = ref("workflow_writebacks.writeback_id", optional=True)


@attrs.frozen(kw_only=True)
class Writeback(VersionedEntity):
    """A proposed change to one canonical row and its way to execution (``workflow_writebacks``).

    ``target_entity_ref`` is ``None`` for a change that creates a row until it
    is executed, when it names the row created. ``base_version`` is the
    target's ``version`` the proposal was read at: execution refuses to
    overwrite a target that has moved on. ``approved_by`` is the last approver.
    """

    table_name: ClassVar[str] = "workflow_writebacks"
    key_field: ClassVar[str] = "writeback_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (Unique(["idempotency_key"]),)

    writeback_id: UUID = id_field()
    proposal_ref: str | None = text(max_length=200, optional=True)
    proposer_user_id: UUID | None = ref("core_users.user_id", optional=True)
    agent_run_id: UUID | None = ref("workflow_agent_runs.agent_run_id", optional=True)
    target_domain: TargetDomain = choice(TargetDomain)
    target_table: str = text(max_length=64)
    target_entity_ref: UUID | None = ref(optional=True)
    change_kind: ChangeKind = choice(ChangeKind)
    base_version: int | None = count(minimum=1, optional=True)
    change_json: dict[str, Any] = json_field()
    status: WritebackStatus = choice(WritebackStatus, default=WritebackStatus.DRAFT)
    risk_level: RiskLevel | None = choice(RiskLevel, optional=True)
    required_approvals: int = count(minimum=1, default=1)
    approved_by: UUID | None = ref("core_users.user_id", optional=True)
    idempotency_key: str | None = text(max_length=200, optional=True)
    executed_at: datetime | None = timestamp(optional=True)
    executed_result_json: dict[str, Any] | None = json_field(optional=True)
    rejection_reason: str | None = text(max_length=2000, optional=True)
    failure_reason: str | None = text(max_length=2000, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        if self.proposer_user_id is None and self.agent_run_id is None:
            raise invalid(
                self, "proposer_user_id", "a writeback names its proposer: a user or an agent run"
            )
        creates = self.change_kind is ChangeKind.CREATE
        executed = self.status is WritebackStatus.EXECUTED
        if not creates and self.target_entity_ref is None:
            raise invalid(
                self, "target_entity_ref", f"is required to {self.change_kind} an existing row"
            )
        if creates and not executed and self.target_entity_ref is not None:
            raise invalid(
                self, "target_entity_ref", "names the created row only once a create is executed"
            )
        if creates != (self.base_version is None):
            raise invalid(
                self,
                "base_version",
                "is the target's version for update, merge and delete, and absent for create",
                self.base_version,
            )
        check_set_exactly_when(self, "executed_at", executed, "the writeback is executed")
        rejected = self.status is WritebackStatus.REJECTED
        check_set_exactly_when(self, "rejection_reason", rejected, "the writeback is rejected")
        failed = self.status is WritebackStatus.FAILED
        check_set_exactly_when(self, "failure_reason", failed, "the writeback has failed")


@attrs.frozen(kw_only=True)
class Approval(Entity):
    """One approver's decision on a writeback; append-only (``workflow_approvals``).

    Each approver approves a writeback at most once and rejects it at most
    once (an approval may be followed by a withdrawal, a rejection of the
    approved writeback); a rejection says why in ``comment``.
    """

    table_name: ClassVar[str] = "workflow_approvals"
    key_field: ClassVar[str] = "approval_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (
        Unique(["writeback_id", "approver_user_id", "decision"]),
    )

    approval_id: UUID = id_field()
    writeback_id: UUID = ref("workflow_writebacks.writeback_id")
    approver_user_id: UUID = ref("core_users.user_id")
    decision: ApprovalDecision = choice(ApprovalDecision)
    comment: str | None = text(max_length=2000, optional=True)
    decided_at: datetime = timestamp(now=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        if self.decision is ApprovalDecision.REJECTED and self.comment is None:
            raise invalid(self, "comment", "is required when rejecting")


@attrs.frozen(kw_only=True)
class PolicyDecision(Entity):
    """The policy's classification of a writeback; append-only (``workflow_policy_decisions``)."""

    table_name: ClassVar[str] = "workflow_policy_decisions"
    key_field: ClassVar[str] = "policy_decision_id"

    policy_decision_id: UUID = id_field()
    writeback_id: UUID = ref("workflow_writebacks.writeback_id")
    risk_level: RiskLevel = choice(RiskLevel)
    rule_name: str = text(max_length=100)
    reason: str = text(max_length=2000)
    decision: PolicyOutcome = choice(PolicyOutcome)
    decided_at: datetime = timestamp(now=True)
    details_json: dict[str, Any] = json_field()
