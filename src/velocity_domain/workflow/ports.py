"""The AI workflow and governance repository.

Agent runs, branches, actions, writebacks, approvals and policy decisions.
"""

from velocity_domain.kernel.repository import AppendTable, MutableTable, StoreTransaction
from velocity_domain.workflow.entities import (
    AgentRun,
    Approval,
    Branch,
    PolicyDecision,
    WorkflowAction,
    Writeback,
)

__all__ = ["WorkflowRepository"]


class WorkflowRepository:
    """The ``workflow_*`` tables inside one unit of work."""

    def __init__(self, tx: StoreTransaction) -> None:
        self.agent_runs: MutableTable[AgentRun] = tx.mutable(AgentRun)
        self.branches: MutableTable[Branch] = tx.mutable(Branch)
        self.actions: MutableTable[WorkflowAction] = tx.mutable(WorkflowAction)
        self.writebacks: MutableTable[Writeback] = tx.mutable(Writeback)
        self.approvals: AppendTable[Approval] = tx.table(Approval)
        self.policy_decisions: AppendTable[PolicyDecision] = tx.table(PolicyDecision)
