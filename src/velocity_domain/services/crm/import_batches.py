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
from velocity_domain.kernel.query import Eq, Filter, In, Query, desc
from velocity_domain.uow import UnitOfWork

__all__ = ["ImportBatchService"]

SUBMIT_PERMISSION = "crm.imports.submit"
REVIEW_PERMISSION = "crm.imports.review"
SUBMIT = register("crm.imports.submit", SUBMIT_PERMISSION, "submit an import batch")
FAIL = register("crm.imports.fail", SUBMIT_PERMISSION, "mark an import batch failed, with why")
RETRY = register("crm.imports.retry", SUBMIT_PERMISSION, "start a failed import batch again")
GET = register("crm.imports.get", SUBMIT_PERMISSION, "read one import batch")
LIST = register("crm.imports.list", SUBMIT_PERMISSION, "list import batches")

_I = ImportBatchStatus
#: The audit actions of preparing a batch: whoever made one of them never approves it.
PREPARING = tuple(f"crm.imports.{s.value}" for s in (_I.PARSED, _I.MAPPED, _I.PROPOSED))


class ImportBatchService(Service):
    """Import batches: their failure, retry and reads; the gateway above moves them along."""

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
            after = self._move_in(
                uow,
                principal,
                before,
                target,
                action=operation.name,
                expected_version=version,
                reason=reason,
                **changes,
            )
            uow.commit()
        return after

    def _move_in(
        self,
        uow: UnitOfWork,
        principal: Principal,
        batch: ImportBatch,
        target: ImportBatchStatus,
        *,
        action: str | None = None,
        expected_version: int | None = None,
        reason: str | None = None,
        **changes: Any,
    ) -> ImportBatch:
        """Move ``batch`` to ``target`` inside ``uow``, as the lifecycle allows, audited.

        The audit action is ``action`` (default ``crm.imports.<target>``); the
        batch must still be at ``expected_version`` (default: as read).
        """
        IMPORT_BATCH.transition(batch.status, target)
        return self._update_audited(
            uow,
            principal,
            action or f"crm.imports.{target.value}",
            batch,
            attrs.evolve(batch, status=target, **changes),
            domain="crm",
            expected_version=batch.version if expected_version is None else expected_version,
            reason=reason,
            details={"from": batch.status.value, "to": target.value},
        )

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
            In("action", PREPARING),
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
