"""The writeback release flow (spec section 9): propose, classify, approve, execute.

1. An agent, an import or a person proposes a change (:meth:`WritebackService.propose`).
2. The proposal is stored as a ``draft`` writeback and committed before
   anything else happens.
3. The policy classifies it (a ``workflow_policy_decisions`` row): approved at
   once, sent to review, or rejected outright.
4. Operators approve or reject it (``workflow_approvals``); the proposer never
   approves their own proposal and an automated agent never approves.
5. :meth:`WritebackService.execute` applies an approved writeback to the
   canonical domain, marks it executed and writes the audit events, in one
   transaction, exactly once however many callers race to run it.

Execution that meets a conflict (the target's version moved on, the target
is gone, the change breaks a rule of the domain now) applies nothing: the
writeback becomes ``failed`` with the reason and ``WritebackFailed`` is raised.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import Operation, authorize, register
from velocity_domain.access.principal import Principal
from velocity_domain.access.visibility import READ_ALL
from velocity_domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    ConstraintViolation,
    DuplicateSuspected,
    IdempotencyConflict,
    InvalidTransition,
    MergedRecord,
    NotFound,
    PermissionDenied,
    PolicyDenied,
    SerializationFailure,
    UndoBlocked,
    ValidationFailed,
    VelocityError,
    WritebackFailed,
)
from velocity_domain.governance import approvals, engine
from velocity_domain.governance.approvals import APPROVE, APPROVE_PERMISSION, REJECT
from velocity_domain.governance.change import ProposedChange, entity_class
from velocity_domain.governance.inbox import InboxItem, operator_inbox
from velocity_domain.governance.proposing import (
    by_idempotency_key,
    describe,
    fields_arg,
    request_digest,
    route_for,
)
from velocity_domain.governance.service import Service, argument_checks, serves
from velocity_domain.kernel.arguments import Version
from velocity_domain.kernel.model import Entity, VersionedEntity
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Filter, Query, asc, desc
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import (
    Approval,
    ChangeKind,
    PolicyDecision,
    Writeback,
    WritebackStatus,
)
from velocity_domain.workflow.lifecycle import WRITEBACK

__all__ = ["BatchProposal", "Execution", "WritebackReview", "WritebackService"]

PROPOSE_PERMISSION = "workflow.writebacks.propose"
PROPOSE = register("workflow.writebacks.propose", PROPOSE_PERMISSION, "propose a change")
PROPOSE_MANY = register(
    "workflow.writebacks.propose_many", PROPOSE_PERMISSION, "propose many changes at once"
)
EXECUTE = register("workflow.writebacks.execute", PROPOSE_PERMISSION, "apply an approved proposal")
GET = register("workflow.writebacks.get", PROPOSE_PERMISSION, "read a proposal and its history")
LIST = register("workflow.writebacks.list", PROPOSE_PERMISSION, "list proposals")
INBOX = register(
    "workflow.writebacks.inbox", APPROVE_PERMISSION, "an operator's inbox of work to do"
)

#: Errors that mean the approved change cannot be applied as proposed: the writeback fails.
CONFLICTS: tuple[type[VelocityError], ...] = (
    ConcurrencyConflict,
    NotFound,
    ValidationFailed,
    InvalidTransition,
    ConstraintViolation,
    DuplicateSuspected,
    PolicyDenied,
    MergedRecord,
    UndoBlocked,
)


@attrs.frozen
class Execution:
    """What :meth:`WritebackService.execute` did.

    ``applied`` is ``True`` for the one call that applied the change and
    ``False`` for every call that found it already executed; ``row`` is the
    row as written by the applying call.
    """

    writeback: Writeback
    applied: bool
    row: Entity | None = None


@attrs.frozen
class BatchProposal:
    """The outcome of :meth:`WritebackService.propose_many`: what was stored, what was refused.

    ``refused`` pairs the position of each refused change with its error.
    """

    proposed: tuple[Writeback, ...]
    refused: tuple[tuple[int, VelocityError], ...]


@attrs.frozen
class WritebackReview:
    """A writeback with its policy decisions and approvals, oldest first."""

    writeback: Writeback
    decisions: tuple[PolicyDecision, ...]
    approvals: tuple[Approval, ...]


class WritebackService(Service):
    """Proposals to change canonical data, their review and their one-time execution."""

    @serves(PROPOSE)
    def propose(
        self,
        principal: Principal,
        *,
        target_table: str,
        change_kind: ChangeKind | str,
        fields: Mapping[str, Any] | None = None,
        target_ref: UUID | None = None,
        base_version: Version | None = None,
        context: Mapping[str, Any] | None = None,
        operation: str | None = None,
        agent_run_id: UUID | None = None,
        proposal_ref: str | None = None,
        idempotency_key: str | None = None,
    ) -> Writeback:
        """Store a proposed change, let the policy classify it, and return the writeback.

        ``fields`` are the new values (entity field names; values as Python
        values or their JSON form). An update names ``target_ref`` and the
        ``base_version`` it was read at; a stale version is refused at once
        with ``ConcurrencyConflict``. The operation is found from the table,
        the kind and the fields unless ``operation`` names it. A repeated
        ``idempotency_key`` returns the first writeback when the change is the
        same and raises ``IdempotencyConflict`` when it differs.

        The returned writeback is ``approved`` (ready for :meth:`execute`),
        ``review_required`` or ``rejected`` (the policy denied it).
        """
        return self._propose(
            principal,
            PROPOSE,
            target_table=target_table,
            change_kind=change_kind,
            fields=fields,
            target_ref=target_ref,
            base_version=base_version,
            context=context,
            operation=operation,
            agent_run_id=agent_run_id,
            proposal_ref=proposal_ref,
            idempotency_key=idempotency_key,
            bulk_size=1,
        )

    @serves(PROPOSE_MANY)
    def propose_many(
        self,
        principal: Principal,
        changes: Sequence[object],
        *,
        agent_run_id: UUID | None = None,
    ) -> BatchProposal:
        """Propose each change (a mapping of the keyword arguments of :meth:`propose`) on its own.

        Each change's arguments are checked as :meth:`propose` checks its own;
        a refused change is reported with its position and error; the others
        are stored. Every change knows the batch's size, so the policy can
        send large batches to review.
        """
        authorize(principal, PROPOSE_MANY)
        checks = argument_checks(WritebackService.propose)
        proposed: list[Writeback] = []
        refused: list[tuple[int, VelocityError]] = []
        for index, raw in enumerate(changes):
            try:
                # Each item is checked exactly as the arguments of propose are.
                if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
                    raise ValidationFailed(f"changes[{index}]", "must be a mapping of arguments")
                bound = checks.bind((principal,), {"agent_run_id": agent_run_id, **raw})
                checks.check(bound)
                args = {k: v for k, v in bound.arguments.items() if k != "principal"}
                proposed.append(
                    self._propose(principal, PROPOSE_MANY, bulk_size=len(changes), **args)
                )
            except VelocityError as exc:
                refused.append((index, exc))
        return BatchProposal(tuple(proposed), tuple(refused))

    def _propose(
        self,
        principal: Principal,
        operation_of_call: Operation,
        *,
        target_table: str,
        change_kind: ChangeKind | str,
        fields: Mapping[str, Any] | None = None,
        target_ref: UUID | None = None,
        base_version: int | None = None,
        context: Mapping[str, Any] | None = None,
        operation: str | None = None,
        agent_run_id: UUID | None = None,
        proposal_ref: str | None = None,
        idempotency_key: str | None = None,
        bulk_size: int = 1,
    ) -> Writeback:
        kind = ChangeKind(change_kind)
        cls = entity_class(target_table)
        values = fields_arg(fields)
        route = route_for(self.governance.appliers, target_table, kind, values, operation)
        run_id = agent_run_id
        digest = request_digest(
            principal,
            {
                "operation": route.operation,
                "target_ref": target_ref,
                "base_version": base_version,
                "fields": values,
                "context": context,
                "agent_run_id": run_id,
            },
        )
        # First the change is checked against the domain as it is now: described, then
        # applied in a unit of work that is rolled back, so a proposal that could never
        # be executed (a refused stage move, a duplicate contact) is refused at once.
        with self._begin(principal, operation_of_call) as uow:
            if idempotency_key is not None:
                earlier = by_idempotency_key(uow, idempotency_key)
                if earlier is not None:
                    return _repeated(earlier, digest, idempotency_key)
            change = describe(
                uow,
                principal,
                route,
                cls,
                values=values,
                target_ref=target_ref,
                base_version=base_version,
                context=context,
                bulk_size=bulk_size,
            )
            change = attrs.evolve(change, request_digest=digest)
            if run_id is not None:
                uow.workflow.agent_runs.get(run_id)
            route.apply(uow, principal, change)
        try:
            with self._unit_of_work() as uow:
                draft = engine.store(
                    uow,
                    self.clock,
                    principal,
                    change,
                    agent_run_id=run_id,
                    proposal_ref=proposal_ref,
                    idempotency_key=idempotency_key,
                )
                verdict = self.governance.verdict(change, principal)
                after = engine.classify(uow, self.clock, principal, draft, verdict)
                uow.commit()
        except AlreadyExists:
            if idempotency_key is None:
                raise
            with self._unit_of_work() as uow:
                earlier = by_idempotency_key(uow, idempotency_key)
            if earlier is None:  # pragma: no cover - the unique key was just reported taken
                raise
            return _repeated(earlier, digest, idempotency_key)
        return after

    @serves(APPROVE)
    def approve(
        self, principal: Principal, writeback_id: UUID, *, comment: str | None = None
    ) -> Writeback:
        """Record ``principal``'s approval; with enough approvals the writeback is ``approved``.

        Refused with ``ApprovalRefused`` for the proposer (four eyes), for the
        person who started the proposing agent run, for any automated agent,
        and for a second vote by the same approver.
        """
        with self._begin(principal, APPROVE) as uow:
            after = approvals.approve(uow, self.clock, principal, writeback_id, comment)
            uow.commit()
        return after

    @serves(REJECT)
    def reject(self, principal: Principal, writeback_id: UUID, *, comment: str) -> Writeback:
        """Reject a proposal with a comment saying why; nothing of it is ever applied.

        An approved writeback not yet executed is withdrawn; once executed or
        failed it raises ``InvalidTransition``.
        """
        with self._begin(principal, REJECT) as uow:
            after = approvals.reject(uow, self.clock, principal, writeback_id, comment)
            uow.commit()
        return after

    @serves(EXECUTE)
    def execute(self, principal: Principal, writeback_id: UUID) -> Execution:
        """Apply an approved writeback exactly once.

        The first caller applies the change, marks the writeback executed and
        writes the audit events in one transaction; every other caller, at
        the same time or later, gets ``Execution(applied=False)``. A conflict
        marks the writeback ``failed`` and raises ``WritebackFailed``, and so
        does every later execution of it (with the recorded reason); a
        writeback that is not approved raises ``InvalidTransition``.
        """
        key = writeback_id
        for _ in range(3):
            try:
                return self._execute(principal, key)
            except _ClaimLost:
                # Another executor claimed it first; see what became of it.
                with self._unit_of_work() as uow:
                    now = uow.workflow.writebacks.get(key)
                if now.status is WritebackStatus.EXECUTED:
                    return Execution(now, applied=False)
                if now.status is WritebackStatus.FAILED:
                    raise WritebackFailed(key, now.failure_reason or "failed") from None
                # Still approved: the other executor rolled back; try again.
            except _Conflict as conflict:
                reason = self._fail(principal, key, conflict.error)
                raise WritebackFailed(key, reason) from conflict.error
        raise SerializationFailure(f"writeback {key} kept changing while being executed; retry")

    def _execute(self, principal: Principal, key: UUID) -> Execution:
        with self._begin(principal, EXECUTE) as uow:
            writeback = self._readable(uow, principal, key)
            if writeback.status is WritebackStatus.EXECUTED:
                return Execution(writeback, applied=False)
            if writeback.status is WritebackStatus.FAILED:
                # Every caller learns the one outcome, whether it raced or came later.
                raise WritebackFailed(key, writeback.failure_reason or "failed")
            WRITEBACK.transition(writeback.status, WritebackStatus.EXECUTED)
            change = ProposedChange.of(writeback)
            route = self.governance.appliers.get(change.operation)
            target_class = entity_class(change.target_table)
            created = change.fields.get(target_class.key_field)
            target = writeback.target_entity_ref or (None if created is None else UUID(created))
            expected = _expected_result(change, target_class, target)
            # The claim comes first, in one conditional UPDATE that also records the
            # result the change will have: a second executor waits on this row, then
            # finds it no longer approved and reports what became of it.
            claimed = uow.workflow.writebacks.update_if(
                key,
                {
                    "status": WritebackStatus.EXECUTED,
                    "executed_at": self.clock.now(),
                    "target_entity_ref": target,
                    "executed_result_json": expected,
                },
                where=(
                    Eq("status", WritebackStatus.APPROVED),
                    Eq("version", writeback.version),
                ),
            )
            if claimed is None:
                raise _ClaimLost
            acting = principal.with_correlation(principal.correlation_id or f"writeback:{key}")
            try:
                row = route.apply(uow, acting, change)
            except CONFLICTS as exc:
                raise _Conflict(exc) from exc
            result: dict[str, Any] = {"target_ref": str(row.key)}
            if isinstance(row, VersionedEntity):
                result["version"] = row.version
            done = claimed
            if result != expected:  # an applier that wrote its row more than once
                done = uow.workflow.writebacks.update(
                    attrs.evolve(claimed, executed_result_json=result),
                    expected_version=claimed.version,
                )
            self._audit(
                uow,
                acting,
                "workflow.writebacks.executed",
                target_domain="workflow",
                target_ref=key,
                before=writeback,
                after=done,
                details={"operation": change.operation},
            )
            uow.commit()
        return Execution(done, applied=True, row=row)

    def _fail(self, principal: Principal, key: UUID, error: VelocityError) -> str:
        """Record the conflict that stopped ``key``; return the reason now on record."""
        reason = f"{error.code}: {error}"[:2000]
        for _ in range(3):
            with self._unit_of_work() as uow:
                writeback = uow.workflow.writebacks.get(key)
                if writeback.status is not WritebackStatus.APPROVED:
                    return writeback.failure_reason or reason
                try:
                    engine.move(
                        uow,
                        self.clock,
                        principal,
                        writeback,
                        WritebackStatus.FAILED,
                        failure_reason=reason,
                        reason=reason,
                    )
                    uow.commit()
                except ConcurrencyConflict:
                    continue  # another executor recorded it first: read what it recorded
            return reason
        return reason  # pragma: no cover - three moves of one writeback in a row

    @serves(GET)
    def get(self, principal: Principal, writeback_id: UUID) -> WritebackReview:
        """A writeback with its policy decisions and approvals.

        A principal who sees only their own clients sees only their own
        proposals; any other is ``NotFound``.
        """
        key = writeback_id
        with self._begin(principal, GET) as uow:
            writeback = self._readable(uow, principal, key)
            mine = (Eq("writeback_id", key),)
            decisions = uow.workflow.policy_decisions.list(
                Query(mine, (asc("decided_at"),), MAX_PAGE_SIZE)
            )
            approvals = uow.workflow.approvals.list(
                Query(mine, (asc("decided_at"),), MAX_PAGE_SIZE)
            )
        return WritebackReview(writeback, tuple(decisions), tuple(approvals))

    @serves(LIST)
    def list(
        self,
        principal: Principal,
        *,
        status: WritebackStatus | str | None = None,
        target_table: str | None = None,
        agent_run_id: UUID | None = None,
        proposer_user_id: UUID | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Writeback]:
        """List writebacks, newest first, by status, target table, agent run or proposer.

        A principal who sees only their own clients lists only their own proposals.
        """
        where: builtins.list[Filter] = []
        if status is not None:
            where.append(Eq("status", WritebackStatus(status)))
        if target_table is not None:
            where.append(Eq("target_table", entity_class(target_table).table_name))
        if agent_run_id is not None:
            where.append(Eq("agent_run_id", agent_run_id))
        if proposer_user_id is not None:
            where.append(Eq("proposer_user_id", proposer_user_id))
        with self._begin(principal, LIST) as uow:
            if not self._visibility(uow, principal).sees_everyone:
                where.append(Eq("proposer_user_id", principal.user_id))
            order = (desc("created_at"), desc("writeback_id"))
            return uow.workflow.writebacks.list(Query(where, order, limit, cursor))

    def _readable(self, uow: UnitOfWork, principal: Principal, key: UUID) -> Writeback:
        writeback = uow.workflow.writebacks.get(key)
        self._check_readable(uow, principal, writeback)
        return writeback

    def _check_readable(self, uow: UnitOfWork, principal: Principal, writeback: Writeback) -> None:
        """Report a writeback the principal may not read as not found."""
        mine = principal.user_id is not None and writeback.proposer_user_id == principal.user_id
        if not mine and not self._visibility(uow, principal).sees_everyone:
            raise NotFound("workflow_writebacks", writeback.key)

    @serves(INBOX)
    def inbox(
        self,
        principal: Principal,
        *,
        operator_id: UUID | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[InboxItem]:
        """An operator's work, oldest first: proposals under review and their reminders due.

        Proposals (``review_required``, high-risk merges among them, each with
        its risk level) and the open reminders assigned to the operator that
        are due now, merged by time. Pages continue with ``next_cursor``. The
        operator is the principal's own user unless ``operator_id`` names
        another, which takes a principal who sees every client.
        """
        now = self.clock.now()
        with self._begin(principal, INBOX) as uow:
            whose = principal.user_id
            if operator_id is not None:
                whose = uow.identity.users.get(operator_id).key
                if (
                    whose != principal.user_id
                    and not self._visibility(uow, principal).sees_everyone
                ):
                    raise PermissionDenied(principal, READ_ALL, INBOX.name)
            return operator_inbox(uow, whose, now, limit=limit, cursor=cursor)


def _expected_result(
    change: ProposedChange, target_class: type[Entity], target: UUID | None
) -> dict[str, Any]:
    """The result an approved change will have when its applier writes its row once."""
    if target is None:
        return {}
    result: dict[str, Any] = {"target_ref": str(target)}
    if issubclass(target_class, VersionedEntity):
        if change.change_kind is ChangeKind.CREATE:
            result["version"] = 1
        elif change.base_version is not None:
            result["version"] = change.base_version + 1
    return result


def _repeated(earlier: Writeback, digest: str, key: str) -> Writeback:
    """The writeback first stored under ``key``, if this request is the same one again."""
    if earlier.change_json.get("request_digest") != digest:
        raise IdempotencyConflict(key, "was used for another request or by another proposer")
    return earlier


class _ClaimLost(Exception):
    """Another executor claimed the writeback first."""


class _Conflict(Exception):
    def __init__(self, error: VelocityError) -> None:
        super().__init__(str(error))
        self.error = error
