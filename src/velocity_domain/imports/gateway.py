"""The import gateway (spec sections 6-11): files in, mapped, matched, reviewed, committed.

A batch goes ``uploaded`` → ``parsed`` → ``mapped`` → ``proposed`` →
``approved`` → ``committed`` (or ``failed`` with a reason):

- :meth:`ImportGateway.submit` reads the file as a stream, records the batch
  (source system, file name, size, SHA-256, submitter) and stores every row
  with its raw values, mapped by the mapping suggested from the headers and
  sample values; a row that cannot be read or mapped is kept with its reason;
- :meth:`~ImportGateway.map` accepts the suggestion or an edited mapping (the
  rows are mapped again only when it changed);
- :meth:`~ImportGateway.propose` matches every row against canonical people
  and the file's earlier rows (:mod:`.matching`) and files one proposal per
  outcome that writes something (new, update, possible duplicate): the
  writeback policy approves low-risk creates at once and sends updates and
  possible duplicates to the operator inbox;
- reviewers set rows aside (:meth:`~ImportGateway.review_rows`) and approve or
  reject whole outcomes (:meth:`~ImportGateway.approve`,
  :meth:`~ImportGateway.reject`); nobody approves their own batch;
- :meth:`~ImportGateway.commit` executes the approved proposals, each exactly
  once, with every canonical row traceable to its import row;
- :meth:`~ImportGateway.undo` proposes taking a committed batch back.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.crm.entities import (
    ImportBatch,
    ImportBatchStatus,
    ImportOutcome,
    ImportRowStatus,
)
from velocity_domain.crm.lifecycle import IMPORT_BATCH
from velocity_domain.errors import (
    ConcurrencyConflict,
    InvalidTransition,
    UnreadableImport,
    ValidationFailed,
)
from velocity_domain.governance import approvals, engine
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.engine import Governance
from velocity_domain.governance.service import serves
from velocity_domain.governance.writebacks import WritebackService
from velocity_domain.imports import committing, pipeline
from velocity_domain.imports.history import ImportHistory, ImportReplay
from velocity_domain.imports.mapping import ColumnMapping, suggest_mapping
from velocity_domain.imports.sources import open_source
from velocity_domain.kernel.arguments import Version
from velocity_domain.kernel.clock import Clock
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.query import Eq
from velocity_domain.services.crm.import_batches import (
    REVIEW_PERMISSION,
    SUBMIT,
    SUBMIT_PERMISSION,
)
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import (
    ChangeKind,
    Writeback,
    WritebackStatus,
)

__all__ = ["COMMIT", "UNDO", "ImportGateway", "ImportProgress", "ImportReplay"]

MAP = register("crm.imports.map", SUBMIT_PERMISSION, "confirm or edit an import batch's mapping")
PROPOSE = register(
    "crm.imports.propose", SUBMIT_PERMISSION, "match an import batch and propose its changes"
)
REVIEW_ROWS = register(
    "crm.imports.review_rows", REVIEW_PERMISSION, "set rows of an import batch aside or back"
)
APPROVE_BATCH = register(
    "crm.imports.approve_batch", REVIEW_PERMISSION, "approve an import batch's proposals"
)
REJECT_BATCH = register(
    "crm.imports.reject_batch", REVIEW_PERMISSION, "reject an import batch's proposals"
)
COMMIT = register(
    "crm.imports.commit", SUBMIT_PERMISSION, "write an import batch's approved changes"
)
UNDO = register("crm.imports.undo", SUBMIT_PERMISSION, "take a committed import batch back")

_B, _O, _S = ImportBatchStatus, ImportOutcome, ImportRowStatus
#: The outcomes that write something, each carried by one proposal per batch.
WRITING = (_O.NEW, _O.UPDATE, _O.DUPLICATE)

#: ``progress(ImportProgress)``: how far a long step has come.
ProgressCallback = Callable[["ImportProgress"], None]


@attrs.frozen
class ImportProgress:
    """How far a step of an import has come: ``stage`` is parsed, mapped, matched or committed."""

    batch_id: UUID
    stage: str
    rows: int


class ImportGateway(ImportHistory):
    """Import files through the governed flow: submit, map, propose, review, commit, undo."""

    def __init__(
        self,
        unit_of_work: Callable[..., UnitOfWork],
        clock: Clock,
        governance: Governance | None = None,
        *,
        writebacks: WritebackService | None = None,
    ) -> None:
        super().__init__(unit_of_work, clock, governance)
        self._writebacks = writebacks or WritebackService(unit_of_work, clock, self.governance)
        self._local = threading.local()  # the progress callback of this thread's commit

    # -- submit, map, propose -------------------------------------------------

    @serves(SUBMIT)
    def submit(
        self,
        principal: Principal,
        source: Any,
        *,
        source_system: str,
        file_name: str | None = None,
        format: str | None = None,
        encoding: str | None = None,
        delimiter: str | None = None,
        mapping: Mapping[str, Any] | None = None,
        default_region: str = "IN",
        currency: str = "INR",
        assign_to: UUID | None = None,
        progress: ProgressCallback | None = None,
    ) -> ImportBatch:
        """Read ``source`` and store it as a ``parsed`` batch with a suggested mapping.

        ``source`` is a path, bytes, a binary file object, or an iterable of
        mappings (rows from code). The format, encoding and delimiter are
        detected unless given. Every row is stored with its raw values and
        mapped by ``mapping`` (a mapping document, as :meth:`map` takes) or
        else by the mapping suggested from the headers and the first rows'
        values; ``assign_to`` names the user the imported people and leads
        will be assigned to (default: the submitter). A file that cannot be
        read at all raises ``UnreadableImport`` and stores nothing.
        """
        if isinstance(source, str | os.PathLike) and file_name is None:
            file_name = os.path.basename(os.fspath(source)) or None
        opened = open_source(
            source, format=format, encoding=encoding, delimiter=delimiter, file_name=file_name
        )
        with opened:
            info = opened.info
            _check_header(info.headers)
            if mapping is not None:
                chosen = ColumnMapping.from_json(mapping)
            else:
                sample = [r.values for r in _first(opened.rows(), 200) if r.error is None]
                chosen = suggest_mapping(
                    info.headers, sample, default_region=default_region, currency=currency
                )
            assignee = assign_to or principal.user_id
            now = self.clock.now()
            stats = {
                "byte_size": info.byte_size,
                "format": info.format,
                "encoding": info.encoding,
                "delimiter": info.delimiter,
                "headers": list(info.headers),
            }

            def build(uow: UnitOfWork) -> ImportBatch:
                if assign_to is not None and uow.identity.users.find(assign_to) is None:
                    raise ValidationFailed("assign_to", "names no user", value=assign_to)
                return ImportBatch(
                    source_system=source_system,
                    file_name=file_name,
                    content_sha256=info.content_sha256,
                    submitted_by_user_id=principal.user_id,
                    mapping_json=_mapping_doc(chosen, assignee),
                    stats_json=stats,
                    created_at=now,
                    updated_at=now,
                )

            batch = self._create_audited(principal, SUBMIT, build, domain="crm")
            tell = _teller(batch.key, progress)
            with self._begin(principal, SUBMIT) as uow:
                counts = pipeline.store_rows(uow, batch, opened.rows(), chosen, now, tell)
                batch = self._move_in(
                    uow,
                    principal,
                    batch,
                    _B.PARSED,
                    row_count=counts["rows"],
                    stats_json={**batch.stats_json, "parsed": counts},
                )
                uow.commit()
        return batch

    @serves(MAP)
    def map(
        self,
        principal: Principal,
        batch_id: UUID,
        *,
        expected_version: Version,
        mapping: Mapping[str, Any] | None = None,
        progress: ProgressCallback | None = None,
    ) -> ImportBatch:
        """Confirm the batch's mapping, or replace it with an edited one and map the rows again.

        ``mapping`` is a document as :meth:`ColumnMapping.to_json` makes
        (the suggestion, edited); the edit is kept in the audit trail.
        """
        with self._begin(principal, MAP) as uow:
            batch = self._batch(uow, batch_id, expected_version, None)
            again = batch.status is not _B.PARSED  # retried, or sent back from review
            if batch.status is _B.UPLOADED:
                batch = self._move_in(uow, principal, batch, _B.PARSED)
            elif batch.status is _B.PROPOSED:
                self._withdraw(uow, principal, batch, "the batch went back to mapping")
            IMPORT_BATCH.transition(batch.status, _B.MAPPED)
            current = ColumnMapping.from_json(batch.mapping_json["columns"])
            edited = current if mapping is None else ColumnMapping.from_json(mapping)
            stats = dict(batch.stats_json)
            doc = dict(batch.mapping_json)
            if again or edited != current:
                counts = pipeline.remap_rows(uow, batch, edited, _teller(batch_id, progress))
                stats["parsed"] = counts
                stats.pop("proposals", None)
                stats.pop("outcomes", None)
                doc = {**doc, "columns": edited.to_json(), "edited": edited != current}
            batch = self._move_in(
                uow, principal, batch, _B.MAPPED, mapping_json=doc, stats_json=stats
            )
            uow.commit()
        return batch

    @serves(PROPOSE)
    def propose(
        self,
        principal: Principal,
        batch_id: UUID,
        *,
        expected_version: Version,
        progress: ProgressCallback | None = None,
    ) -> ImportBatch:
        """Match every row and file one proposal per writing outcome, classified by the policy.

        The batch moves to ``proposed``; its ``stats_json`` holds the count
        of each outcome and the proposal of each (``proposals``). A proposal
        the policy approves at once is ready to commit; the others wait in
        the operator inbox.
        """
        with self._begin(principal, PROPOSE) as uow:
            batch = self._batch(uow, batch_id, expected_version, _B.PROPOSED)
            ids = {outcome: new_id() for outcome in WRITING}
            tell = _teller(batch_id, progress)
            counts = pipeline.match_rows(
                uow, batch, ids, tell, now=self.clock.now(), rules=self.governance.person_rules
            )
            counts[_O.INVALID.value] = batch.stats_json.get("parsed", {}).get("invalid", 0)
            proposals: dict[str, str] = {}
            for outcome in WRITING:
                if counts[outcome.value]:
                    proposal = self._file(uow, principal, batch, outcome, counts, ids[outcome])
                    proposals[outcome.value] = str(proposal.key)
            stats = {**batch.stats_json, "outcomes": counts, "proposals": proposals}
            batch = self._move_in(uow, principal, batch, _B.PROPOSED, stats_json=stats)
            batch = self._settle(uow, principal, batch)  # the policy approved it all
            uow.commit()
        return batch

    def _file(  # noqa: PLR0917
        self,
        uow: UnitOfWork,
        principal: Principal,
        batch: ImportBatch,
        outcome: ImportOutcome,
        counts: Mapping[str, int],
        key: UUID,
    ) -> Writeback:
        change = ProposedChange(
            operation=COMMIT.name,
            target_table=ImportBatch.table_name,
            change_kind=ChangeKind.UPDATE,
            target_ref=batch.key,
            base_version=batch.version,
            fields={"status": _B.COMMITTED.value},
            current={"status": _B.PROPOSED.value},
            context={
                "outcome": outcome.value,
                "rows": counts[outcome.value],
                "source_system": batch.source_system,
                "file_name": batch.file_name,
            },
        )
        verdict = self.governance.verdict(change, principal)
        draft = engine.store(
            uow,
            self.clock,
            principal,
            change,
            proposal_ref=f"import:{batch.key}:{outcome.value}",
            writeback_id=key,
        )
        return engine.classify(uow, self.clock, principal, draft, verdict)

    # -- review ---------------------------------------------------------------

    @serves(REVIEW_ROWS)
    def review_rows(
        self,
        principal: Principal,
        batch_id: UUID,
        *,
        reject: Iterable[int] = (),
        restore: Iterable[int] = (),
    ) -> int:
        """Set proposed rows aside (``reject``, by row number) or bring them back; count changed.

        A row set aside is never written; the rest of its outcome still is.
        Only while the batch is ``proposed``.
        """
        out, back = sorted(set(reject)), sorted(set(restore))
        if set(out) & set(back):
            raise ValidationFailed("restore", "names rows that reject also names")
        with self._begin(principal, REVIEW_ROWS) as uow:
            batch = uow.crm.import_batches.get(batch_id)
            if batch.status is not _B.PROPOSED:
                raise InvalidTransition("import_batch", batch.status.value, "review", ())
            done = 0
            for numbers, source, target in (
                (out, _S.PROPOSED, _S.SKIPPED),
                (back, _S.SKIPPED, _S.PROPOSED),
            ):
                for chunk in pipeline.chunks(numbers, 500):
                    rows = uow.crm.import_rows.where_in(
                        "row_number", chunk, Eq("import_batch_id", batch_id), Eq("status", source)
                    )
                    changes = [
                        (r.key, r.version, {"status": target.value}) for r in rows if r.writeback_id
                    ]
                    done += len(uow.crm.import_rows.update_many(changes))
            self._audit(
                uow,
                principal,
                REVIEW_ROWS.name,
                target_domain="crm",
                target_ref=batch_id,
                details={"rejected": out[:1000], "restored": back[:1000], "changed": done},
            )
            uow.commit()
        return done

    @serves(APPROVE_BATCH)
    def approve(
        self,
        principal: Principal,
        batch_id: UUID,
        *,
        outcomes: Iterable[ImportOutcome | str] | None = None,
        comment: str | None = None,
    ) -> ImportBatch:
        """Approve the batch's proposals under review (all, or those of ``outcomes``).

        Four eyes: whoever submitted or prepared the batch never approves it,
        nor does an automated agent (``ApprovalRefused``). When no proposal
        is left under review the batch is ``approved``.
        """
        wanted = _outcomes(outcomes)
        with self._begin(principal, APPROVE_BATCH) as uow:
            batch = uow.crm.import_batches.get(batch_id)
            IMPORT_BATCH.transition(batch.status, _B.APPROVED)
            self._check_four_eyes(uow, principal, batch)
            for outcome, proposal in self._proposals(uow, batch).items():
                if outcome in wanted and proposal.status is WritebackStatus.REVIEW_REQUIRED:
                    approvals.approve(uow, self.clock, principal, proposal.key, comment)
            batch = self._settle(uow, principal, batch)
            uow.commit()
        return batch

    @serves(REJECT_BATCH)
    def reject(
        self,
        principal: Principal,
        batch_id: UUID,
        *,
        comment: str,
        outcomes: Iterable[ImportOutcome | str] | None = None,
    ) -> ImportBatch:
        """Reject the batch's undecided proposals (all, or those of ``outcomes``), saying why.

        Rows of a rejected outcome are never written. When no proposal is
        left under review the batch is ``approved`` for what remains.
        """
        if not comment.strip():
            raise ValidationFailed("comment", "must say why the proposals are rejected")
        wanted = _outcomes(outcomes)
        with self._begin(principal, REJECT_BATCH) as uow:
            batch = uow.crm.import_batches.get(batch_id)
            IMPORT_BATCH.transition(batch.status, _B.APPROVED)
            for outcome, proposal in self._proposals(uow, batch).items():
                undecided = proposal.status in (
                    WritebackStatus.REVIEW_REQUIRED,
                    WritebackStatus.APPROVED,
                )
                if outcome in wanted and undecided:
                    approvals.reject(uow, self.clock, principal, proposal.key, comment)
            batch = self._settle(uow, principal, batch)
            uow.commit()
        return batch

    def _settle(self, uow: UnitOfWork, principal: Principal, batch: ImportBatch) -> ImportBatch:
        """Move the batch to ``approved`` once none of its proposals waits for review."""
        waiting = [
            p
            for p in self._proposals(uow, batch).values()
            if p.status in (WritebackStatus.DRAFT, WritebackStatus.REVIEW_REQUIRED)
        ]
        if waiting or batch.status is not _B.PROPOSED:
            return batch
        return self._move_in(uow, principal, batch, _B.APPROVED)

    # -- commit and undo ------------------------------------------------------

    @serves(COMMIT)
    def commit(
        self, principal: Principal, batch_id: UUID, *, progress: ProgressCallback | None = None
    ) -> ImportBatch:
        """Write the batch's approved proposals, each exactly once; mark it committed when done.

        A ``proposed`` batch may be committed in part: the proposals already
        approved (new people, which the policy lets through) are written now
        and the batch stays ``proposed`` until the rest are decided; a later
        commit of the ``approved`` batch writes the rest and marks it
        ``committed``. Safe to call again after a crash or while another
        caller commits the same batch: each proposal's execution claims it
        first, so no row is written twice, and the batch ends ``committed``
        once.
        """
        self._local.progress = _teller(batch_id, progress)
        with self._reading(principal, COMMIT) as uow:
            batch = uow.crm.import_batches.get(batch_id)
            proposals = self._proposals(uow, batch)
        if batch.status is _B.COMMITTED:
            return batch
        if batch.status not in (_B.PROPOSED, _B.APPROVED):
            raise InvalidTransition(
                "import_batch", batch.status.value, _B.COMMITTED.value, ("approved",)
            )
        for proposal in proposals.values():
            if proposal.status is WritebackStatus.APPROVED:
                self._writebacks.execute(principal, proposal.key)
        if batch.status is _B.PROPOSED:
            with self._reading(principal, COMMIT) as uow:
                return uow.crm.import_batches.get(batch_id)
        for _ in range(3):
            try:
                return self._finish(principal, batch_id)
            except ConcurrencyConflict:
                continue  # another commit of this batch moved it first: read what it did
        return self._finish(principal, batch_id)

    def _finish(self, principal: Principal, batch_id: UUID) -> ImportBatch:
        """Link the unchanged rows and mark the batch committed (once, however many callers)."""
        with self._begin(principal, COMMIT) as uow:
            batch = uow.crm.import_batches.get(batch_id)
            if batch.status is _B.COMMITTED:
                return batch
            linked = committing.commit_unchanged(uow, batch, self.clock.now())
            counts = dict(batch.stats_json.get("committed", {}))
            counts["unchanged"] = linked
            stats = {**batch.stats_json, "committed": counts}
            batch = self._move_in(uow, principal, batch, _B.COMMITTED, stats_json=stats)
            uow.commit()
        return batch

    def _apply_commit(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> ImportBatch:
        """Write the rows of one approved outcome of a batch (``crm.imports.commit``'s applier)."""
        assert change.target_ref is not None
        batch = uow.crm.import_batches.get(change.target_ref)
        outcome = _O(change.context["outcome"])
        now = self.clock.now()
        to = committing.Assignment(_assignee(batch), now)
        tell = getattr(self._local, "progress", pipeline.quiet)
        if outcome is _O.UPDATE:
            counts = committing.commit_updates(uow, batch, now, tell)
        else:
            counts = committing.commit_created(uow, batch, outcome, to, tell)
        committed = dict(batch.stats_json.get("committed", {}))
        committed[outcome.value] = counts
        after = attrs.evolve(batch, stats_json={**batch.stats_json, "committed": committed})
        return self._update_audited(
            uow,
            principal,
            COMMIT.name,
            batch,
            after,
            domain="crm",
            details={"outcome": outcome.value, **counts},
        )

    @serves(UNDO)
    def undo(self, principal: Principal, batch_id: UUID, *, reason: str) -> Writeback:
        """Propose taking a committed batch back; it is applied once approved and executed.

        Executing the proposal removes the people (and their leads and
        interests) the batch created while nothing changed them or refers to
        them, and restores the fields it updated where they still hold the
        imported values; what changed later is listed in the batch's
        ``stats_json["undo"]`` and left alone.
        """
        if not reason.strip():
            raise ValidationFailed("reason", "must say why the batch is taken back")
        with self._begin(principal, UNDO) as uow:
            batch = uow.crm.import_batches.get(batch_id)
            if batch.status is not _B.COMMITTED:
                raise InvalidTransition(
                    "import_batch", batch.status.value, "undone", ("committed",)
                )
            change = ProposedChange(
                operation=UNDO.name,
                target_table=ImportBatch.table_name,
                change_kind=ChangeKind.DELETE,
                target_ref=batch.key,
                base_version=batch.version,
                context={"reason": reason, "file_name": batch.file_name},
            )
            verdict = self.governance.verdict(change, principal)
            draft = engine.store(
                uow, self.clock, principal, change, proposal_ref=f"import:{batch.key}:undo"
            )
            proposal = engine.classify(uow, self.clock, principal, draft, verdict)
            uow.commit()
        return proposal

    def _apply_undo(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> ImportBatch:
        """Take a committed batch back (the applier of ``crm.imports.undo``)."""
        assert change.target_ref is not None
        batch = uow.crm.import_batches.get(change.target_ref)
        report = committing.undo_batch(uow, batch)
        after = attrs.evolve(batch, stats_json={**batch.stats_json, "undo": report})
        return self._update_audited(
            uow,
            principal,
            UNDO.name,
            batch,
            after,
            domain="crm",
            reason=str(change.context.get("reason")),
            details={"removed": report["removed"], "restored": report["restored"]},
        )

    # -- reads ----------------------------------------------------------------

    # -- helpers --------------------------------------------------------------

    def _batch(
        self, uow: UnitOfWork, key: UUID, version: int, target: ImportBatchStatus | None
    ) -> ImportBatch:
        batch = uow.crm.import_batches.get(key)
        if batch.version != version:
            raise ConcurrencyConflict(batch.table_name, key, version, batch.version)
        if target is not None:
            IMPORT_BATCH.transition(batch.status, target)
        return batch

    def _withdraw(
        self, uow: UnitOfWork, principal: Principal, batch: ImportBatch, comment: str
    ) -> None:
        """Reject the batch's proposals not yet executed (a new round files new ones)."""
        for proposal in self._proposals(uow, batch).values():
            if proposal.status in (WritebackStatus.REVIEW_REQUIRED, WritebackStatus.APPROVED):
                approvals.reject(uow, self.clock, principal, proposal.key, comment)
            elif proposal.status is WritebackStatus.DRAFT:  # pragma: no cover - classified at once
                engine.move(uow, self.clock, principal, proposal, WritebackStatus.REJECTED)


_DATA_IN_HEADER = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}|^\+?[\d\s().-]{8,}$", re.IGNORECASE)


def _check_header(headers: Iterable[str]) -> None:
    """Refuse a file whose first row holds an email address or a phone number: it is data."""
    for header in headers:
        if _DATA_IN_HEADER.search(header.strip()):
            raise UnreadableImport(
                f"the first row holds {header!r}, which is data, not a column name;"
                " add a header row naming the columns (e.g. Name, Email, Mobile)"
            )


def _first(rows: Iterable[Any], n: int) -> list[Any]:
    taken = []
    for row in rows:
        taken.append(row)
        if len(taken) == n:
            break
    return taken


def _mapping_doc(mapping: ColumnMapping, assignee: UUID | None) -> dict[str, Any]:
    return {"columns": mapping.to_json(), "assign_to": None if assignee is None else str(assignee)}


def _assignee(batch: ImportBatch) -> UUID | None:
    value = batch.mapping_json.get("assign_to")
    return UUID(value) if value else None


def _outcomes(given: Iterable[ImportOutcome | str] | None) -> set[ImportOutcome]:
    if given is None:
        return set(WRITING)
    chosen = {ImportOutcome(o) for o in given}
    if not chosen <= set(WRITING):
        raise ValidationFailed("outcomes", "only new, update and duplicate rows are proposed")
    return chosen


def _teller(batch_id: UUID, progress: ProgressCallback | None) -> pipeline.Progress:
    if progress is None:
        return pipeline.quiet

    def tell(stage: str, rows: int) -> None:
        progress(ImportProgress(batch_id, stage, rows))

    return tell
