"""The policy gate of the services, and the writeback bookkeeping shared with the executor.

Each governed write of a service describes itself as a
:class:`~velocity_domain.governance.change.ProposedChange` and calls
:meth:`Governance.gate` before writing. A change the policy approves goes on
at once; one it denies raises ``PolicyDenied``; one it sends to review is
stored as a writeback (``draft``, then ``review_required`` with its policy
decision) and committed, and the call raises ``ApprovalRequired`` carrying the
proposal's id. Each status change of a writeback is an audit event naming the
actor and the time.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access import audit
from velocity_domain.access.operations import OPERATIONS
from velocity_domain.access.principal import Principal
from velocity_domain.crm.duplicates import (
    DEFAULT_ACCOUNT_RULES,
    DEFAULT_PERSON_RULES,
    DuplicateRules,
)
from velocity_domain.errors import ApprovalRequired, PolicyDenied
from velocity_domain.governance.appliers import Appliers
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.policy import Policy, Verdict
from velocity_domain.kernel.clock import Clock
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import (
    AgentRun,
    AgentRunStatus,
    PolicyDecision,
    PolicyOutcome,
    Writeback,
    WritebackStatus,
)
from velocity_domain.workflow.lifecycle import WRITEBACK

__all__ = ["Governance", "classify", "move", "store"]


def store(
    uow: UnitOfWork,
    clock: Clock,
    principal: Principal,
    change: ProposedChange,
    *,
    agent_run_id: UUID | None = None,
    proposal_ref: str | None = None,
    idempotency_key: str | None = None,
    writeback_id: UUID | None = None,
) -> Writeback:
    """Add ``change`` as a ``draft`` writeback proposed by ``principal`` (or an agent run).

    A host system principal (no user) without an agent run gets a finished
    agent run of its own name, so every proposal names who proposed it.
    ``writeback_id`` is the id to give it, when rows written earlier in the
    same unit of work already name the proposal.
    """
    now = clock.now()
    if principal.user_id is None and agent_run_id is None:
        run = AgentRun(
            agent_name=principal.name,
            status=AgentRunStatus.SUCCEEDED,
            started_at=now,
            finished_at=now,
            input_json={"principal": str(principal), "operation": change.operation},
            created_at=now,
            updated_at=now,
        )
        agent_run_id = uow.workflow.agent_runs.add(run).key
    given: dict[str, Any] = {} if writeback_id is None else {"writeback_id": writeback_id}
    writeback = Writeback(
        **given,
        proposal_ref=proposal_ref,
        proposer_user_id=principal.user_id,
        agent_run_id=agent_run_id,
        target_domain=change.target_domain,
        target_table=change.target_table,
        target_entity_ref=change.target_ref,
        change_kind=change.change_kind,
        base_version=change.base_version,
        change_json=change.to_json(),
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
    )
    uow.workflow.writebacks.add(writeback)
    audit.record(
        uow,
        clock,
        principal,
        "workflow.writebacks.propose",
        target_domain="workflow",
        target_ref=writeback.key,
        after=writeback,
        details={"operation": change.operation, "target_table": change.target_table},
    )
    return writeback


def move(
    uow: UnitOfWork,
    clock: Clock,
    principal: Principal,
    writeback: Writeback,
    target: WritebackStatus,
    *,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    **changes: Any,
) -> Writeback:
    """Move ``writeback`` to ``target`` along its lifecycle, with an audit event of the move."""
    WRITEBACK.transition(writeback.status, target)
    candidate = attrs.evolve(writeback, status=target, **changes)
    after = uow.workflow.writebacks.update(candidate, expected_version=writeback.version)
    audit.record(
        uow,
        clock,
        principal,
        f"workflow.writebacks.{target.value}",
        target_domain="workflow",
        target_ref=after.key,
        before=writeback,
        after=after,
        reason=reason,
        details=details,
    )
    return after


def classify(
    uow: UnitOfWork,
    clock: Clock,
    principal: Principal,
    writeback: Writeback,
    verdict: Verdict,
) -> Writeback:
    """Record the policy's ``verdict`` on a draft and move it on (approved, review, rejected)."""
    uow.workflow.policy_decisions.add(
        PolicyDecision(
            writeback_id=writeback.key,
            risk_level=verdict.risk,
            rule_name=verdict.rule,
            reason=verdict.reason,
            decision=verdict.outcome,
            decided_at=clock.now(),
            details_json={"required_approvals": verdict.required_approvals},
        )
    )
    common: dict[str, Any] = {
        "risk_level": verdict.risk,
        "required_approvals": verdict.required_approvals,
        "reason": f"policy rule {verdict.rule}: {verdict.reason}",
        "details": {"rule": verdict.rule, "outcome": verdict.outcome.value},
    }
    if verdict.outcome is PolicyOutcome.AUTO_APPROVE:
        return move(uow, clock, principal, writeback, WritebackStatus.APPROVED, **common)
    if verdict.outcome is PolicyOutcome.DENY:
        return move(
            uow,
            clock,
            principal,
            writeback,
            WritebackStatus.REJECTED,
            rejection_reason=f"denied by policy rule {verdict.rule}: {verdict.reason}"[:2000],
            **common,
        )
    return move(uow, clock, principal, writeback, WritebackStatus.REVIEW_REQUIRED, **common)


class Governance:
    """What one :class:`~velocity_domain.Velocity` shares by its services to govern writes.

    The policy and the appliers of writebacks, and the duplicate rules: the
    services read ``person_rules`` and ``account_rules`` at each call, so a
    host edits them in place::

        velocity.governance.person_rules = velocity.governance.person_rules.without("phone")
        velocity.governance.person_rules = velocity.governance.person_rules.with_rule(
            DuplicateRule("same_linkedin", ...)
        )

    and from then on contact creation, the import gateway and the duplicate
    scan all judge people by the edited set
    (see :mod:`velocity_domain.crm.duplicates`).
    """

    def __init__(
        self,
        policy: Policy | None = None,
        appliers: Appliers | None = None,
        *,
        person_rules: DuplicateRules = DEFAULT_PERSON_RULES,
        account_rules: DuplicateRules = DEFAULT_ACCOUNT_RULES,
    ) -> None:
        #: The rules every governed write and every proposal is classified by.
        self.policy = policy if policy is not None else Policy()
        #: The governed operations and the functions that apply them.
        self.appliers = appliers if appliers is not None else Appliers()
        #: When two people are probably one: create-time warnings, imports, the scan.
        self.person_rules = person_rules
        #: When two accounts are probably one: the create-time warning of accounts.
        self.account_rules = account_rules

    def verdict(self, change: ProposedChange, proposer: Principal) -> Verdict:
        """The policy's verdict, never approving at once what the proposer may not do directly.

        A proposer without the operation's own permission (an operator
        proposing a deal, an agent that only proposes) is sent to review
        where the policy would have approved the change at once.
        """
        verdict = self.policy.classify(change, proposer)
        operation = OPERATIONS.get(change.operation)
        if (
            verdict.outcome is PolicyOutcome.AUTO_APPROVE
            and operation is not None
            and operation.permission is not None
            and not proposer.has(operation.permission)
        ):
            return Verdict(
                PolicyOutcome.REVIEW_REQUIRED,
                verdict.risk,
                "not_permitted",
                f"the proposer may not {operation.description} without approval",
                verdict.required_approvals,
            )
        return verdict

    def gate(
        self, uow: UnitOfWork, clock: Clock, principal: Principal, change: ProposedChange
    ) -> None:
        """Let a direct write through, or store it for review and raise ``ApprovalRequired``.

        On review the proposal is committed in ``uow`` (which must hold no
        other writes yet) before the error is raised.
        """
        verdict = self.verdict(change, principal)
        if verdict.outcome is PolicyOutcome.AUTO_APPROVE:
            return
        if verdict.outcome is PolicyOutcome.DENY:
            raise PolicyDenied(verdict.rule, verdict.reason)
        draft = store(uow, clock, principal, change)
        classify(uow, clock, principal, draft, verdict)
        uow.commit()
        raise ApprovalRequired(draft.key, verdict.reason, verdict.rule)
