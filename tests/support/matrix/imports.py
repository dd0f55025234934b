"""Matrix rows of the import gateway: submitting, preparing, reviewing, committing, reading."""

from __future__ import annotations

import io
from typing import Any

from tests.support.matrix import Row
from velocity_domain.crm.entities import ImportBatch, ImportBatchStatus

SUBMITTERS = frozenset({"admin", "sales_manager", "operator"})
REVIEWERS = frozenset({"admin", "operator"})

_ROWS = [{"Name": "Matrix Person", "Email": "matrix@example.in", "Mobile": "9840000001"}]
#: A row updating the world's first client: its proposal waits for review.
_UPDATE = [{"Name": "Asha Rao", "Email": "asha.matrix@example.in", "Mobile": "9830012345"}]


def _batch(v: Any, w: Any, until: ImportBatchStatus = ImportBatchStatus.PARSED) -> ImportBatch:
    """A batch the admin submitted and moved on to ``until``."""
    rows = _UPDATE if until is ImportBatchStatus.PROPOSED else _ROWS
    batch = v.imports.submit(w.admin, rows, source_system="matrix")
    if until in (ImportBatchStatus.MAPPED, ImportBatchStatus.PROPOSED, ImportBatchStatus.APPROVED):
        batch = v.imports.map(w.admin, batch.key, expected_version=batch.version)
    if until in (ImportBatchStatus.PROPOSED, ImportBatchStatus.APPROVED):
        batch = v.imports.propose(w.admin, batch.key, expected_version=batch.version)
    assert isinstance(batch, ImportBatch)
    assert batch.status is until
    return batch


def _fail(v: Any, w: Any, p: Any) -> Any:
    batch = _batch(v, w)
    return v.imports.fail(p, batch.key, reason="bad file", expected_version=batch.version)


def _retry(v: Any, w: Any, p: Any) -> Any:
    batch = _batch(v, w)
    failed = v.imports.fail(w.admin, batch.key, reason="bad file", expected_version=batch.version)
    return v.imports.retry(p, batch.key, expected_version=failed.version)


def _map(v: Any, w: Any, p: Any) -> Any:
    batch = _batch(v, w)
    return v.imports.map(p, batch.key, expected_version=batch.version)


def _propose(v: Any, w: Any, p: Any) -> Any:
    batch = _batch(v, w, ImportBatchStatus.MAPPED)
    return v.imports.propose(p, batch.key, expected_version=batch.version)


def _committed(v: Any, w: Any) -> ImportBatch:
    batch = _batch(v, w, ImportBatchStatus.APPROVED)
    done = v.imports.commit(w.admin, batch.key)
    assert isinstance(done, ImportBatch)
    return done


ROWS: dict[str, Row] = {
    "crm.imports.submit": Row(
        SUBMITTERS, lambda v, w, p: v.imports.submit(p, _ROWS, source_system="matrix")
    ),
    "crm.imports.map": Row(SUBMITTERS, _map),
    "crm.imports.propose": Row(SUBMITTERS, _propose),
    "crm.imports.review_rows": Row(
        REVIEWERS,
        lambda v, w, p: v.imports.review_rows(p, _batch(v, w, ImportBatchStatus.PROPOSED).key),
        "only while the batch is proposed",
    ),
    "crm.imports.approve_batch": Row(
        REVIEWERS,
        lambda v, w, p: v.imports.approve(p, _batch(v, w, ImportBatchStatus.PROPOSED).key),
        "four eyes: whoever submitted or prepared the batch never approves it",
    ),
    "crm.imports.reject_batch": Row(
        REVIEWERS,
        lambda v, w, p: v.imports.reject(
            p, _batch(v, w, ImportBatchStatus.PROPOSED).key, comment="wrong file"
        ),
    ),
    "crm.imports.commit": Row(
        SUBMITTERS,
        lambda v, w, p: v.imports.commit(p, _batch(v, w, ImportBatchStatus.APPROVED).key),
        "runs each approved proposal through workflow.writebacks.execute",
    ),
    "crm.imports.undo": Row(
        SUBMITTERS,
        lambda v, w, p: v.imports.undo(p, _committed(v, w).key, reason="wrong file"),
        "files a proposal; deletions are reviewed",
    ),
    "crm.imports.rows": Row(SUBMITTERS, lambda v, w, p: v.imports.rows(p, _batch(v, w).key)),
    "crm.imports.errors": Row(
        SUBMITTERS, lambda v, w, p: v.imports.write_errors(p, _batch(v, w).key, io.StringIO())
    ),
    "crm.imports.replay": Row(SUBMITTERS, lambda v, w, p: v.imports.replay(p, _batch(v, w).key)),
    "crm.imports.unresolved": Row(REVIEWERS, lambda v, w, p: v.imports.unresolved(p)),
    "crm.imports.fail": Row(SUBMITTERS, _fail),
    "crm.imports.retry": Row(SUBMITTERS, _retry),
    "crm.imports.get": Row(SUBMITTERS, lambda v, w, p: v.imports.get(p, _batch(v, w).key)),
    "crm.imports.list": Row(SUBMITTERS, lambda v, w, p: v.imports.list(p)),
}
