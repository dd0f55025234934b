"""Agent runs, their branches and steps, and the operator's choice of a branch, on both stores."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import attrs
import pytest

from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.access import Principal
from velocity_domain.crm.entities import Person
from velocity_domain.errors import (
    AlreadyExists,
    ApprovalRefused,
    ConcurrencyConflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from velocity_domain.kernel.ids import new_id
from velocity_domain.testing import unit_of_work
from velocity_domain.workflow.entities import (
    ActionStatus,
    AgentRun,
    AgentRunStatus,
    BranchStatus,
    WorkflowAction,
    WritebackStatus,
)

APPROVE = "workflow.writebacks.approve"


def _email_change(person: Person, email: str) -> dict[str, Any]:
    """A proposal to change a contact's email: an agent's is sent to review by default."""
    return {
        "target_table": "crm_people",
        "change_kind": "update",
        "target_ref": person.key,
        "base_version": person.version,
        "fields": {"primary_email": email},
    }


def _actions(velocity: Velocity, w: World, action: str) -> list[str | None]:
    return [e.target_ref for e in velocity.audit.list(w.admin, action=action, limit=500).items]


def _action(velocity: Velocity, key: UUID) -> WorkflowAction:
    with unit_of_work(velocity) as uow:
        return uow.workflow.actions.get(key)


# --- runs ------------------------------------------------------------------------------------


def test_a_run_starts_running_and_names_who_started_it(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    agent = w.by_role["oracle_agent"]
    run = velocity.agents.start_run(
        agent, agent_name="oracle", agent_version="2.1", input={"ask": "follow up Asha"}
    )
    assert (run.status, run.started_by_user_id) == (AgentRunStatus.RUNNING, agent.user_id)
    assert run.input_json == {"ask": "follow up Asha"}
    assert velocity.agents.get_run(agent, run.key).run == run
    assert _actions(velocity, w, "workflow.agent_runs.start") == [str(run.key)]


def test_a_run_finishes_once_and_a_failed_run_says_why(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    agent = w.by_role["oracle_agent"]
    run = velocity.agents.start_run(agent, agent_name="oracle")
    done = velocity.agents.finish_run(
        agent, run.key, "succeeded", expected_version=run.version, output={"drafted": 2}
    )
    assert (done.status, done.output_json, done.error) == (
        AgentRunStatus.SUCCEEDED,
        {"drafted": 2},
        None,
    )
    assert done.finished_at is not None
    with pytest.raises(InvalidTransition) as caught:
        velocity.agents.finish_run(agent, run.key, "cancelled", expected_version=done.version)
    assert caught.value.current is AgentRunStatus.SUCCEEDED

    other = velocity.agents.start_run(agent, agent_name="oracle")
    with pytest.raises(ValidationFailed) as refused:
        velocity.agents.finish_run(agent, other.key, "failed", expected_version=other.version)
    assert refused.value.field == "error"
    with pytest.raises(ValidationFailed) as refused:
        velocity.agents.finish_run(
            agent, other.key, "cancelled", expected_version=other.version, error="boom"
        )
    assert refused.value.field == "error"
    with pytest.raises(ValidationFailed) as refused:
        velocity.agents.finish_run(agent, other.key, "paused", expected_version=other.version)
    assert refused.value.field == "status"
    with pytest.raises(InvalidTransition):
        velocity.agents.finish_run(agent, other.key, "running", expected_version=other.version)
    with pytest.raises(ConcurrencyConflict):
        velocity.agents.finish_run(agent, other.key, "cancelled", expected_version=7)
    failed = velocity.agents.finish_run(
        agent, other.key, "failed", expected_version=other.version, error="model timed out"
    )
    assert (failed.status, failed.error) == (AgentRunStatus.FAILED, "model timed out")
    events = velocity.audit.list(w.admin, action="workflow.agent_runs.finish").items
    assert {(e.target_ref, e.reason) for e in events} == {
        (str(run.key), None),
        (str(other.key), "model timed out"),
    }


def test_bad_run_arguments_name_their_field(world: World) -> None:
    velocity, w = world.velocity, world
    agent = w.by_role["oracle_agent"]
    with pytest.raises(ValidationFailed) as caught:
        velocity.agents.start_run(agent, agent_name="oracle", input=["not", "a", "mapping"])  # type: ignore[arg-type]
    assert caught.value.field == "input"
    with pytest.raises(ValidationFailed) as caught:
        velocity.agents.start_run(agent, agent_name="")
    assert caught.value.field == "agent_name"
    with pytest.raises(ValidationFailed) as caught:
        velocity.agents.get_run(agent, "not-a-uuid")  # type: ignore[arg-type]
    assert caught.value.field == "run_id"
    with pytest.raises(NotFound):
        velocity.agents.get_run(agent, new_id())
    with pytest.raises(PermissionDenied):
        velocity.agents.start_run(w.by_role["analyst"], agent_name="oracle")


# --- branches and steps ----------------------------------------------------------------------


def test_steps_follow_each_other_on_open_branches_of_their_own_run(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    agent = w.by_role["oracle_agent"]
    run = velocity.agents.start_run(agent, agent_name="oracle")
    other_run = velocity.agents.start_run(agent, agent_name="oracle")
    call = velocity.agents.add_branch(agent, run.key, label="call first", rationale="she calls")
    mail = velocity.agents.add_branch(agent, run.key, label="email first")
    foreign = velocity.agents.add_branch(agent, other_run.key, label="call first")
    with pytest.raises(AlreadyExists):
        velocity.agents.add_branch(agent, run.key, label="call first")

    first = velocity.agents.propose_action(agent, run.key, action_type="look_up")
    second = velocity.agents.propose_action(
        agent, run.key, action_type="call", branch_id=call.key, payload={"when": "10:00"}
    )
    third = velocity.agents.propose_action(agent, run.key, action_type="send", branch_id=mail.key)
    assert [a.sequence for a in (first, second, third)] == [1, 2, 3]
    assert (second.status, second.payload_json) == (ActionStatus.PROPOSED, {"when": "10:00"})
    assert velocity.agents.propose_action(agent, other_run.key, action_type="x").sequence == 1

    with pytest.raises(ValidationFailed) as caught:
        velocity.agents.propose_action(agent, run.key, action_type="x", branch_id=foreign.key)
    assert caught.value.field == "branch_id"
    with pytest.raises(ValidationFailed) as caught:
        velocity.agents.propose_action(agent, run.key, action_type="x", payload="nope")  # type: ignore[arg-type]
    assert caught.value.field == "payload"
    with pytest.raises(NotFound):
        velocity.agents.propose_action(agent, run.key, action_type="x", branch_id=new_id())

    view = velocity.agents.get_run(agent, run.key)
    assert [b.key for b in view.branches] == [call.key, mail.key]
    assert [a.key for a in view.actions] == [first.key, second.key, third.key]

    velocity.agents.finish_run(agent, run.key, "succeeded", expected_version=run.version)
    with pytest.raises(ValidationFailed) as caught:
        velocity.agents.add_branch(agent, run.key, label="visit first")
    assert caught.value.field == "run_id"
    with pytest.raises(ValidationFailed) as caught:
        velocity.agents.propose_action(agent, run.key, action_type="x")
    assert caught.value.field == "run_id"


def test_a_step_with_a_change_proposes_a_writeback_of_its_run(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    operator = w.by_role["operator"]
    agent = w.by_role["oracle_agent"]
    run = velocity.agents.start_run(agent, agent_name="oracle")
    action = velocity.agents.propose_action(
        agent,
        run.key,
        action_type="update_contact",
        change=_email_change(w.client_a, "asha@example.com"),
    )
    assert action.writeback_id is not None
    review = velocity.writebacks.get(operator, action.writeback_id)
    assert review.writeback.agent_run_id == run.key
    assert review.writeback.status is WritebackStatus.REVIEW_REQUIRED

    # A change may name its own run; any other run is refused below.
    own = velocity.agents.start_run(operator, agent_name="assistant")
    mine = velocity.agents.propose_action(
        operator,
        own.key,
        action_type="update_contact",
        change={**_email_change(w.client_b, "ravi@example.com"), "agent_run_id": own.key},
    )
    assert mine.writeback_id is not None
    assert velocity.writebacks.get(operator, mine.writeback_id).writeback.agent_run_id == own.key

    for bad in (
        {**_email_change(w.client_a, "a@example.com"), "agent_run_id": new_id()},
        {**_email_change(w.client_a, "a@example.com"), "shout": True},
        "target_table=crm_people",
    ):
        with pytest.raises(ValidationFailed) as caught:
            velocity.agents.propose_action(agent, run.key, action_type="x", change=bad)  # type: ignore[arg-type]
        assert caught.value.field == "change"
    before = velocity.agents.get_run(agent, run.key)
    with pytest.raises(ValidationFailed):
        velocity.agents.propose_action(
            agent,
            run.key,
            action_type="x",
            change={**_email_change(w.client_a, "a@example.com"), "target_table": "nope"},
        )
    assert velocity.agents.get_run(agent, run.key) == before


# --- choosing a branch -----------------------------------------------------------------------


@attrs.frozen
class Fork:
    run: AgentRun
    chosen: UUID
    siblings: tuple[UUID, UUID]
    chosen_steps: tuple[WorkflowAction, ...]
    sibling_steps: tuple[WorkflowAction, ...]
    main_line: WorkflowAction


def _fork(velocity: Velocity, w: World) -> Fork:
    """An agent's run with three branches; two carry proposals to change a contact."""
    agent = w.by_role["oracle_agent"]
    run = velocity.agents.start_run(agent, agent_name="oracle")
    main_line = velocity.agents.propose_action(agent, run.key, action_type="look_up")
    call, mail, visit = (
        velocity.agents.add_branch(agent, run.key, label=label)
        for label in ("call first", "email first", "visit first")
    )
    chosen_steps = (
        velocity.agents.propose_action(
            agent,
            run.key,
            action_type="update_contact",
            branch_id=call.key,
            change=_email_change(w.client_a, "asha@call.example"),
        ),
        velocity.agents.propose_action(agent, run.key, action_type="call", branch_id=call.key),
    )
    sibling_steps = (
        velocity.agents.propose_action(
            agent,
            run.key,
            action_type="update_contact",
            branch_id=mail.key,
            change=_email_change(w.client_a, "asha@mail.example"),
        ),
        velocity.agents.propose_action(agent, run.key, action_type="send", branch_id=mail.key),
        velocity.agents.propose_action(agent, run.key, action_type="drive", branch_id=visit.key),
    )
    return Fork(run, call.key, (mail.key, visit.key), chosen_steps, sibling_steps, main_line)


def test_choosing_a_branch_rejects_its_siblings_and_their_pending_proposals(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    operator = w.by_role["operator"]
    fork = _fork(velocity, w)

    chosen = velocity.agents.choose_branch(operator, fork.chosen)
    assert (chosen.status, chosen.chosen_by_user_id) == (BranchStatus.CHOSEN, operator.user_id)
    assert chosen.chosen_at is not None

    view = velocity.agents.get_run(operator, fork.run.key)
    status = {b.key: b.status for b in view.branches}
    assert status == {
        fork.chosen: BranchStatus.CHOSEN,
        fork.siblings[0]: BranchStatus.REJECTED,
        fork.siblings[1]: BranchStatus.REJECTED,
    }
    steps = {a.key: a.status for a in view.actions}
    assert {steps[a.key] for a in fork.chosen_steps} == {ActionStatus.ACCEPTED}
    assert {steps[a.key] for a in fork.sibling_steps} == {ActionStatus.REJECTED}
    assert steps[fork.main_line.key] is ActionStatus.PROPOSED

    kept, dropped = fork.chosen_steps[0].writeback_id, fork.sibling_steps[0].writeback_id
    assert kept is not None
    assert dropped is not None
    assert velocity.writebacks.get(operator, kept).writeback.status is (
        WritebackStatus.REVIEW_REQUIRED
    )
    rejected = velocity.writebacks.get(operator, dropped).writeback
    assert rejected.status is WritebackStatus.REJECTED
    assert rejected.rejection_reason is not None
    assert "call first" in rejected.rejection_reason

    assert _actions(velocity, w, "workflow.agent_runs.choose_branch") == [str(fork.chosen)]
    assert set(_actions(velocity, w, "workflow.branches.rejected")) == {
        str(k) for k in fork.siblings
    }
    assert set(_actions(velocity, w, "workflow.actions.accepted")) == {
        str(a.key) for a in fork.chosen_steps
    }
    assert set(_actions(velocity, w, "workflow.actions.rejected")) == {
        str(a.key) for a in fork.sibling_steps
    }
    assert _actions(velocity, w, "workflow.writebacks.rejected") == [str(dropped)]
    chooser = {
        e.actor_user_id
        for action in ("workflow.branches.rejected", "workflow.actions.rejected")
        for e in velocity.audit.list(w.admin, action=action).items
    }
    assert chooser == {operator.user_id}


def test_a_branch_is_chosen_once_and_then_the_run_takes_no_new_branch(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    operator = w.by_role["operator"]
    fork = _fork(velocity, w)
    velocity.agents.choose_branch(operator, fork.chosen)
    before = velocity.agents.get_run(operator, fork.run.key)

    with pytest.raises(InvalidTransition) as caught:
        velocity.agents.choose_branch(w.by_role["admin"], fork.chosen)
    assert caught.value.current is BranchStatus.CHOSEN
    with pytest.raises(InvalidTransition) as caught:
        velocity.agents.choose_branch(operator, fork.siblings[0])
    assert caught.value.current is BranchStatus.REJECTED
    with pytest.raises(ValidationFailed) as refused:
        velocity.agents.add_branch(w.by_role["oracle_agent"], fork.run.key, label="wait")
    assert refused.value.field == "run_id"
    with pytest.raises(ValidationFailed) as refused:
        velocity.agents.propose_action(
            w.by_role["oracle_agent"], fork.run.key, action_type="x", branch_id=fork.chosen
        )
    assert refused.value.field == "branch_id"
    assert velocity.agents.get_run(operator, fork.run.key) == before


def test_only_a_named_person_with_approval_rights_chooses(
    world: World,
) -> None:
    velocity, w = world.velocity, world
    fork = _fork(velocity, w)
    agent = w.by_role["oracle_agent"]
    empowered: Principal = attrs.evolve(agent, permissions=agent.permissions | {APPROVE})
    before = velocity.agents.get_run(w.by_role["operator"], fork.run.key)

    with pytest.raises(ApprovalRefused):
        velocity.agents.choose_branch(empowered, fork.chosen)
    with pytest.raises(ApprovalRefused):
        velocity.agents.choose_branch(Principal.system("nightly"), fork.chosen)
    for role in ("oracle_agent", "sales_agent", "sales_manager", "analyst"):
        with pytest.raises(PermissionDenied):
            velocity.agents.choose_branch(w.by_role[role], fork.chosen)
    with pytest.raises(NotFound):
        velocity.agents.choose_branch(w.by_role["operator"], new_id())
    assert velocity.agents.get_run(w.by_role["operator"], fork.run.key) == before


def test_choosing_is_all_or_nothing(world: World) -> None:
    velocity, w = world.velocity, world
    operator = w.by_role["operator"]
    fork = _fork(velocity, w)
    # A sibling's step already executed cannot be rejected: the whole choice is refused.
    done = fork.sibling_steps[2]
    with unit_of_work(velocity) as uow:
        step = uow.workflow.actions.get(done.key)
        accepted = uow.workflow.actions.update(attrs.evolve(step, status=ActionStatus.ACCEPTED))
        uow.workflow.actions.update(attrs.evolve(accepted, status=ActionStatus.EXECUTED))
        uow.commit()
    before = velocity.agents.get_run(operator, fork.run.key)
    newest = velocity.audit.list(w.admin, limit=1).items[0].key

    with pytest.raises(InvalidTransition) as caught:
        velocity.agents.choose_branch(operator, fork.chosen)
    assert caught.value.current is ActionStatus.EXECUTED
    assert velocity.agents.get_run(operator, fork.run.key) == before
    dropped = fork.sibling_steps[0].writeback_id
    assert dropped is not None
    assert velocity.writebacks.get(operator, dropped).writeback.status is (
        WritebackStatus.REVIEW_REQUIRED
    )
    assert velocity.audit.list(w.admin, limit=1).items[0].key == newest
    assert _action(velocity, done.key).status is ActionStatus.EXECUTED
