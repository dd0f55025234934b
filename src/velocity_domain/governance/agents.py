"""Agent runs (``workflow_agent_runs``), their alternative branches and proposed steps.

An agent run is one invocation of an AI agent. While it runs it may open
alternative branches (``workflow_branches``) and propose ordered steps
(``workflow_actions``), each on a branch or on the run's main line. A step
that changes canonical data carries a writeback proposal, made through the
writeback release flow like any other proposal, so the policy and the
operators judge it exactly as they judge a person's.

An operator then chooses one branch (:meth:`AgentRunService.choose_branch`):
in one transaction the branch becomes ``chosen``, its siblings ``rejected``,
the chosen branch's steps ``accepted`` and the rejected siblings' steps
``rejected``, together with their writebacks still waiting for a decision.
Choosing approves no writeback: those of the chosen branch still go through
review and execution on their own.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.errors import AlreadyExists, ApprovalRefused, ValidationFailed
from velocity_domain.governance import engine
from velocity_domain.governance.approvals import APPROVE_PERMISSION
from velocity_domain.governance.engine import Governance
from velocity_domain.governance.service import Service, serves
from velocity_domain.governance.writebacks import (
    PROPOSE_PERMISSION,
    WritebackService,
)
from velocity_domain.kernel.arguments import Version
from velocity_domain.kernel.clock import Clock
from velocity_domain.kernel.model import VersionedEntity
from velocity_domain.kernel.query import Eq, Query, asc, desc
from velocity_domain.kernel.repository import every
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import (
    ActionStatus,
    AgentRun,
    AgentRunStatus,
    Branch,
    BranchStatus,
    WorkflowAction,
    WritebackStatus,
)
from velocity_domain.workflow.lifecycle import ACTION, AGENT_RUN, BRANCH

__all__ = ["AgentRunService", "AgentRunView"]

START = register("workflow.agent_runs.start", PROPOSE_PERMISSION, "start an agent run")
FINISH = register(
    "workflow.agent_runs.finish",
    PROPOSE_PERMISSION,
    "end an agent run (succeeded/failed/cancelled)",
)
ADD_BRANCH = register(
    "workflow.agent_runs.add_branch", PROPOSE_PERMISSION, "open an alternative branch of a run"
)
PROPOSE_ACTION = register(
    "workflow.agent_runs.propose_action", PROPOSE_PERMISSION, "propose a step of an agent run"
)
CHOOSE_BRANCH = register(
    "workflow.agent_runs.choose_branch",
    APPROVE_PERMISSION,
    "choose a branch of a run, rejecting its siblings",
)
GET = register(
    "workflow.agent_runs.get", PROPOSE_PERMISSION, "read an agent run with its branches and steps"
)

#: The keyword arguments of ``velocity.writebacks.propose`` a step's ``change`` may carry.
CHANGE_ARGUMENTS = frozenset(inspect.signature(WritebackService.propose).parameters) - {
    "self",
    "principal",
    "agent_run_id",
}
#: Writebacks not yet executed; a rejected branch takes them down with it.
_UNDECIDED = frozenset(
    {WritebackStatus.DRAFT, WritebackStatus.REVIEW_REQUIRED, WritebackStatus.APPROVED}
)
#: How often a step is retried when a concurrent step of the same run took its sequence.
_SEQUENCE_ATTEMPTS = 5

V = TypeVar("V", bound=VersionedEntity)


@attrs.frozen
class AgentRunView:
    """An agent run with its branches (oldest first) and its steps (in sequence)."""

    run: AgentRun
    branches: tuple[Branch, ...]
    actions: tuple[WorkflowAction, ...]


def _document(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return {} if value is None else dict(value)


class AgentRunService(Service):
    """Agent runs, their branches and proposed steps, and the operator's choice of branch."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        governance: Governance | None = None,
    ) -> None:
        super().__init__(unit_of_work, clock, governance)
        # The release flow a step's change is proposed through (same store, policy, clock).
        self._writebacks = WritebackService(unit_of_work, clock, self.governance)

    @serves(START)
    def start_run(
        self,
        principal: Principal,
        *,
        agent_name: str,
        agent_version: str | None = None,
        input: Mapping[str, Any] | None = None,
    ) -> AgentRun:
        """Record that ``agent_name`` started working, on behalf of ``principal``.

        ``input`` is what the agent was given (a JSON document). The run is
        ``running`` until :meth:`finish_run`.
        """
        document = _document(input)
        now = self.clock.now()
        return self._create_audited(
            principal,
            START,
            lambda _uow: AgentRun(
                agent_name=agent_name,
                agent_version=agent_version,
                started_by_user_id=principal.user_id,
                started_at=now,
                input_json=document,
                created_at=now,
                updated_at=now,
            ),
            domain="workflow",
        )

    @serves(FINISH)
    def finish_run(
        self,
        principal: Principal,
        run_id: UUID,
        status: AgentRunStatus | str,
        *,
        expected_version: Version,
        output: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> AgentRun:
        """End a running run as ``succeeded``, ``failed`` (with an ``error``) or ``cancelled``.

        ``output`` (a JSON document) replaces the run's output when given. A
        run that is no longer running raises ``InvalidTransition``.
        """
        target = AgentRunStatus(status)
        key = run_id
        version = expected_version
        document = None if output is None else _document(output)
        if target is AgentRunStatus.FAILED and error is None:
            raise ValidationFailed("error", "is required when a run fails: say what went wrong")
        if target is not AgentRunStatus.FAILED and error is not None:
            raise ValidationFailed("error", "is given only when a run fails", value=error)
        with self._begin(principal, FINISH) as uow:
            before = uow.workflow.agent_runs.get(key)
            AGENT_RUN.transition(before.status, target)
            candidate = attrs.evolve(
                before,
                status=target,
                finished_at=self.clock.now(),
                output_json=before.output_json if document is None else document,
                error=error,
            )
            after = self._update_audited(
                uow,
                principal,
                FINISH.name,
                before,
                candidate,
                domain="workflow",
                expected_version=version,
                reason=error,
            )
            uow.commit()
        return after

    @serves(ADD_BRANCH)
    def add_branch(
        self, principal: Principal, run_id: UUID, *, label: str, rationale: str | None = None
    ) -> Branch:
        """Open an alternative branch of a running run; labels are unique within the run.

        Refused once a branch of the run has been chosen: the choice is made
        among the branches known when it was made.
        """
        key = run_id

        def build(uow: UnitOfWork) -> Branch:
            self._running(uow, key)
            chosen = Eq("agent_run_id", key), Eq("status", BranchStatus.CHOSEN)
            if uow.workflow.branches.count(*chosen):
                raise ValidationFailed(
                    "run_id", "a branch of this run is already chosen; no new branch", value=key
                )
            now = self.clock.now()
            return Branch(
                agent_run_id=key, label=label, rationale=rationale, created_at=now, updated_at=now
            )

        return self._create_audited(principal, ADD_BRANCH, build, domain="workflow")

    @serves(PROPOSE_ACTION)
    def propose_action(
        self,
        principal: Principal,
        run_id: UUID,
        *,
        action_type: str,
        branch_id: UUID | None = None,
        description: str | None = None,
        payload: Mapping[str, Any] | None = None,
        change: Mapping[str, Any] | None = None,
    ) -> WorkflowAction:
        """Add the run's next step (its ``sequence`` follows the run's last one).

        ``branch_id`` puts the step on an open branch of the run. ``change``,
        the keyword arguments of ``velocity.writebacks.propose``, makes the
        step change canonical data: the change is proposed (for this run)
        before the step is stored, and the step names the writeback. The
        proposal is judged by the policy like any other.
        """
        key = run_id
        branch_key = branch_id
        document = _document(payload)
        proposal = self._change_arg(change, key)
        with self._begin(principal, PROPOSE_ACTION) as uow:
            self._check_place(uow, key, branch_key)
        draft = WorkflowAction(
            agent_run_id=key,
            branch_id=branch_key,
            sequence=1,
            action_type=action_type,
            description=description,
            payload_json=document,
        )
        if proposal is not None:
            writeback = self._writebacks.propose(principal, agent_run_id=key, **proposal)
            draft = attrs.evolve(draft, writeback_id=writeback.key)
        for attempt in range(1, _SEQUENCE_ATTEMPTS + 1):
            try:
                return self._add_action(principal, draft)
            except AlreadyExists:
                if attempt == _SEQUENCE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _change_arg(change: Mapping[str, Any] | None, run_id: UUID) -> dict[str, Any] | None:
        if change is None:
            return None
        args = dict(change)
        if args.get("agent_run_id", run_id) != run_id:
            raise ValidationFailed("change", "a step's change is proposed for its own run")
        args.pop("agent_run_id", None)
        unknown = sorted(set(args) - CHANGE_ARGUMENTS)
        if unknown:
            allowed = ", ".join(sorted(CHANGE_ARGUMENTS))
            raise ValidationFailed(
                "change", f"unknown argument(s) {', '.join(unknown)}; allowed: {allowed}"
            )
        return args

    def _add_action(self, principal: Principal, draft: WorkflowAction) -> WorkflowAction:
        with self._begin(principal, PROPOSE_ACTION) as uow:
            self._check_place(uow, draft.agent_run_id, draft.branch_id)
            last = uow.workflow.actions.list(
                Query((Eq("agent_run_id", draft.agent_run_id),), (desc("sequence"),), 1)
            )
            now = self.clock.now()
            action = attrs.evolve(
                draft,
                sequence=last.items[0].sequence + 1 if last.items else 1,
                created_at=now,
                updated_at=now,
            )
            self._add_audited(uow, principal, PROPOSE_ACTION.name, action, domain="workflow")
            uow.commit()
        return action

    @staticmethod
    def _running(uow: UnitOfWork, run_id: UUID) -> AgentRun:
        run = uow.workflow.agent_runs.get(run_id)
        if run.status is not AgentRunStatus.RUNNING:
            raise ValidationFailed(
                "run_id",
                f"the run is {run.status.value}; only a running run adds branches and steps",
                value=run_id,
            )
        return run

    def _check_place(self, uow: UnitOfWork, run_id: UUID, branch_id: UUID | None) -> None:
        self._running(uow, run_id)
        if branch_id is None:
            return
        branch = uow.workflow.branches.get(branch_id)
        if branch.agent_run_id != run_id:
            raise ValidationFailed("branch_id", "is a branch of another run", value=branch_id)
        if branch.status is not BranchStatus.OPEN:
            raise ValidationFailed(
                "branch_id",
                f"the branch is {branch.status.value}; steps go on open branches only",
                value=branch_id,
            )

    @serves(CHOOSE_BRANCH)
    def choose_branch(self, principal: Principal, branch_id: UUID) -> Branch:
        """Choose a branch: its siblings and their pending proposals are rejected.

        In one transaction, each change audited: the branch becomes
        ``chosen``; every open sibling becomes ``rejected``; the chosen
        branch's proposed steps become ``accepted``; the rejected siblings'
        steps become ``rejected`` and so do their writebacks not yet
        executed (draft, under review or approved). Only a named person decides
        (``ApprovalRefused`` for an automated agent); a branch no longer open
        raises ``InvalidTransition``.
        """
        key = branch_id
        with self._begin(principal, CHOOSE_BRANCH) as uow:
            if principal.is_agent:
                raise ApprovalRefused(key, principal, "an automated agent never chooses a branch")
            if principal.user_id is None:
                raise ApprovalRefused(key, principal, "a branch is chosen by a named user")
            branch = uow.workflow.branches.get(key)
            BRANCH.transition(branch.status, BranchStatus.CHOSEN)
            wanted = attrs.evolve(
                branch,
                status=BranchStatus.CHOSEN,
                chosen_at=self.clock.now(),
                chosen_by_user_id=principal.user_id,
            )
            chosen = self._update_audited(
                uow, principal, CHOOSE_BRANCH.name, branch, wanted, domain="workflow"
            )
            why = f"branch {branch.label!r} ({key}) was chosen instead"
            order = (asc("created_at"), asc("branch_id"))
            siblings = every(
                uow.workflow.branches, Eq("agent_run_id", branch.agent_run_id), order=order
            )
            rejected: list[UUID] = []
            for sibling in list(siblings):
                if sibling.key != key and sibling.status is BranchStatus.OPEN:
                    self._move_branch(uow, principal, sibling, why)
                    rejected.append(sibling.key)
            steps = every(
                uow.workflow.actions,
                Eq("agent_run_id", branch.agent_run_id),
                order=(asc("sequence"),),
            )
            for action in list(steps):
                if action.branch_id == key and action.status is ActionStatus.PROPOSED:
                    self._move_action(uow, principal, action, ActionStatus.ACCEPTED, None)
                elif action.branch_id in rejected:
                    self._reject_action(uow, principal, action, why)
            uow.commit()
        return chosen

    def _move_branch(
        self, uow: UnitOfWork, principal: Principal, branch: Branch, reason: str
    ) -> None:
        BRANCH.transition(branch.status, BranchStatus.REJECTED)
        rejected = attrs.evolve(branch, status=BranchStatus.REJECTED)
        self._update_audited(
            uow,
            principal,
            "workflow.branches.rejected",
            branch,
            rejected,
            domain="workflow",
            reason=reason,
        )

    def _move_action(
        self,
        uow: UnitOfWork,
        principal: Principal,
        action: WorkflowAction,
        target: ActionStatus,
        reason: str | None,
    ) -> None:
        ACTION.transition(action.status, target)
        moved = attrs.evolve(action, status=target)
        action_name = f"workflow.actions.{target.value}"
        self._update_audited(
            uow, principal, action_name, action, moved, domain="workflow", reason=reason
        )

    def _reject_action(
        self, uow: UnitOfWork, principal: Principal, action: WorkflowAction, reason: str
    ) -> None:
        if action.status is not ActionStatus.REJECTED:
            self._move_action(uow, principal, action, ActionStatus.REJECTED, reason)
        if action.writeback_id is None:
            return
        writeback = uow.workflow.writebacks.get(action.writeback_id)
        if writeback.status in _UNDECIDED:
            engine.move(
                uow,
                self.clock,
                principal,
                writeback,
                WritebackStatus.REJECTED,
                rejection_reason=reason,
                reason=reason,
                details={"action_id": str(action.key)},
            )

    @serves(GET)
    def get_run(self, principal: Principal, run_id: UUID) -> AgentRunView:
        """Read a run with its branches (oldest first) and its steps (in sequence)."""
        key = run_id
        with self._begin(principal, GET) as uow:
            run = uow.workflow.agent_runs.get(key)
            mine = (Eq("agent_run_id", key),)
            branches = every(
                uow.workflow.branches, *mine, order=(asc("created_at"), asc("branch_id"))
            )
            actions = every(uow.workflow.actions, *mine, order=(asc("sequence"),))
            return AgentRunView(run, tuple(branches), tuple(actions))
