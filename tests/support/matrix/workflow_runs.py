"""Matrix rows of agent runs (branches, steps, the choice of a branch) and import batches."""

from __future__ import annotations

from typing import Any

from tests.support.matrix import Row
from velocity_domain.crm.entities import ImportBatch, ImportBatchStatus
from velocity_domain.workflow.entities import AgentRun, Branch

PROPOSERS = frozenset({"admin", "sales_manager", "sales_agent", "operator", "oracle_agent"})
APPROVERS = frozenset({"admin", "operator"})
SUBMITTERS = frozenset({"admin", "sales_manager", "operator"})


def _run(v: Any, w: Any) -> AgentRun:
    run = v.agents.start_run(w.admin, agent_name="oracle")
    assert isinstance(run, AgentRun)
    return run


def _branch(v: Any, w: Any) -> Branch:
    branch = v.agents.add_branch(w.admin, _run(v, w).key, label="call first")
    assert isinstance(branch, Branch)
    return branch


def _batch(v: Any, w: Any, until: ImportBatchStatus = ImportBatchStatus.UPLOADED) -> ImportBatch:
    """A batch the admin submitted and moved on to ``until``."""
    batch = v.imports.submit(w.admin, source_system="csv", file_name="leads.csv", row_count=3)
    for status in ("parsed", "mapped", "proposed"):
        if batch.status is until:
            break
        batch = v.imports.advance(w.admin, batch.key, status, expected_version=batch.version)
    assert isinstance(batch, ImportBatch)
    return batch


def _finish(v: Any, w: Any, p: Any) -> Any:
    run = _run(v, w)
    return v.agents.finish_run(p, run.key, "succeeded", expected_version=run.version)


def _advance(v: Any, w: Any, p: Any) -> Any:
    batch = _batch(v, w)
    return v.imports.advance(p, batch.key, "parsed", expected_version=batch.version)


def _approve(v: Any, w: Any, p: Any) -> Any:
    batch = _batch(v, w, ImportBatchStatus.PROPOSED)
    return v.imports.approve(p, batch.key, expected_version=batch.version)


def _fail(v: Any, w: Any, p: Any) -> Any:
    batch = _batch(v, w)
    return v.imports.fail(p, batch.key, reason="bad file", expected_version=batch.version)


def _retry(v: Any, w: Any, p: Any) -> Any:
    batch = _batch(v, w)
    failed = v.imports.fail(w.admin, batch.key, reason="bad file", expected_version=batch.version)
    return v.imports.retry(p, batch.key, expected_version=failed.version)


ROWS: dict[str, Row] = {
    "workflow.agent_runs.start": Row(
        PROPOSERS, lambda v, w, p: v.agents.start_run(p, agent_name="oracle")
    ),
    "workflow.agent_runs.finish": Row(PROPOSERS, _finish),
    "workflow.agent_runs.add_branch": Row(
        PROPOSERS, lambda v, w, p: v.agents.add_branch(p, _run(v, w).key, label="email first")
    ),
    "workflow.agent_runs.propose_action": Row(
        PROPOSERS,
        lambda v, w, p: v.agents.propose_action(p, _run(v, w).key, action_type="draft_email"),
        "a step with a change also proposes a writeback (workflow.writebacks.propose)",
    ),
    "workflow.agent_runs.choose_branch": Row(
        APPROVERS,
        lambda v, w, p: v.agents.choose_branch(p, _branch(v, w).key),
        "an automated agent never chooses, even holding the permission",
    ),
    "workflow.agent_runs.get": Row(PROPOSERS, lambda v, w, p: v.agents.get_run(p, _run(v, w).key)),
    "crm.imports.submit": Row(SUBMITTERS, lambda v, w, p: v.imports.submit(p, source_system="csv")),
    "crm.imports.advance": Row(
        SUBMITTERS, _advance, "moving to approved is crm.imports.approve's rule"
    ),
    "crm.imports.approve": Row(
        APPROVERS, _approve, "four eyes: the submitter never approves their own batch"
    ),
    "crm.imports.fail": Row(SUBMITTERS, _fail),
    "crm.imports.retry": Row(SUBMITTERS, _retry),
    "crm.imports.get": Row(SUBMITTERS, lambda v, w, p: v.imports.get(p, _batch(v, w).key)),
    "crm.imports.list": Row(SUBMITTERS, lambda v, w, p: v.imports.list(p)),
}
