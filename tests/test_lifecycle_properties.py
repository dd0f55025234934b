"""Property tests of the lifecycles (issue 7): random transition sequences, only allowed moves pass.

Three layers are driven with hypothesis:

1. the pure transition tables (writeback, agent run, action, branch, import
   batch, lead status, the default opportunity pipeline), checked against
   literal tables written here from the documentation;
2. the writeback lifecycle through ``velocity.writebacks`` on both stores,
   against a small model of the expected status and the four-eyes rules;
3. the opportunity pipeline through ``velocity.opportunities.move_stage``,
   with its stage history.
"""

from __future__ import annotations

import enum
import functools
import itertools
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.crm.entities import (
    ImportBatchStatus,
    LeadStatus,
    Opportunity,
    OpportunityStage,
    StagedEntity,
    StageHistory,
)
from velocity_domain.crm.lifecycle import DEFAULT_PIPELINE, IMPORT_BATCH, LEAD_STATUS
from velocity_domain.errors import (
    ApprovalRefused,
    ApprovalRequired,
    InvalidTransition,
    PermissionDenied,
)
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.lifecycle import Lifecycle
from velocity_domain.kernel.query import Eq, Query, asc
from velocity_domain.testing import unit_of_work
from velocity_domain.workflow.entities import (
    ActionStatus,
    AgentRunStatus,
    BranchStatus,
    ChangeKind,
    WritebackStatus,
)
from velocity_domain.workflow.lifecycle import ACTION, AGENT_RUN, BRANCH, WRITEBACK

# --- 1. the pure tables -----------------------------------------------------------------------
#
# Written out by hand from the module docs and the issue (not read from ``.allowed``), so
# a change of any table shows up here as a failure to be looked at.

WRITEBACK_TABLE: dict[str, set[str]] = {
    "draft": {"review_required", "approved", "rejected"},
    "review_required": {"approved", "rejected"},
    "approved": {"executed", "failed", "rejected"},
    "executed": set(),
    "rejected": set(),
    "failed": set(),
}
AGENT_RUN_TABLE: dict[str, set[str]] = {
    "running": {"succeeded", "failed", "cancelled"},
    "succeeded": set(),
    "failed": set(),
    "cancelled": set(),
}
ACTION_TABLE: dict[str, set[str]] = {
    "proposed": {"accepted", "rejected"},
    "accepted": {"executed", "rejected"},
    "rejected": set(),
    "executed": set(),
}
BRANCH_TABLE: dict[str, set[str]] = {
    "open": {"chosen", "rejected"},
    "chosen": set(),
    "rejected": set(),
}
IMPORT_BATCH_TABLE: dict[str, set[str]] = {
    "uploaded": {"parsed", "failed"},
    "parsed": {"mapped", "failed"},
    "mapped": {"proposed", "failed"},
    "proposed": {"approved", "mapped", "failed"},
    "approved": {"committed", "failed"},
    "committed": set(),
    "failed": {"uploaded"},
}
LEAD_STATUS_TABLE: dict[str, set[str]] = {
    "open": {"qualified", "disqualified", "converted"},
    "qualified": {"disqualified", "converted"},
    "disqualified": {"open"},
    "converted": set(),
}
PIPELINE_TABLE: dict[str, set[str]] = {
    "new": {"contacted", "lost"},
    "contacted": {"site_visit_scheduled", "lost"},
    "site_visit_scheduled": {"site_visit_done", "contacted", "lost"},
    "site_visit_done": {"negotiation", "lost"},
    "negotiation": {"booking", "lost"},
    "booking": {"won", "lost"},
    "won": set(),
    "lost": set(),
}


@attrs.frozen
class Case:
    """One lifecycle under test and what the documentation says of it."""

    name: str
    states: type[enum.Enum]
    initial: str
    table: dict[str, set[str]]
    terminal: frozenset[str]
    move: Callable[[Any, Any], Any]
    lifecycle: Lifecycle[Any]


def _case(
    lifecycle: Lifecycle[Any],
    states: type[enum.Enum],
    initial: str,
    table: dict[str, set[str]],
    terminal: set[str],
    move: Callable[[Any, Any], Any] | None = None,
    label: str | None = None,
) -> Any:
    case = Case(
        lifecycle.name,
        states,
        initial,
        table,
        frozenset(terminal),
        move or lifecycle.transition,
        lifecycle,
    )
    return pytest.param(case, id=label or lifecycle.name.replace(" ", "_"))


CASES = [
    _case(WRITEBACK, WritebackStatus, "draft", WRITEBACK_TABLE, {"executed", "rejected", "failed"}),
    _case(
        AGENT_RUN,
        AgentRunStatus,
        "running",
        AGENT_RUN_TABLE,
        {"succeeded", "failed", "cancelled"},
    ),
    _case(ACTION, ActionStatus, "proposed", ACTION_TABLE, {"rejected", "executed"}),
    _case(BRANCH, BranchStatus, "open", BRANCH_TABLE, {"chosen", "rejected"}),
    _case(IMPORT_BATCH, ImportBatchStatus, "uploaded", IMPORT_BATCH_TABLE, {"committed"}),
    _case(LEAD_STATUS, LeadStatus, "open", LEAD_STATUS_TABLE, {"converted"}),
    _case(DEFAULT_PIPELINE.lifecycle, OpportunityStage, "new", PIPELINE_TABLE, {"won", "lost"}),
]
# The Pipeline's own transition method must agree with its lifecycle.
PIPELINE_CASE = _case(
    DEFAULT_PIPELINE.lifecycle,
    OpportunityStage,
    "new",
    PIPELINE_TABLE,
    {"won", "lost"},
    move=DEFAULT_PIPELINE.transition,
    label="Pipeline.transition",
)


def _next_target(data: st.DataObject, states: type[enum.Enum], allowed: set[str]) -> Any:
    """Any state, or (half the time, when there is one) an allowed one, so walks go deep."""
    anything = st.sampled_from(list(states))
    if not allowed:
        return data.draw(anything)
    permitted = st.sampled_from(sorted(allowed)).map(states)
    return data.draw(st.one_of(anything, permitted))


def _assert_refusal(error: InvalidTransition, case: Case, current: Any, target: Any) -> None:
    names = f"from {current.value} to {target.value}"
    expected = case.table[current.value]
    assert error.current is current
    assert error.target is target
    assert error.allowed == tuple(sorted(expected))
    message = str(error)
    assert message.startswith(f"{case.name}: ")
    assert names in message
    if expected:
        assert message.endswith("allowed: " + ", ".join(sorted(expected)))
    else:
        assert message.endswith("allowed: none (terminal state)")


def _walk(case: Case, data: st.DataObject, start: Any, steps: int) -> None:
    state = start
    for _ in range(steps):
        target = _next_target(data, case.states, case.table[state.value])
        if target.value in case.table[state.value]:
            assert case.move(state, target) is target
            state = target
        else:
            before = state
            with pytest.raises(InvalidTransition) as caught:
                state = case.move(state, target)
            _assert_refusal(caught.value, case, before, target)
            assert state is before


@pytest.mark.parametrize("case", [*CASES, PIPELINE_CASE])
@given(data=st.data(), steps=st.integers(min_value=0, max_value=25))
def test_a_walk_from_the_initial_state_passes_exactly_the_allowed_moves(
    case: Case, data: st.DataObject, steps: int
) -> None:
    _walk(case, data, case.states(case.initial), steps)


@pytest.mark.parametrize("case", [*CASES, PIPELINE_CASE])
@given(data=st.data(), steps=st.integers(min_value=1, max_value=10))
def test_a_walk_from_any_state_passes_exactly_the_allowed_moves(
    case: Case, data: st.DataObject, steps: int
) -> None:
    start = data.draw(st.sampled_from(list(case.states)))
    _walk(case, data, start, steps)


@pytest.mark.parametrize("case", CASES)
def test_the_expected_table_names_every_state_and_the_terminal_ones_are_documented(
    case: Case,
) -> None:
    assert set(case.table) == {s.value for s in case.states}
    assert {s for s, targets in case.table.items() if not targets} == case.terminal
    assert {s.value for s in case.states if case.lifecycle.is_terminal(s)} == case.terminal


def test_only_won_and_lost_close_a_deal() -> None:
    closed = {s.value for s in OpportunityStage if not DEFAULT_PIPELINE.is_open(s)}
    assert closed == {"won", "lost"}


# --- shared world for the service tests -------------------------------------------------------

SLOW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _the_opportunity(velocity: Velocity, w: World) -> Opportunity:
    page = velocity.opportunities.list(w.admin, person_id=w.client_b.key)
    assert len(page.items) == 1
    return page.items[0]


def _opportunity_row(velocity: Velocity, key: UUID) -> Opportunity | None:
    with unit_of_work(velocity) as uow:
        return uow.crm.opportunities.find(key)


# --- 2. the writeback lifecycle through the service -------------------------------------------

_counter = itertools.count()


@attrs.define
class Proposal:
    """A proposal made for one example, and what its execution must change."""

    writeback_id: UUID
    proposer: str
    status: WritebackStatus
    target: UUID
    field: str
    before: Any
    after: Any
    creates: bool


def _propose(velocity: Velocity, w: World, kind: str) -> Proposal:
    opportunity = _the_opportunity(velocity, w)
    n = next(_counter)
    if kind == "create by admin":
        key = new_id()
        fields: dict[str, Any] = {
            "opportunity_id": key,
            "person_id": w.client_a.key,  # client_b keeps one deal, the update target
            "next_action": f"first call #{n}",
        }
        writeback = velocity.writebacks.propose(
            w.admin, target_table="crm_opportunities", change_kind=ChangeKind.CREATE, fields=fields
        )
        return Proposal(
            writeback.key,
            "admin",
            writeback.status,
            key,
            "next_action",
            None,
            fields["next_action"],
            creates=True,
        )
    proposer, field, value = {
        # an agent's change: the default policy sends it to review
        "next_action by oracle_agent": ("oracle_agent", "next_action", f"call back #{n}"),
        # a human's low-risk change: approved at once
        "next_action by sales_manager": ("sales_manager", "next_action", f"send brochure #{n}"),
        # a change of deal value: reviewed, and the operator proposed it so cannot approve
        "value by operator": ("operator", "value", Decimal(1000 + n)),
    }[kind]
    writeback = velocity.writebacks.propose(
        w.by_role[proposer],
        target_table="crm_opportunities",
        change_kind=ChangeKind.UPDATE,
        target_ref=opportunity.key,
        base_version=opportunity.version,
        fields={field: value},
    )
    return Proposal(
        writeback.key,
        proposer,
        writeback.status,
        opportunity.key,
        field,
        getattr(opportunity, field),
        value,
        creates=False,
    )


INITIAL_STATUS = {
    "next_action by oracle_agent": WritebackStatus.REVIEW_REQUIRED,
    "next_action by sales_manager": WritebackStatus.APPROVED,
    "value by operator": WritebackStatus.REVIEW_REQUIRED,
    "create by admin": WritebackStatus.APPROVED,
}

ACTIONS = (
    "approve by operator",
    "approve by admin",
    "approve by oracle_agent",
    "reject by operator",
    "execute",
)
_R = WritebackStatus.REVIEW_REQUIRED


@attrs.frozen
class Expected:
    """What one action must do: raise ``error`` (status unchanged) or move to ``status``."""

    status: WritebackStatus
    error: type[Exception] | None = None
    target: WritebackStatus | None = None  # the move an InvalidTransition names
    applies: bool = False
    votes: int = 0


def _expect(model: Proposal, action: str) -> Expected:
    status = model.status
    if action.startswith("approve by "):
        approver = action.removeprefix("approve by ")
        if approver == "oracle_agent":  # the role lacks workflow.writebacks.approve
            return Expected(status, PermissionDenied)
        if approver == model.proposer:  # four eyes
            return Expected(status, ApprovalRefused)
        if status is not _R:
            return Expected(status, InvalidTransition, WritebackStatus.APPROVED)
        return Expected(WritebackStatus.APPROVED, votes=1)
    if action == "reject by operator":
        # Under review it is decided; approved and not yet executed it is withdrawn.
        if status not in {_R, WritebackStatus.APPROVED}:
            return Expected(status, InvalidTransition, WritebackStatus.REJECTED)
        # Each rejection, a withdrawal too, is a decision row of its own.
        return Expected(WritebackStatus.REJECTED, votes=1)
    if action == "execute":
        if status is WritebackStatus.EXECUTED:
            return Expected(status)
        if status is not WritebackStatus.APPROVED:
            return Expected(status, InvalidTransition, WritebackStatus.EXECUTED)
        return Expected(WritebackStatus.EXECUTED, applies=True)
    raise AssertionError(f"unknown action {action}")


def _act(velocity: Velocity, w: World, action: str, writeback_id: UUID) -> Any:
    if action.startswith("approve by "):
        who = action.removeprefix("approve by ")
        approver = w.admin if who == "admin" else w.by_role[who]
        return velocity.writebacks.approve(approver, writeback_id, comment="looks right")
    operator = w.by_role["operator"]
    if action == "reject by operator":
        return velocity.writebacks.reject(operator, writeback_id, comment="not this one")
    assert action == "execute"
    return velocity.writebacks.execute(operator, writeback_id)


def _canonical(velocity: Velocity, model: Proposal) -> Any:
    row = _opportunity_row(velocity, model.target)
    if model.creates:
        return None if row is None else row.next_action
    assert row is not None
    return getattr(row, model.field)


@SLOW
@given(
    kind=st.sampled_from(sorted(INITIAL_STATUS)),
    actions=st.lists(st.sampled_from(ACTIONS), max_size=8),
)
@example(
    kind="next_action by oracle_agent",
    actions=["approve by oracle_agent", "approve by operator", "execute", "execute"],
)
@example(kind="value by operator", actions=["approve by operator", "approve by admin", "execute"])
@example(kind="next_action by oracle_agent", actions=["reject by operator", "approve by admin"])
@example(kind="create by admin", actions=["approve by admin", "reject by operator", "execute"])
@example(
    kind="next_action by oracle_agent",
    actions=["approve by operator", "reject by operator", "execute"],
)
def test_the_writeback_lifecycle_through_the_service(
    any_velocity: tuple[Velocity, FixedClock], world: World, kind: str, actions: list[str]
) -> None:
    velocity, clock = any_velocity
    model = _propose(velocity, world, kind)
    assert model.status is INITIAL_STATUS[kind]
    executed = False
    votes = 0
    for action in actions:
        clock.advance(seconds=1)
        expected = _expect(model, action)
        if expected.error is not None:
            with pytest.raises(expected.error) as caught:
                _act(velocity, world, action, model.writeback_id)
            if isinstance(caught.value, InvalidTransition):
                assert caught.value.current is model.status
                assert caught.value.target is expected.target
        else:
            result = _act(velocity, world, action, model.writeback_id)
            returned = result.writeback if action == "execute" else result
            assert returned.status is expected.status
            if action == "execute":
                assert result.applied is expected.applies
            executed = executed or expected.applies
            votes += expected.votes
            model.status = expected.status
        review = velocity.writebacks.get(world.admin, model.writeback_id)
        assert review.writeback.status is model.status, (kind, action)
        assert len(review.approvals) == votes
        assert _canonical(velocity, model) == (model.after if executed else model.before)


# --- 3. the opportunity pipeline through move_stage -------------------------------------------


def _history(velocity: Velocity, opportunity_id: UUID) -> list[StageHistory]:
    query = Query(
        (Eq("entity_type", StagedEntity.OPPORTUNITY), Eq("entity_id", opportunity_id)),
        (asc("changed_at"), asc("stage_history_id")),
    )
    with unit_of_work(velocity) as uow:
        return list(uow.crm.stage_history.list(query))


#: The main path of the documented pipeline: where "forward" leads from each open stage.
FORWARD = {
    "new": "contacted",
    "contacted": "site_visit_scheduled",
    "site_visit_scheduled": "site_visit_done",
    "site_visit_done": "negotiation",
    "negotiation": "booking",
    "booking": "won",
}
ALL_STAGES = list(OpportunityStage)
#: Each step of a script: the next stage on the main path, one the table allows, or any.
STEP = st.tuples(
    st.sampled_from(["forward", "forward", "allowed", "any"]),
    st.integers(min_value=0, max_value=len(ALL_STAGES) - 1),
)


def _stages(script: list[tuple[str, int]]) -> Iterator[OpportunityStage]:
    """Turn a script into target stages, tracking where the expected table says the deal is."""
    stage = "new"
    for mode, index in script:
        allowed = sorted(PIPELINE_TABLE[stage])
        if mode == "forward" and stage in FORWARD:
            target = OpportunityStage(FORWARD[stage])
        elif mode == "allowed" and allowed:
            target = OpportunityStage(allowed[index % len(allowed)])
        else:
            target = ALL_STAGES[index]
        yield target
        if target.value in PIPELINE_TABLE[stage]:
            stage = target.value


@SLOW
@given(script=st.lists(STEP, min_size=1, max_size=12))
@example(script=[("forward", 0)] * 7)  # all the way to won, then one refused move
@example(script=[("forward", 0), ("forward", 0), ("any", 1), ("any", 7), ("any", 0)])
def test_stage_moves_pass_exactly_the_pipeline_and_closing_moves_need_an_approval(
    any_velocity: tuple[Velocity, FixedClock], world: World, script: list[tuple[str, int]]
) -> None:
    velocity, clock = any_velocity
    mover = world.by_role["sales_manager"]
    operator = world.by_role["operator"]
    deal = velocity.opportunities.create(mover, person_id=world.client_b.key)
    stage = OpportunityStage.NEW
    moves: list[tuple[str | None, str]] = [(None, "new")]
    for target in _stages(script):
        clock.advance(seconds=1)
        version = velocity.opportunities.get(mover, deal.key).version
        lost_reason = "bought elsewhere" if target is OpportunityStage.LOST else None
        move = functools.partial(
            velocity.opportunities.move_stage,
            mover,
            deal.key,
            target,
            expected_version=version,
            lost_reason=lost_reason,
        )
        if target.value not in PIPELINE_TABLE[stage.value]:
            with pytest.raises(InvalidTransition) as refused:
                move()
            assert refused.value.current is stage
            assert refused.value.target is target
        elif target.value in {"won", "lost"}:
            with pytest.raises(ApprovalRequired) as held:
                move()
            assert velocity.opportunities.get(mover, deal.key).stage is stage
            assert len(_history(velocity, deal.key)) == len(moves)
            proposal_id = held.value.proposal_id
            assert isinstance(proposal_id, UUID)
            velocity.writebacks.approve(operator, proposal_id, comment="closing")
            execution = velocity.writebacks.execute(operator, proposal_id)
            assert execution.applied
            moves.append((stage.value, target.value))
            stage = target
        else:
            assert move().stage is target
            moves.append((stage.value, target.value))
            stage = target
        now = velocity.opportunities.get(mover, deal.key)
        assert now.stage is stage
        assert (now.closed_at is not None) is (stage.value in {"won", "lost"})
        history = _history(velocity, deal.key)
        assert [(h.from_stage, h.to_stage) for h in history] == moves
