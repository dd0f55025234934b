"""Reading an import batch back: its rows, its bad rows as CSV, its history, what awaits review.

:class:`ImportHistory` is the read side of the import gateway (the spec's
list of unresolved import proposals and its replay query, sections 10 and
11); :class:`~velocity_domain.imports.gateway.ImportGateway` builds on it.
"""

from __future__ import annotations

import builtins
import csv
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.crm.entities import (
    ImportBatch,
    ImportOutcome,
    ImportRow,
    ImportRowStatus,
)
from velocity_domain.errors import ValidationFailed
from velocity_domain.governance.service import serves
from velocity_domain.identity.entities import AuditEvent
from velocity_domain.imports import pipeline
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Filter, In, Query, asc
from velocity_domain.kernel.repository import every
from velocity_domain.services.crm.import_batches import (
    REVIEW_PERMISSION,
    SUBMIT_PERMISSION,
    ImportBatchService,
)
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import (
    Approval,
    PolicyDecision,
    Writeback,
    WritebackStatus,
)

__all__ = ["ImportHistory", "ImportReplay"]

ROWS = register("crm.imports.rows", SUBMIT_PERMISSION, "read the rows of an import batch")
ERRORS = register("crm.imports.errors", SUBMIT_PERMISSION, "download an import batch's bad rows")
REPLAY = register("crm.imports.replay", SUBMIT_PERMISSION, "replay an import batch's history")
UNRESOLVED = register(
    "crm.imports.unresolved", REVIEW_PERMISSION, "list import proposals awaiting a decision"
)

_O, _S = ImportOutcome, ImportRowStatus


@attrs.frozen
class ImportReplay:
    """An import batch with its history: the answer of :meth:`ImportGateway.replay`.

    ``events`` are the audit events naming the batch (each lifecycle move,
    mapping edit, row review, commit and undo with actor and time), oldest
    first; ``proposals`` pair each proposal with its policy decisions and
    approvals; ``rows`` counts rows by ``(outcome, status)``.
    """

    batch: ImportBatch
    events: tuple[AuditEvent, ...]
    proposals: tuple[tuple[Writeback, tuple[PolicyDecision, ...], tuple[Approval, ...]], ...]
    rows: dict[tuple[str, str], int]


class ImportHistory(ImportBatchService):
    """The reads of import batches: rows, the error file, the replay, unresolved proposals."""

    @serves(ROWS)
    def rows(
        self,
        principal: Principal,
        batch_id: UUID,
        *,
        outcome: ImportOutcome | str | None = None,
        status: ImportRowStatus | str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[ImportRow]:
        """The batch's rows in file order, optionally of one outcome or status, a page at a time."""
        where: builtins.list[Filter] = [Eq("import_batch_id", batch_id)]
        if outcome is not None:
            where.append(Eq("outcome", ImportOutcome(outcome)))
        if status is not None:
            where.append(Eq("status", ImportRowStatus(status)))
        with self._reading(principal, ROWS) as uow:
            uow.crm.import_batches.get(batch_id)
            return uow.crm.import_rows.list(Query(where, (asc("row_number"),), limit, cursor))

    @serves(ERRORS)
    def write_errors(self, principal: Principal, batch_id: UUID, out: Any) -> int:
        """Write the batch's invalid rows to ``out`` as CSV: the file's columns, then ``error``.

        What every CRM importer offers: fix the rows in a spreadsheet and
        import the file again. Returns how many rows were written.
        """
        if not callable(getattr(out, "write", None)):
            raise ValidationFailed("out", "must be a text stream (something with a write method)")
        with self._reading(principal, ERRORS) as uow:
            batch = uow.crm.import_batches.get(batch_id)
            headers = [str(h) for h in batch.stats_json.get("headers", [])]
            writer = csv.writer(out)
            writer.writerow([*headers, "row", "error"])
            written = 0
            for chunk in pipeline.batch_rows(uow, batch_id, Eq("status", _S.INVALID)):
                for row in chunk:
                    raw = row.raw_json
                    cells = [raw.get(h, "") for h in headers]
                    writer.writerow([*cells, row.row_number, row.error_reason or ""])
                    written += 1
        return written

    @serves(REPLAY)
    def replay(self, principal: Principal, batch_id: UUID) -> ImportReplay:
        """The batch as it happened: source, mapping and its edits, outcomes, moves and approvals.

        The replay query of spec section 11: every lifecycle move and mapping
        edit (audit events with actor and time, oldest first), each proposal
        with its policy decision and approvals, and the count of rows by
        outcome and status. The rows themselves page through :meth:`rows`.
        """
        with self._reading(principal, REPLAY) as uow:
            batch = uow.crm.import_batches.get(batch_id)
            events = list(
                every(
                    uow.identity.audit_events,
                    Eq("target_ref", str(batch_id)),
                    order=(asc("occurred_at"),),
                )
            )
            reviews = []
            for proposal in self._proposals(uow, batch).values():
                decisions = every(uow.workflow.policy_decisions, Eq("writeback_id", proposal.key))
                votes = every(uow.workflow.approvals, Eq("writeback_id", proposal.key))
                reviews.append((proposal, tuple(decisions), tuple(votes)))
            counts: dict[tuple[str, str], int] = {}
            for outcome in ImportOutcome:
                for status in ImportRowStatus:
                    held = uow.crm.import_rows.count(
                        Eq("import_batch_id", batch_id),
                        Eq("outcome", outcome),
                        Eq("status", status),
                    )
                    if held:
                        counts[(outcome.value, status.value)] = held
        return ImportReplay(batch, tuple(events), tuple(reviews), counts)

    @serves(UNRESOLVED)
    def unresolved(
        self, principal: Principal, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Writeback]:
        """Import proposals still waiting for a decision, oldest first (spec section 10)."""
        where = (
            Eq("target_table", ImportBatch.table_name),
            In("status", (WritebackStatus.DRAFT, WritebackStatus.REVIEW_REQUIRED)),
        )
        with self._reading(principal, UNRESOLVED) as uow:
            order = (asc("created_at"), asc("writeback_id"))
            return uow.workflow.writebacks.list(Query(where, order, limit, cursor))

    @staticmethod
    def _proposals(uow: UnitOfWork, batch: ImportBatch) -> dict[ImportOutcome, Writeback]:
        ids = {_O(o): UUID(k) for o, k in batch.stats_json.get("proposals", {}).items()}
        found = uow.workflow.writebacks.get_many(ids.values())
        return {o: found[k] for o, k in ids.items() if k in found}
