"""The governance lifecycles: writebacks, agent runs, their actions and branches.

A writeback (spec section 8) is ``draft`` when stored, ``review_required``
when the policy wants an operator, ``approved`` once enough approvers said
yes (or the policy approved it at once), and ``executed`` once its change is
in the canonical tables. ``rejected`` ends a draft or a proposal under review,
and withdraws an approved one that has not been executed yet (an operator
changing their mind, or the choice of another branch of an agent run).

Execution that meets a conflict never overwrites: the target moved on since
the proposal (another version), was removed, or the change no longer passes
the domain's rules (a stage move the pipeline now refuses, a duplicate key).
The writeback then moves from ``approved`` to ``failed`` with the reason, and
nothing of its change is applied; whoever proposed it proposes again against
what the target is now. A writeback that failed for a passing cause (the
database was unreachable) stays ``approved`` and may simply be executed again.

>>> WRITEBACK.allowed(WritebackStatus.APPROVED) == {
...     WritebackStatus.EXECUTED, WritebackStatus.FAILED, WritebackStatus.REJECTED}
True
>>> WRITEBACK.transition(WritebackStatus.EXECUTED, WritebackStatus.APPROVED)
Traceback (most recent call last):
...
velocity_domain.errors.InvalidTransition: writeback: cannot move from executed to approved; ...
"""

from __future__ import annotations

from velocity_domain.kernel.lifecycle import Lifecycle
from velocity_domain.workflow.entities import (
    ActionStatus,
    AgentRunStatus,
    BranchStatus,
    WritebackStatus,
)

__all__ = ["ACTION", "AGENT_RUN", "BRANCH", "WRITEBACK"]

_W = WritebackStatus

#: draft -> review_required -> approved -> executed; rejected and failed end it early.
WRITEBACK: Lifecycle[WritebackStatus] = Lifecycle(
    "writeback",
    {
        _W.DRAFT: {_W.REVIEW_REQUIRED, _W.APPROVED, _W.REJECTED},
        _W.REVIEW_REQUIRED: {_W.APPROVED, _W.REJECTED},
        _W.APPROVED: {_W.EXECUTED, _W.FAILED, _W.REJECTED},
    },
)

#: An agent run is running until it succeeds, fails or is cancelled.
AGENT_RUN: Lifecycle[AgentRunStatus] = Lifecycle(
    "agent run",
    {
        AgentRunStatus.RUNNING: {
            AgentRunStatus.SUCCEEDED,
            AgentRunStatus.FAILED,
            AgentRunStatus.CANCELLED,
        }
    },
)

#: A proposed step is accepted or rejected; an accepted one is later executed.
ACTION: Lifecycle[ActionStatus] = Lifecycle(
    "agent action",
    {
        ActionStatus.PROPOSED: {ActionStatus.ACCEPTED, ActionStatus.REJECTED},
        ActionStatus.ACCEPTED: {ActionStatus.EXECUTED, ActionStatus.REJECTED},
    },
)

#: An open branch is chosen, or rejected (choosing a sibling rejects it).
BRANCH: Lifecycle[BranchStatus] = Lifecycle(
    "branch",
    {BranchStatus.OPEN: {BranchStatus.CHOSEN, BranchStatus.REJECTED}},
)
