"""Import batches (``crm_import_batches``) and their lifecycle.

A batch is ``uploaded`` when submitted, then ``parsed``, ``mapped``,
``proposed``, ``approved`` and ``committed``, as
:data:`velocity_domain.crm.lifecycle.IMPORT_BATCH` allows (which also lets a
reviewer send a ``proposed`` batch back to ``mapped``). ``failed`` ends any
state but ``committed``, with a reason, and a failed batch may be retried from
``uploaded``. Approving a batch takes a reviewer (``crm.imports.review``) who
is not the person who submitted it (four eyes). Every move is an audit event
naming the actor and the time.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import Operation, register
from velocity_domain.access.principal import Principal
from velocity_domain.crm.entities import ImportBatch, ImportBatchStatus
from velocity_domain.crm.lifecycle import IMPORT_BATCH
from velocity_domain.errors import ApprovalRefused, ValidationFailed
from velocity_domain.governance.service import Service, serves
from velocity_domain.kernel.arguments import Version
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Filter, Query, desc
from velocity_domain.uow import UnitOfWork

__all__ = ["ImportBatchService"]

SUBMIT_PERMISSION = "crm.imports.submit"
REVIEW_PERMISSION = "crm.imports.review"
SUBMIT = register("crm.imports.submit", SUBMIT_PERMISSION, "submit an import batch")
ADVANCE = register(
    "crm.imports.advance", SUBMIT_PERMISSION, "move an import batch along its lifecycle"
)
APPROVE = register(
    "crm.imports.approve", REVIEW_PERMISSION, "approve a proposed import batch (four eyes)"
)
FAIL = register("crm.imports.fail", SUBMIT_PERMISSION, "mark an import batch failed, with why")
RETRY = register("crm.imports.retry", SUBMIT_PERMISSION, "start a failed import batch again")
GET = register("crm.imports.get", SUBMIT_PERMISSION, "read one import batch")
LIST = register("crm.imports.list", SUBMIT_PERMISSION, "list import batches")

_I = ImportBatchStatus
#: The moves :meth:`ImportBatchService.advance` makes; ``failed`` and ``uploaded`` have their own.
ADVANCES = frozenset({_I.PARSED, _I.MAPPED, _I.PROPOSED, _I.APPROVED, _I.COMMITTED})


def _target_arg(target: ImportBatchStatus) -> ImportBatchStatus:
    if target is _I.FAILED:
        raise ValidationFailed("to_status", "a batch fails through fail(), with a reason")
    if target is _I.UPLOADED:
        raise ValidationFailed("to_status", "a failed batch starts again through retry()")
    return target


class ImportBatchService(Service):
    """Import batches: submission, their lifecycle moves, failure and retry."""

    @serves(SUBMIT)
    def submit(
        self,
        principal: Principal,
        *,
        source_system: str,
        file_name: str | None = None,
        content_sha256: str | None = None,
        row_count: int = 0,
    ) -> ImportBatch:
        """Record an uploaded import file as a batch in ``uploaded``, submitted by ``principal``."""
        now = self.clock.now()
        return self._create_audited(
            principal,
            SUBMIT,
            lambda _uow: ImportBatch(
                source_system=source_system,
                file_name=file_name,
                content_sha256=content_sha256,
                submitted_by_user_id=principal.user_id,
                row_count=row_count,
                created_at=now,
                updated_at=now,
            ),
            domain="crm",
        )

    @serves(ADVANCE)
    def advance(
        self,
        principal: Principal,
        batch_id: UUID,
        to_status: ImportBatchStatus | str,
        *,
        expected_version: Version,
        mapping: Mapping[str, Any] | None = None,
        stats: Mapping[str, Any] | None = None,
    ) -> ImportBatch:
        """Move a batch forward (or a proposed one back to ``mapped``), as the lifecycle allows.

        ``mapping`` (the column mapping) is given with the move to ``mapped``
        and replaces the batch's; ``stats`` replaces the batch's counts with
        any move. Moving to ``approved`` is :meth:`approve`'s four-eyes rule.
        A move the lifecycle lacks raises ``InvalidTransition`` and changes
        nothing.
        """
        target = _target_arg(ImportBatchStatus(to_status))
        changes: dict[str, Any] = {}
        if mapping is not None:
            if target is not _I.MAPPED:
                raise ValidationFailed("mapping", "is given with the move to mapped")
            changes["mapping_json"] = dict(mapping)
        if stats is not None:
            changes["stats_json"] = dict(stats)
        operation = APPROVE if target is _I.APPROVED else ADVANCE
        return self._move(
            principal, operation, batch_id, target, version=expected_version, changes=changes
        )

    @serves(APPROVE)
    def approve(
        self,
        principal: Principal,
        batch_id: UUID,
        *,
        expected_version: Version,
        stats: Mapping[str, Any] | None = None,
    ) -> ImportBatch:
        """Approve a ``proposed`` batch: a reviewer's move, never the submitter's own.

        Needs ``crm.imports.review``; the person who submitted the batch and
        any automated agent are refused with ``ApprovalRefused``.
        """
        return self.advance(
            principal, batch_id, _I.APPROVED, expected_version=expected_version, stats=stats
        )

    @serves(FAIL)
    def fail(
        self, principal: Principal, batch_id: UUID, *, reason: str, expected_version: Version
    ) -> ImportBatch:
        """Mark a batch ``failed`` with the ``reason`` (from any state but ``committed``)."""
        if not reason.strip():
            raise ValidationFailed("reason", "must say why the batch failed", value=reason)
        changes = {"failure_reason": reason}
        return self._move(
            principal,
            FAIL,
            batch_id,
            _I.FAILED,
            version=expected_version,
            changes=changes,
            reason=reason,
        )

    @serves(RETRY)
    def retry(
        self, principal: Principal, batch_id: UUID, *, expected_version: Version
    ) -> ImportBatch:
        """Start a ``failed`` batch again from ``uploaded``; its failure reason is cleared.

        A failed batch never reached ``committed``, so none of its rows were
        written to the canonical tables; its import rows keep their source
        fingerprints, by which the import gateway recognises rows it has seen.
        """
        changes = {"failure_reason": None}
        return self._move(
            principal, RETRY, batch_id, _I.UPLOADED, version=expected_version, changes=changes
        )

    def _move(
        self,
        principal: Principal,
        operation: Operation,
        key: UUID,
        target: ImportBatchStatus,
        *,
        version: int,
        changes: dict[str, Any],
        reason: str | None = None,
    ) -> ImportBatch:
        with self._begin(principal, operation) as uow:
            before = uow.crm.import_batches.get(key)
            IMPORT_BATCH.transition(before.status, target)
            if target is _I.APPROVED:
                self._check_four_eyes(uow, principal, before)
            after = self._update_audited(
                uow,
                principal,
                operation.name,
                before,
                attrs.evolve(before, status=target, **changes),
                domain="crm",
                expected_version=version,
                reason=reason,
                details={"from": before.status.value, "to": target.value},
            )
            uow.commit()
        return after

    @staticmethod
    def _check_four_eyes(uow: UnitOfWork, principal: Principal, batch: ImportBatch) -> None:
        if principal.is_agent:
            raise ApprovalRefused(batch.key, principal, "an automated agent never approves")
        if principal.user_id is None:
            raise ApprovalRefused(batch.key, principal, "a batch is approved by a named user")
        if batch.submitted_by_user_id == principal.user_id:
            raise ApprovalRefused(
                batch.key, principal, "four eyes: the submitter never approves their own batch"
            )
        prepared = uow.identity.audit_events.count(
            Eq("action", ADVANCE.name),
            Eq("target_ref", str(batch.key)),
            Eq("actor_user_id", principal.user_id),
        )
        if prepared:
            raise ApprovalRefused(
                batch.key,
                principal,
                "four eyes: they prepared the batch (parsed, mapped or proposed)",
            )

    @serves(GET)
    def get(self, principal: Principal, batch_id: UUID) -> ImportBatch:
        """Read one import batch."""
        with self._begin(principal, GET) as uow:
            return uow.crm.import_batches.get(batch_id)

    @serves(LIST)
    def list(
        self,
        principal: Principal,
        *,
        status: ImportBatchStatus | str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[ImportBatch]:
        """List import batches, newest first, optionally in one status."""
        where: builtins.list[Filter] = []
        if status is not None:
            where.append(Eq("status", ImportBatchStatus(status)))
        with self._begin(principal, LIST) as uow:
            order = (desc("created_at"), desc("import_batch_id"))
            return uow.crm.import_batches.list(Query(where, order, limit, cursor))
