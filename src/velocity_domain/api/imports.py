"""``/api/crm/imports``: files brought in through the import gateway (domain: crm).

A client sends the file itself as the body of ``POST /api/crm/imports``
(``text/csv`` or ``application/x-ndjson``, the options as query
parameters) and gets back the ``parsed`` batch. It then reviews the
suggested mapping (``mapping_json["columns"]`` of ``GET .../{batch_id}``)
and confirms or edits it
(``POST .../map``), has the rows matched (``POST .../propose``), pages
through the rows with their outcome and reasons (``GET .../rows``), sets rows
aside (``POST .../review-rows``), approves or rejects the proposals and
commits. ``GET .../errors`` is the file's bad rows as CSV, ``GET
.../replay`` the batch's whole history. Every step is a call of
``velocity.imports`` (:class:`~velocity_domain.imports.gateway.ImportGateway`),
with that operation's permission.
"""

from __future__ import annotations

import io
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.api.routing import (
    Call,
    Created,
    Download,
    Family,
    Param,
    Route,
    page_params,
)
from velocity_domain.crm.entities import (
    ImportBatch,
    ImportBatchStatus,
    ImportOutcome,
    ImportRow,
    ImportRowStatus,
)
from velocity_domain.errors import (
    ApprovalRefused,
    ConcurrencyConflict,
    InvalidTransition,
    NotFound,
    UnreadableImport,
    ValidationFailed,
)
from velocity_domain.identity.entities import AuditEvent
from velocity_domain.workflow.entities import Approval, PolicyDecision, Writeback

__all__ = [
    "FAMILY",
    "MEDIA_FORMATS",
    "BatchApproval",
    "BatchFailure",
    "BatchRejection",
    "BatchReplay",
    "BatchUndo",
    "ColumnRuleDocument",
    "MapRequest",
    "MappingDocument",
    "ProposalHistory",
    "RowCount",
    "RowDecisions",
    "RowsReviewed",
]

PREFIX = "/api/crm/imports"

#: The media types a file may be sent as, and the gateway's format for each.
MEDIA_FORMATS: dict[str, str] = {"text/csv": "csv", "application/x-ndjson": "jsonl"}


# -- request and response types -------------------------------------------------------------


@attrs.frozen
class ColumnRuleDocument:
    """Where one column of the file goes: ``target`` (``null`` ignores the column).

    ``target`` is one of full_name, first_name, middle_name, last_name,
    email, phone, mobile, company, source_ref, lead_source, lead_status,
    stage, owner, created_at, budget, budget_min, budget_max, interest,
    configuration, notes or city. ``reason`` and ``confidence`` say why the
    gateway suggested it; an edited rule may leave them out.
    """

    column: str
    target: str | None = None
    reason: str = ""
    confidence: float = 1.0


@attrs.frozen
class MappingDocument:
    """A batch's column mapping (its ``mapping_json["columns"]``), as ``POST .../map`` takes it.

    ``columns`` has one rule per column of the file, in file order;
    ``default_region`` is the region of phone numbers written without a
    country code (it also decides the date order), ``currency`` that of
    budgets written without one; the vocabularies map a status or stage
    text to a lead status or an opportunity stage (left out: the defaults).
    """

    columns: tuple[ColumnRuleDocument, ...]
    version: int = 1
    default_region: str = "IN"
    currency: str = "INR"
    status_vocabulary: dict[str, str] | None = None
    stage_vocabulary: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        """The document as ``ColumnMapping.from_json`` reads it (no vocabulary: the default)."""
        doc = {
            "version": self.version,
            "columns": [
                {
                    "column": rule.column,
                    "target": rule.target,
                    "reason": rule.reason,
                    "confidence": rule.confidence,
                }
                for rule in self.columns
            ],
            "default_region": self.default_region,
            "currency": self.currency,
        }
        if self.status_vocabulary is not None:
            doc["status_vocabulary"] = dict(self.status_vocabulary)
        if self.stage_vocabulary is not None:
            doc["stage_vocabulary"] = dict(self.stage_vocabulary)
        return doc


@attrs.frozen
class MapRequest:
    """Confirm the suggested mapping (``{}``) or replace it with an edited ``mapping``.

    The rows are mapped again when the mapping changed (or the batch came
    back from review).
    """

    mapping: MappingDocument | None = None


@attrs.frozen
class RowDecisions:
    """Rows of a ``proposed`` batch to set aside (``reject``) or bring back (``restore``).

    Rows are named by their ``row_number``; a row set aside is never written.
    """

    reject: tuple[int, ...] = ()
    restore: tuple[int, ...] = ()


@attrs.frozen
class RowsReviewed:
    """What a row review did: how many rows changed status."""

    import_batch_id: UUID
    changed: int


def _outcomes(value: Any) -> tuple[ImportOutcome, ...] | None:
    """The outcomes a decision names, as members (a word that is none: refused, named)."""
    if value is None:
        return None
    try:
        return tuple(ImportOutcome(item) for item in value)
    except (TypeError, ValueError):
        allowed = ", ".join(o.value for o in ImportOutcome)
        raise ValidationFailed("outcomes", f"must be a list of: {allowed}", value=value) from None


@attrs.frozen
class BatchApproval:
    """Approve the batch's proposals under review: all, or those of ``outcomes``."""

    outcomes: tuple[ImportOutcome, ...] | None = attrs.field(default=None, converter=_outcomes)
    comment: str | None = None


@attrs.frozen
class BatchRejection:
    """Reject the batch's undecided proposals (all, or those of ``outcomes``), saying why."""

    comment: str
    outcomes: tuple[ImportOutcome, ...] | None = attrs.field(default=None, converter=_outcomes)


@attrs.frozen
class BatchFailure:
    """Mark a batch failed: why."""

    reason: str


@attrs.frozen
class BatchUndo:
    """Propose taking a committed batch back: why."""

    reason: str


@attrs.frozen
class ProposalHistory:
    """One proposal of a batch with the policy's decisions on it and its approvals."""

    proposal: Writeback
    decisions: tuple[PolicyDecision, ...]
    approvals: tuple[Approval, ...]


@attrs.frozen
class RowCount:
    """How many rows of a batch have one outcome and one status."""

    outcome: ImportOutcome
    status: ImportRowStatus
    rows: int


@attrs.frozen
class BatchReplay:
    """A batch as it happened: its audit events (oldest first), proposals and row counts."""

    batch: ImportBatch
    events: tuple[AuditEvent, ...]
    proposals: tuple[ProposalHistory, ...]
    rows: tuple[RowCount, ...]


# -- handlers ---------------------------------------------------------------------------------


def _location(batch: ImportBatch) -> str:
    return f"{PREFIX}/{batch.import_batch_id}"


def _list(call: Call) -> Any:
    return call.velocity.imports.list(call.principal, **call.query("status", "limit", "cursor"))


def _submit(call: Call) -> Created:
    imports = call.velocity.imports
    media_type = (call.media_type or "").lower()
    if media_type not in MEDIA_FORMATS:  # pragma: no cover - the route admits only these
        raise ValidationFailed("Content-Type", "must be text/csv or application/x-ndjson")
    if not call.params.get("source_system"):
        raise ValidationFailed("source_system", "is required: say where the rows come from")
    mapping = None
    if call.params.get("mapping_from") is not None:
        try:
            earlier = imports.get(call.principal, call["mapping_from"])
        except NotFound:
            raise ValidationFailed(
                "mapping_from", "names no import batch", value=call["mapping_from"]
            ) from None
        mapping = earlier.mapping_json.get("columns")
    batch = imports.submit(
        call.principal,
        call.content,
        format=MEDIA_FORMATS[media_type],
        mapping=mapping,
        source_system=call["source_system"],
        default_region=call["default_region"],
        currency=call["currency"],
        encoding=call.params.get("encoding") or call.charset,
        **call.query("file_name", "delimiter", "assign_to"),
    )
    return Created(batch, _location(batch))


def _get(call: Call) -> ImportBatch:
    return call.velocity.imports.get(call.principal, call["batch_id"])


def _map(call: Call) -> ImportBatch:
    assert call.version is not None  # a conditional route always has one
    chosen = call.body.mapping
    return call.velocity.imports.map(
        call.principal,
        call["batch_id"],
        expected_version=call.version,
        mapping=None if chosen is None else chosen.to_json(),
    )


def _propose(call: Call) -> ImportBatch:
    assert call.version is not None
    return call.velocity.imports.propose(
        call.principal, call["batch_id"], expected_version=call.version
    )


def _rows(call: Call) -> Any:
    return call.velocity.imports.rows(
        call.principal, call["batch_id"], **call.query("outcome", "status", "limit", "cursor")
    )


def _review_rows(call: Call) -> RowsReviewed:
    changed = call.velocity.imports.review_rows(
        call.principal, call["batch_id"], reject=call.body.reject, restore=call.body.restore
    )
    return RowsReviewed(call["batch_id"], changed)


def _approve(call: Call) -> ImportBatch:
    return call.velocity.imports.approve(
        call.principal, call["batch_id"], outcomes=call.body.outcomes, comment=call.body.comment
    )


def _reject(call: Call) -> ImportBatch:
    return call.velocity.imports.reject(
        call.principal, call["batch_id"], comment=call.body.comment, outcomes=call.body.outcomes
    )


def _commit(call: Call) -> ImportBatch:
    return call.velocity.imports.commit(call.principal, call["batch_id"])


def _undo(call: Call) -> Created:
    proposal = call.velocity.imports.undo(call.principal, call["batch_id"], reason=call.body.reason)
    return Created(proposal, f"/api/workflow/writebacks/{proposal.writeback_id}")


def _fail(call: Call) -> ImportBatch:
    assert call.version is not None
    return call.velocity.imports.fail(
        call.principal, call["batch_id"], reason=call.body.reason, expected_version=call.version
    )


def _retry(call: Call) -> ImportBatch:
    assert call.version is not None
    return call.velocity.imports.retry(
        call.principal, call["batch_id"], expected_version=call.version
    )


def _errors(call: Call) -> Download:
    out = io.StringIO(newline="")
    call.velocity.imports.write_errors(call.principal, call["batch_id"], out)
    return Download(
        out.getvalue().encode("utf-8"),
        "text/csv; charset=utf-8",
        f"import-{call['batch_id']}-errors.csv",
    )


def _replay(call: Call) -> BatchReplay:
    found = call.velocity.imports.replay(call.principal, call["batch_id"])
    return BatchReplay(
        batch=found.batch,
        events=found.events,
        proposals=tuple(
            ProposalHistory(proposal, decisions, approvals)
            for proposal, decisions, approvals in found.proposals
        ),
        rows=tuple(
            RowCount(ImportOutcome(outcome), ImportRowStatus(status), count)
            for (outcome, status), count in found.rows.items()
        ),
    )


def _unresolved(call: Call) -> Any:
    return call.velocity.imports.unresolved(call.principal, **call.query("limit", "cursor"))


# -- the family -------------------------------------------------------------------------------

_ID = Param("batch_id", UUID, where="path", description="the batch's import_batch_id")
_LIFECYCLE = (InvalidTransition,)

FAMILY = Family(
    name="crm.imports",
    domain="crm",
    prefix=PREFIX,
    summary=(
        "Imports: a file sent as the body, its mapping and rows reviewed, its changes"
        " proposed, approved (four eyes) and committed; its bad rows and history read back."
    ),
    routes=(
        Route(
            "GET",
            "",
            "crm.imports.list",
            "List import batches, newest first, optionally in one status.",
            _list,
            params=(Param("status", ImportBatchStatus | None), *page_params()),
            returns=ImportBatch,
            many=True,
        ),
        Route(
            "POST",
            "",
            "crm.imports.submit",
            "Submit a file (the body: text/csv or application/x-ndjson); answers the parsed batch.",
            _submit,
            params=(
                # Required, but declared optional so that its absence is refused
                # naming it (the framework's own refusal names no parameter).
                Param(
                    "source_system",
                    str | None,
                    description="required: where the rows come from (stored on every person)",
                ),
                Param("file_name", str | None, description="the file's name, as a label"),
                Param("encoding", str | None, description="the file's encoding (else detected)"),
                Param("delimiter", str | None, description="the CSV delimiter (else , ; TAB or |)"),
                Param(
                    "default_region",
                    str,
                    default="IN",
                    description="the region of phone numbers written without a country code",
                ),
                Param(
                    "currency",
                    str,
                    default="INR",
                    description="the currency of budgets written without one",
                ),
                Param(
                    "assign_to",
                    UUID | None,
                    description="the user imported people are assigned to (default: you)",
                ),
                Param(
                    "mapping_from",
                    UUID | None,
                    description="reuse the reviewed mapping of this earlier batch",
                ),
            ),
            returns=ImportBatch,
            status=201,
            errors=(UnreadableImport,),
            upload=tuple(MEDIA_FORMATS),
        ),
        Route(
            "GET",
            "/unresolved",
            "crm.imports.unresolved",
            "List import proposals still waiting for a decision, oldest first.",
            _unresolved,
            params=page_params(),
            returns=Writeback,
            many=True,
        ),
        Route(
            "GET",
            "/{batch_id}",
            "crm.imports.get",
            "Read one import batch: its status, counts, mapping and statistics.",
            _get,
            params=(_ID,),
            returns=ImportBatch,
        ),
        Route(
            "POST",
            "/{batch_id}/map",
            "crm.imports.map",
            "Confirm the suggested mapping ({}) or replace it; the batch moves to mapped.",
            _map,
            params=(_ID,),
            body=MapRequest,
            returns=ImportBatch,
            conditional=True,
            errors=(ConcurrencyConflict, *_LIFECYCLE),
        ),
        Route(
            "POST",
            "/{batch_id}/propose",
            "crm.imports.propose",
            "Match every row and propose the batch's changes; the batch moves to proposed.",
            _propose,
            params=(_ID,),
            returns=ImportBatch,
            conditional=True,
            errors=(ConcurrencyConflict, *_LIFECYCLE),
        ),
        Route(
            "GET",
            "/{batch_id}/rows",
            "crm.imports.rows",
            "Page through the batch's rows in file order, with outcome, evidence and errors.",
            _rows,
            params=(
                _ID,
                Param("outcome", ImportOutcome | None),
                Param("status", ImportRowStatus | None),
                *page_params(),
            ),
            returns=ImportRow,
            many=True,
        ),
        Route(
            "POST",
            "/{batch_id}/review-rows",
            "crm.imports.review_rows",
            "Set rows of a proposed batch aside, or bring them back, by row number.",
            _review_rows,
            params=(_ID,),
            body=RowDecisions,
            returns=RowsReviewed,
            errors=_LIFECYCLE,
        ),
        Route(
            "POST",
            "/{batch_id}/approve",
            "crm.imports.approve_batch",
            "Approve the batch's proposals under review (never the submitter's or preparer's).",
            _approve,
            params=(_ID,),
            body=BatchApproval,
            returns=ImportBatch,
            errors=(ApprovalRefused, *_LIFECYCLE),
        ),
        Route(
            "POST",
            "/{batch_id}/reject",
            "crm.imports.reject_batch",
            "Reject the batch's undecided proposals, saying why.",
            _reject,
            params=(_ID,),
            body=BatchRejection,
            returns=ImportBatch,
            errors=_LIFECYCLE,
        ),
        Route(
            "POST",
            "/{batch_id}/commit",
            "crm.imports.commit",
            "Write the batch's approved changes, each once; committed when all are decided.",
            _commit,
            params=(_ID,),
            returns=ImportBatch,
            errors=_LIFECYCLE,
        ),
        Route(
            "POST",
            "/{batch_id}/undo",
            "crm.imports.undo",
            "Propose taking a committed batch back; answers the proposal (Location: its address).",
            _undo,
            params=(_ID,),
            body=BatchUndo,
            returns=Writeback,
            status=201,
            errors=_LIFECYCLE,
        ),
        Route(
            "POST",
            "/{batch_id}/fail",
            "crm.imports.fail",
            "Mark the batch failed, saying why (from any state but committed).",
            _fail,
            params=(_ID,),
            body=BatchFailure,
            returns=ImportBatch,
            conditional=True,
            errors=(ConcurrencyConflict, *_LIFECYCLE),
        ),
        Route(
            "POST",
            "/{batch_id}/retry",
            "crm.imports.retry",
            "Start a failed batch again from uploaded (then map it again).",
            _retry,
            params=(_ID,),
            returns=ImportBatch,
            conditional=True,
            errors=(ConcurrencyConflict, *_LIFECYCLE),
        ),
        Route(
            "GET",
            "/{batch_id}/errors",
            "crm.imports.errors",
            "Download the batch's invalid rows as CSV: the file's columns, the row and the error.",
            _errors,
            params=(_ID,),
            returns=str,
            media_type="text/csv",
        ),
        Route(
            "GET",
            "/{batch_id}/replay",
            "crm.imports.replay",
            "The batch's history: every move and edit with actor and time, proposals, row counts.",
            _replay,
            params=(_ID,),
            returns=BatchReplay,
        ),
    ),
)
