"""Matrix rows of agent runs (branches, steps, the choice of a branch)."""

from __future__ import annotations

from typing import Any

from tests.support.matrix import Row
from velocity_domain.workflow.entities import AgentRun, Branch

PROPOSERS = frozenset({"admin", "sales_manager", "sales_agent", "operator", "oracle_agent"})
APPROVERS = frozenset({"admin", "operator"})


def _run(v: Any, w: Any) -> AgentRun:
    run = v.agents.start_run(w.admin, agent_name="oracle")
    assert isinstance(run, AgentRun)
    return run


def _branch(v: Any, w: Any) -> Branch:
    branch = v.agents.add_branch(w.admin, _run(v, w).key, label="call first")
    assert isinstance(branch, Branch)
    return branch


def _finish(v: Any, w: Any, p: Any) -> Any:
    run = _run(v, w)
    return v.agents.finish_run(p, run.key, "succeeded", expected_version=run.version)


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
}
