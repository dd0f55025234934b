"""Deciding proposals: approvals, rejections and withdrawals, with the four-eyes rules.

A principal holding ``workflow.writebacks.approve`` decides a proposal under
review; each decision is an append-only ``workflow_approvals`` row. The
proposer never approves their own proposal, nor does whoever started the
agent run that proposed it; an automated agent never decides; each approver
approves at most once, and with a rule asking for two approvals the proposal
stays under review until two different approvers said yes. An approved
writeback not yet executed may be withdrawn by rejecting it.

:func:`approve` and :func:`reject` decide inside the caller's unit of work
(``velocity.writebacks.approve`` and ``reject`` authorise, open it and
commit), so the rules of a decision are kept apart from the release flow.
"""

from __future__ import annotations

from uuid import UUID

from velocity_domain.access import audit
from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.errors import (
    AlreadyExists,
    ApprovalRefused,
    InvalidTransition,
    ValidationFailed,
)
from velocity_domain.governance import engine
from velocity_domain.kernel.arguments import uuid_arg
from velocity_domain.kernel.clock import Clock
from velocity_domain.kernel.query import Eq
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import (
    Approval,
    ApprovalDecision,
    Writeback,
    WritebackStatus,
)

__all__ = ["APPROVE", "APPROVE_PERMISSION", "REJECT", "approve", "reject"]

APPROVE_PERMISSION = "workflow.writebacks.approve"
APPROVE = register("workflow.writebacks.approve", APPROVE_PERMISSION, "approve a proposal")
REJECT = register("workflow.writebacks.reject", APPROVE_PERMISSION, "reject a proposal")


def _comment_arg(value: object, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise ValidationFailed("comment", "is required when rejecting: say why")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("comment", "must be non-empty text", value=value)
    return value


def approve(
    uow: UnitOfWork,
    clock: Clock,
    principal: Principal,
    writeback_id: UUID,
    comment: str | None = None,
) -> Writeback:
    """Record ``principal``'s approval in ``uow``; with enough approvals the writeback is approved.

    Refused with ``ApprovalRefused`` for the proposer (four eyes), for the
    person who started the proposing agent run, for any automated agent,
    and for a second vote by the same approver. The caller commits.
    """
    note = _comment_arg(comment, required=False)
    writeback = _decidable(uow, principal, writeback_id)
    _vote(uow, clock, principal, writeback, decision=ApprovalDecision.APPROVED, comment=note)
    votes = uow.workflow.approvals.count(
        Eq("writeback_id", writeback.key), Eq("decision", ApprovalDecision.APPROVED)
    )
    if votes >= writeback.required_approvals:
        return engine.move(
            uow,
            clock,
            principal,
            writeback,
            WritebackStatus.APPROVED,
            approved_by=principal.user_id,
            reason=note,
        )
    # Every vote moves the version on, so two concurrent last votes cannot both miss.
    after = uow.workflow.writebacks.update(writeback, expected_version=writeback.version)
    audit.record(
        uow,
        clock,
        principal,
        APPROVE.name,
        target_domain="workflow",
        target_ref=writeback.key,
        reason=note,
        details={"approvals": votes, "required": writeback.required_approvals},
    )
    return after


def reject(
    uow: UnitOfWork, clock: Clock, principal: Principal, writeback_id: UUID, comment: str
) -> Writeback:
    """Reject a proposal in ``uow`` with a comment saying why; nothing of it is ever applied.

    A proposal under review is rejected; an approved one not yet executed
    is withdrawn (an approver may change their mind). Each rejection is a
    ``workflow_approvals`` row. Once executed or failed it raises
    ``InvalidTransition``. The caller commits.
    """
    note = _comment_arg(comment, required=True)
    writeback = _decidable(uow, principal, writeback_id, rejecting=True)
    _vote(uow, clock, principal, writeback, decision=ApprovalDecision.REJECTED, comment=note)
    return engine.move(
        uow,
        clock,
        principal,
        writeback,
        WritebackStatus.REJECTED,
        rejection_reason=note,
        reason=note,
    )


def _decidable(
    uow: UnitOfWork,
    principal: Principal,
    writeback_id: UUID,
    *,
    rejecting: bool = False,
) -> Writeback:
    writeback = uow.workflow.writebacks.get(uuid_arg(writeback_id, "writeback_id"))
    if principal.is_agent:
        raise ApprovalRefused(writeback.key, principal, "an automated agent never decides")
    if principal.user_id is None:
        raise ApprovalRefused(writeback.key, principal, "decisions are made by a named user")
    if not rejecting:
        if writeback.proposer_user_id == principal.user_id:
            raise ApprovalRefused(
                writeback.key, principal, "four eyes: a proposer never approves their own"
            )
        if writeback.agent_run_id is not None:
            run = uow.workflow.agent_runs.get(writeback.agent_run_id)
            if run.started_by_user_id == principal.user_id:
                raise ApprovalRefused(
                    writeback.key, principal, "four eyes: they started the proposing run"
                )
    # A proposal under review is decided; an approved one may still be withdrawn.
    open_states = {WritebackStatus.REVIEW_REQUIRED}
    if rejecting:
        open_states.add(WritebackStatus.APPROVED)
    if writeback.status not in open_states:
        target = WritebackStatus.REJECTED if rejecting else WritebackStatus.APPROVED
        raise InvalidTransition("writeback review", writeback.status, target, sorted(open_states))
    if not rejecting and _has_voted(uow, principal, writeback):
        raise ApprovalRefused(writeback.key, principal, "has already decided this proposal")
    return writeback


def _has_voted(uow: UnitOfWork, principal: Principal, writeback: Writeback) -> bool:
    """Whether ``principal`` already approved ``writeback``."""
    return (
        uow.workflow.approvals.count(
            Eq("writeback_id", writeback.key),
            Eq("approver_user_id", principal.user_id),
            Eq("decision", ApprovalDecision.APPROVED),
        )
        > 0
    )


def _vote(
    uow: UnitOfWork,
    clock: Clock,
    principal: Principal,
    writeback: Writeback,
    *,
    decision: ApprovalDecision,
    comment: str | None,
) -> None:
    assert principal.user_id is not None
    try:
        uow.workflow.approvals.add(
            Approval(
                writeback_id=writeback.key,
                approver_user_id=principal.user_id,
                decision=decision,
                comment=comment,
                decided_at=clock.now(),
            )
        )
    except AlreadyExists:  # the same approver, deciding twice at the same moment
        raise ApprovalRefused(
            writeback.key, principal, "has already decided this proposal"
        ) from None
