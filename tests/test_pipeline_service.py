"""Leads, lead conversion, opportunities and the stage pipeline, on both stores."""

from __future__ import annotations

import functools
import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from tests.support.governance import release
from tests.support.world import World, build
from velocity_domain import Velocity
from velocity_domain.crm.entities import (
    Lead,
    LeadStatus,
    Opportunity,
    OpportunityStage,
    Person,
    StagedEntity,
    StageHistory,
)
from velocity_domain.crm.lifecycle import DEFAULT_PIPELINE, DEFAULT_TABLE, Pipeline
from velocity_domain.errors import (
    ConcurrencyConflict,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from velocity_domain.inventory.entities import Project, Unit
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.query import Eq, Query, asc
from velocity_domain.testing import unit_of_work

S = OpportunityStage
FORWARD = [
    S.CONTACTED,
    S.SITE_VISIT_SCHEDULED,
    S.SITE_VISIT_DONE,
    S.NEGOTIATION,
    S.BOOKING,
    S.WON,
]


def _person(velocity: Velocity, name: str = "Mira Das") -> Person:
    person = Person(full_name=name)
    with unit_of_work(velocity) as uow:
        uow.crm.people.add(person)
        uow.commit()
    return person


def _project(velocity: Velocity) -> tuple[Project, Unit]:
    project = Project(project_name="Skyline Towers")
    unit = Unit(project_id=project.key, unit_label="A-1203")
    with unit_of_work(velocity) as uow:
        uow.inventory.projects.add(project)
        uow.inventory.units.add(unit)
        uow.commit()
    return project, unit


def _history(velocity: Velocity, opportunity_id: UUID) -> list[StageHistory]:
    query = Query(
        (Eq("entity_type", StagedEntity.OPPORTUNITY), Eq("entity_id", opportunity_id)),
        (asc("changed_at"), asc("stage_history_id")),
    )
    with unit_of_work(velocity) as uow:
        return list(uow.crm.stage_history.list(query))


def _actions(velocity: Velocity, w: World, action: str) -> list[str | None]:
    return [e.target_ref for e in velocity.audit.list(w.admin, action=action)]


# --- the pipeline itself -------------------------------------------------------------------


def test_the_default_pipeline_goes_forward_and_to_lost() -> None:
    stages = [S.NEW, *FORWARD]
    for current, following in itertools.pairwise(stages):
        assert following in DEFAULT_PIPELINE.allowed(current)
        assert S.LOST in DEFAULT_PIPELINE.allowed(current)
    assert DEFAULT_PIPELINE.allowed(S.SITE_VISIT_SCHEDULED) == {
        S.SITE_VISIT_DONE,
        S.CONTACTED,
        S.LOST,
    }
    assert DEFAULT_PIPELINE.allowed(S.WON) == frozenset()
    assert DEFAULT_PIPELINE.allowed(S.LOST) == frozenset()
    with pytest.raises(InvalidTransition) as err:
        DEFAULT_PIPELINE.transition(S.NEW, S.BOOKING)
    assert err.value.allowed == ("contacted", "lost")
    assert DEFAULT_PIPELINE.stages == tuple(OpportunityStage)


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        ({}, "non-empty"),
        ({"new": ["won", "lost"], "won": ["new"]}, "won must be terminal"),
        ({"new": ["won", "lost"], "lost": ["new"]}, "lost must be terminal"),
        ({"new": ["won"]}, "lost is never reached"),
        ({"new": ["lost", "booking"]}, "booking is a dead end"),
        ({"new": ["won", "lost"], "negotiation": ["won"]}, "negotiation is never reached"),
        ({"new": ["won", "lost", "closed"]}, "'closed' is not a stage"),
        ({"new": "won"}, "must be a collection"),
    ],
)
def test_a_host_pipeline_is_checked_when_built(table: Any, reason: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        Pipeline(table)
    assert err.value.field == "table"
    assert reason in err.value.reason


def test_a_host_pipeline_may_skip_stages() -> None:
    short = Pipeline({"new": ["negotiation", "lost"], "negotiation": ["won", "lost"]})
    assert short.stages == (S.NEW, S.NEGOTIATION, S.WON, S.LOST)
    assert short.transition(S.NEW, S.NEGOTIATION) is S.NEGOTIATION
    assert Pipeline(dict(DEFAULT_TABLE)).allowed(S.BOOKING) == {S.WON, S.LOST}


# --- leads ---------------------------------------------------------------------------------


def test_an_agent_creates_a_lead_they_hold_and_only_they_see(
    world: World,
) -> None:
    velocity, clock = world.velocity, world.clock
    w = world
    person = _person(velocity)
    lead = velocity.leads.create(
        w.agent_a, person_id=person.key, source_system="whatsapp", urgency="high"
    )
    assert lead.assigned_user_id == w.agent_a.user_id
    assert lead.status is LeadStatus.OPEN
    assert lead.created_at == clock.now()
    assert velocity.leads.get(w.agent_a, lead.key) == lead
    assert velocity.contacts.get(w.agent_a, person.key) == person
    with pytest.raises(NotFound):
        velocity.leads.get(w.agent_b, lead.key)
    assert lead.key not in {x.key for x in velocity.leads.list(w.agent_b)}
    assert lead.key in {x.key for x in velocity.leads.list(w.agent_a)}
    assert lead.key in {x.key for x in velocity.leads.list(w.admin, source_system="whatsapp")}
    assert _actions(velocity, w, "crm.leads.create") == [str(lead.key)]
    manager_made = velocity.leads.create(
        w.by_role["sales_manager"], person_id=_person(velocity, "Ira Sen").key, source_system="web"
    )
    assert manager_made.assigned_user_id is None


def test_an_agent_cannot_open_a_lead_on_another_agents_client(
    world: World,
) -> None:
    velocity = world.velocity
    w = world
    with pytest.raises(ValidationFailed) as err:
        velocity.leads.create(w.agent_a, person_id=w.client_b.key, source_system="web")
    assert err.value.field == "person_id"
    lead = velocity.leads.create(w.admin, person_id=w.client_b.key, source_system="web")
    assert lead.person_id == w.client_b.key


def test_assigning_a_lead_honours_its_version(
    world: World,
) -> None:
    velocity = world.velocity
    w = world
    assert w.agent_b.user_id is not None
    lead = velocity.leads.list(w.agent_a).items[0]
    moved = release(
        velocity,
        w.by_role["operator"],
        lambda: velocity.leads.assign(
            w.by_role["sales_manager"], lead.key, w.agent_b.user_id, expected_version=lead.version
        ),
    )
    assert velocity.leads.get(w.admin, lead.key) == moved
    assert moved.assigned_user_id == w.agent_b.user_id
    assert moved.version == lead.version + 1
    with pytest.raises(ConcurrencyConflict):
        velocity.leads.assign(w.admin, lead.key, None, expected_version=lead.version)
    with pytest.raises(NotFound):
        velocity.leads.get(w.agent_a, lead.key)
    assert _actions(velocity, w, "crm.leads.assign") == [str(lead.key)]


# --- conversion ----------------------------------------------------------------------------


def test_converting_a_lead_opens_an_opportunity_with_its_first_stage(
    world: World,
) -> None:
    velocity, clock = world.velocity, world.clock
    w = world
    project, unit = _project(velocity)
    lead = velocity.leads.list(w.agent_a).items[0]
    converted, opp = velocity.leads.convert(
        w.agent_a,
        lead.key,
        expected_version=lead.version,
        project_id=project.key,
        unit_id=unit.key,
        value=Decimal("12000000"),
    )
    assert converted.status is LeadStatus.CONVERTED
    assert converted.converted_opportunity_id == opp.key
    assert converted.converted_at == clock.now()
    assert (opp.person_id, opp.lead_id, opp.stage) == (lead.person_id, lead.key, S.NEW)
    assert opp.assigned_user_id == w.agent_a.user_id
    assert opp.value == Decimal("12000000.00")
    assert velocity.opportunities.get(w.agent_a, opp.key) == opp
    assert velocity.leads.get(w.agent_a, lead.key) == converted
    [entry] = _history(velocity, opp.key)
    assert (entry.from_stage, entry.to_stage) == (None, "new")
    assert entry.changed_by_user_id == w.agent_a.user_id
    assert _actions(velocity, w, "crm.leads.convert") == [str(lead.key)]
    assert _actions(velocity, w, "crm.opportunities.create") == [str(opp.key)]
    with pytest.raises(InvalidTransition):
        velocity.leads.convert(w.agent_a, lead.key, expected_version=converted.version)


def test_a_lead_can_join_an_open_opportunity_of_its_person(
    world: World,
) -> None:
    velocity = world.velocity
    w = world
    existing = velocity.opportunities.create(w.agent_a, person_id=w.client_a.key)
    lead = velocity.leads.create(w.agent_a, person_id=w.client_a.key, source_system="call")
    converted, opp = velocity.leads.convert(
        w.agent_a, lead.key, expected_version=lead.version, into_opportunity_id=existing.key
    )
    assert opp == existing
    assert converted.converted_opportunity_id == existing.key
    assert len(_history(velocity, existing.key)) == 1
    assert _actions(velocity, w, "crm.opportunities.create") == [str(existing.key)]


def test_a_lead_cannot_join_a_closed_or_foreign_opportunity(
    world: World,
) -> None:
    velocity = world.velocity
    w = world
    opened = velocity.opportunities.create(w.admin, person_id=w.client_a.key)
    closed = release(
        velocity,
        w.by_role["operator"],
        lambda: velocity.opportunities.move_stage(
            w.admin, opened.key, "lost", expected_version=opened.version, lost_reason="budget"
        ),
    )
    foreign = velocity.opportunities.list(w.admin, person_id=w.client_b.key).items[0]
    lead = velocity.leads.list(w.agent_a).items[0]
    for target, reason in ((closed.key, "closed"), (foreign.key, "no such"), (new_id(), "no such")):
        with pytest.raises(ValidationFailed) as err:
            velocity.leads.convert(
                w.agent_a, lead.key, expected_version=lead.version, into_opportunity_id=target
            )
        assert err.value.field == "into_opportunity_id"
        assert reason in err.value.reason
    assert velocity.leads.get(w.agent_a, lead.key).status is LeadStatus.OPEN


def test_a_stale_conversion_changes_nothing(world: World) -> None:
    velocity = world.velocity
    w = world
    lead = velocity.leads.list(w.agent_a).items[0]
    before = velocity.opportunities.list(w.admin).items
    with pytest.raises(ConcurrencyConflict):
        velocity.leads.convert(w.agent_a, lead.key, expected_version=lead.version + 1)
    assert velocity.opportunities.list(w.admin).items == before
    assert velocity.leads.get(w.agent_a, lead.key) == lead
    assert _actions(velocity, w, "crm.leads.convert") == []
    with pytest.raises(NotFound):
        velocity.leads.convert(w.agent_b, lead.key, expected_version=lead.version)


# --- opportunities and stage moves ---------------------------------------------------------


def test_a_deal_moves_to_won_with_history_and_time_in_stages(
    world: World,
) -> None:
    velocity, clock = world.velocity, world.clock
    w = world
    opp = velocity.opportunities.create(w.agent_a, person_id=w.client_a.key)
    assert (opp.stage, opp.assigned_user_id) == (S.NEW, w.agent_a.user_id)
    start = clock.now()
    for hours, stage in enumerate(FORWARD, start=1):
        clock.advance(timedelta(hours=hours))
        move = functools.partial(
            velocity.opportunities.move_stage,
            w.agent_a,
            opp.key,
            stage,
            expected_version=opp.version,
            reason=f"step {hours}",
        )
        # Closing a deal is high-risk by default: an operator approves it first.
        opp = release(velocity, w.by_role["operator"], move) if stage is S.WON else move()
    assert opp.stage is S.WON
    assert opp.closed_at == clock.now()
    history = _history(velocity, opp.key)
    assert [(h.from_stage, h.to_stage) for h in history] == [
        (None, "new"),
        *[(a.value, b.value) for a, b in zip([S.NEW, *FORWARD], FORWARD, strict=False)],
    ]
    assert history[1].reason == "step 1"
    spans = velocity.opportunities.time_in_stages(w.agent_a, opp.key)
    assert [s.stage for s in spans] == [S.NEW, *FORWARD]
    assert spans[0].entered_at == start
    assert [s.duration for s in spans] == [timedelta(hours=h) for h in range(1, 7)] + [timedelta(0)]
    assert spans[-1].left_at is None
    assert len(_actions(velocity, w, "crm.opportunities.move_stage")) == len(FORWARD)
    with pytest.raises(InvalidTransition):
        velocity.opportunities.move_stage(
            w.agent_a, opp.key, "lost", expected_version=opp.version, lost_reason="late"
        )
    with pytest.raises(NotFound):
        velocity.opportunities.time_in_stages(w.agent_b, opp.key)


def test_the_current_open_stage_runs_to_now(world: World) -> None:
    velocity, clock = world.velocity, world.clock
    w = world
    opp = velocity.opportunities.create(w.admin, person_id=w.client_a.key)
    clock.advance(timedelta(minutes=30))
    [span] = velocity.opportunities.time_in_stages(w.admin, opp.key)
    assert (span.stage, span.left_at, span.duration) == (S.NEW, None, timedelta(minutes=30))


def test_lost_needs_a_reason_and_moves_follow_the_pipeline(
    world: World,
) -> None:
    velocity, clock = world.velocity, world.clock
    w = world
    opp = velocity.opportunities.create(w.agent_a, person_id=w.client_a.key)
    with pytest.raises(InvalidTransition) as err:
        velocity.opportunities.move_stage(w.agent_a, opp.key, S.BOOKING, expected_version=1)
    assert (err.value.current, err.value.target) == (S.NEW, S.BOOKING)
    with pytest.raises(ValidationFailed) as bad:
        velocity.opportunities.move_stage(w.agent_a, opp.key, "lost", expected_version=1)
    assert bad.value.field == "lost_reason"
    with pytest.raises(ValidationFailed) as bad:
        velocity.opportunities.move_stage(
            w.agent_a, opp.key, "contacted", expected_version=1, lost_reason="x"
        )
    assert bad.value.field == "lost_reason"
    opp = velocity.opportunities.move_stage(w.agent_a, opp.key, "contacted", expected_version=1)
    opp = velocity.opportunities.move_stage(
        w.agent_a, opp.key, "site_visit_scheduled", expected_version=opp.version
    )
    opp = velocity.opportunities.move_stage(
        w.agent_a, opp.key, "contacted", expected_version=opp.version, reason="visit cancelled"
    )
    with pytest.raises(ConcurrencyConflict):
        velocity.opportunities.move_stage(
            w.agent_a, opp.key, "lost", expected_version=1, lost_reason="stale"
        )
    lost = release(
        velocity,
        w.by_role["operator"],
        lambda: velocity.opportunities.move_stage(
            w.agent_a,
            opp.key,
            "lost",
            expected_version=opp.version,
            lost_reason="bought elsewhere",
        ),
    )
    assert (lost.stage, lost.lost_reason, lost.closed_at) == (
        S.LOST,
        "bought elsewhere",
        clock.now(),
    )
    assert len(_history(velocity, opp.key)) == 5
    with pytest.raises(NotFound):
        velocity.opportunities.move_stage(
            w.agent_b, opp.key, "contacted", expected_version=lost.version
        )


def test_a_host_replaces_the_pipeline(world: World) -> None:
    velocity = world.velocity
    w = world
    velocity.opportunities.pipeline = Pipeline(
        {"new": ["booking", "lost"], "booking": ["won", "lost"]}, name="quick sale"
    )
    opp = velocity.opportunities.create(w.admin, person_id=w.client_a.key)
    opp = velocity.opportunities.move_stage(w.admin, opp.key, "booking", expected_version=1)
    assert opp.stage is S.BOOKING
    with pytest.raises(InvalidTransition) as err:
        velocity.opportunities.move_stage(
            w.admin, opp.key, "negotiation", expected_version=opp.version
        )
    assert err.value.lifecycle == "quick sale"


def test_updating_details_lists_and_visibility(world: World) -> None:
    velocity = world.velocity
    w = world
    project, unit = _project(velocity)
    opp = velocity.opportunities.create(w.agent_a, person_id=w.client_a.key)
    changed = velocity.opportunities.update(
        w.agent_a,
        opp.key,
        expected_version=opp.version,
        project_id=project.key,
        unit_id=unit.key,
        probability=Decimal("0.4"),
        next_action="Send brochure",
    )
    assert (changed.project_id, changed.unit_id, changed.stage) == (project.key, unit.key, S.NEW)
    assert changed.version == opp.version + 1
    # A change of value is high-risk by default: it waits for an operator.
    changed = release(
        velocity,
        w.by_role["operator"],
        lambda: velocity.opportunities.update(
            w.agent_a, opp.key, expected_version=changed.version, value=Decimal("9500000")
        ),
    )
    assert (changed.value, changed.next_action) == (Decimal("9500000.00"), "Send brochure")
    with pytest.raises(ConcurrencyConflict):
        velocity.opportunities.update(w.agent_a, opp.key, expected_version=1, next_action="x")
    cleared = velocity.opportunities.update(
        w.agent_a, opp.key, expected_version=changed.version, next_action=None
    )
    assert cleared.next_action is None
    assert _actions(velocity, w, "crm.opportunities.update") == [str(opp.key)] * 3
    by_project = velocity.opportunities.list(w.admin, project_id=project.key)
    assert [o.key for o in by_project] == [opp.key]
    assert [o.key for o in velocity.opportunities.list(w.agent_a)] == [opp.key]
    assert opp.key not in {o.key for o in velocity.opportunities.list(w.agent_b)}
    assert len(velocity.opportunities.list(w.admin, stage="new").items) == 2
    assert velocity.opportunities.list(w.admin, stage="won").items == ()
    mine = velocity.opportunities.list(w.admin, assigned_user_id=w.agent_b.user_id)
    assert [o.person_id for o in mine] == [w.client_b.key]
    with pytest.raises(NotFound):
        velocity.opportunities.get(w.agent_b, opp.key)
    with pytest.raises(NotFound):
        velocity.opportunities.update(
            w.agent_b, opp.key, expected_version=cleared.version, next_action="mine now"
        )


# --- bad input -----------------------------------------------------------------------------

LONG = "x" * 600


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"person_id": "not-a-uuid"}, "person_id"),
        ({"person_id": None}, "person_id"),
        ({"person_id": "UNKNOWN"}, "person_id"),
        ({"source_system": ""}, "source_system"),
        ({"source_system": "   "}, "source_system"),
        ({"source_system": 42}, "source_system"),
        ({"source_system": LONG}, "source_system"),
        ({"source_system": "web\x00"}, "source_system"),
        ({"source_ref": "ref\n1"}, "source_ref"),
        ({"budget_band": LONG}, "budget_band"),
        ({"urgency": "tomorrow"}, "urgency"),
        ({"account_id": "UNKNOWN"}, "account_id"),
        ({"assigned_user_id": "UNKNOWN"}, "assigned_user_id"),
        ({"assigned_user_id": 7}, "assigned_user_id"),
    ],
)
def test_bad_lead_input_names_the_field(
    any_velocity: tuple[Velocity, FixedClock], changes: dict[str, Any], field: str
) -> None:
    velocity, _ = any_velocity
    w = build(velocity)
    args: dict[str, Any] = {"person_id": w.client_a.key, "source_system": "web"}
    args.update({k: new_id() if v == "UNKNOWN" else v for k, v in changes.items()})
    with pytest.raises(ValidationFailed) as err:
        velocity.leads.create(w.admin, **args)
    assert err.value.field == field
    with pytest.raises(NotFound):
        velocity.leads.get(w.admin, new_id())
    with pytest.raises(ValidationFailed) as err:
        velocity.leads.get(w.admin, "nope")  # type: ignore[arg-type]
    assert err.value.field == "lead_id"
    with pytest.raises(ValidationFailed) as err:
        velocity.leads.list(w.admin, status="pending")
    assert err.value.field == "status"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"person_id": "abc"}, "person_id"),
        ({"person_id": "UNKNOWN"}, "person_id"),
        ({"lead_id": "UNKNOWN"}, "lead_id"),
        ({"project_id": "UNKNOWN"}, "project_id"),
        ({"unit_id": "UNKNOWN"}, "unit_id"),
        ({"value": Decimal("-1")}, "value"),
        ({"value": 1.5}, "value"),
        ({"value": Decimal("1.234")}, "value"),
        ({"currency": "rupees"}, "currency"),
        ({"probability": Decimal("1.5")}, "probability"),
        ({"expected_close_date": "2026-01-01"}, "expected_close_date"),
        ({"next_action": ""}, "next_action"),
        ({"next_action": LONG}, "next_action"),
        ({"next_action": "call\x07"}, "next_action"),
        ({"source_system": "web"}, "source_ref"),
    ],
)
def test_bad_opportunity_input_names_the_field(
    any_velocity: tuple[Velocity, FixedClock], changes: dict[str, Any], field: str
) -> None:
    velocity, _ = any_velocity
    w = build(velocity)
    args: dict[str, Any] = {"person_id": w.client_a.key}
    args.update({k: new_id() if v == "UNKNOWN" else v for k, v in changes.items()})
    with pytest.raises(ValidationFailed) as err:
        velocity.opportunities.create(w.admin, **args)
    assert err.value.field == field
    opp = velocity.opportunities.create(w.admin, person_id=w.client_a.key)
    update_args = {k: v for k, v in args.items() if k not in {"person_id", "lead_id"}}
    if update_args and field not in {"person_id", "lead_id", "source_ref"}:
        with pytest.raises(ValidationFailed) as err:
            velocity.opportunities.update(w.admin, opp.key, expected_version=1, **update_args)
        assert err.value.field == field


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"opportunity_id": "abc", "to_stage": "contacted"}, "opportunity_id"),
        ({"to_stage": "closed"}, "to_stage"),
        ({"to_stage": 3}, "to_stage"),
        ({"to_stage": "contacted", "expected_version": 0}, "expected_version"),
        ({"to_stage": "contacted", "expected_version": "1"}, "expected_version"),
        ({"to_stage": "contacted", "reason": LONG}, "reason"),
        ({"to_stage": "contacted", "reason": "ok\x1b"}, "reason"),
        ({"to_stage": "lost", "lost_reason": ""}, "lost_reason"),
        ({"to_stage": "lost", "lost_reason": LONG}, "lost_reason"),
        ({"to_stage": "lost", "lost_reason": "a\x00b"}, "lost_reason"),
    ],
)
def test_bad_stage_moves_name_the_field(
    any_velocity: tuple[Velocity, FixedClock], args: dict[str, Any], field: str
) -> None:
    velocity, _ = any_velocity
    w = build(velocity)
    opp = velocity.opportunities.create(w.admin, person_id=w.client_a.key)
    call: dict[str, Any] = {"opportunity_id": opp.key, "expected_version": 1, **args}
    with pytest.raises(ValidationFailed) as err:
        velocity.opportunities.move_stage(
            w.admin, call.pop("opportunity_id"), call.pop("to_stage"), **call
        )
    assert err.value.field == field
    assert _history(velocity, opp.key)[-1].to_stage == "new"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"lead_id": "abc"}, "lead_id"),
        ({"expected_version": -3}, "expected_version"),
        ({"project_id": "UNKNOWN"}, "project_id"),
        ({"unit_id": "UNKNOWN"}, "unit_id"),
        ({"value": Decimal("NaN")}, "value"),
        ({"into_opportunity_id": "abc"}, "into_opportunity_id"),
        ({"into_opportunity_id": "UNKNOWN"}, "into_opportunity_id"),
    ],
)
def test_bad_conversions_name_the_field(
    any_velocity: tuple[Velocity, FixedClock], args: dict[str, Any], field: str
) -> None:
    velocity, _ = any_velocity
    w = build(velocity)
    lead: Lead = velocity.leads.list(w.admin, person_id=w.client_a.key).items[0]
    call: dict[str, Any] = {"lead_id": lead.key, "expected_version": lead.version}
    call.update({k: new_id() if v == "UNKNOWN" else v for k, v in args.items()})
    with pytest.raises(ValidationFailed) as err:
        velocity.leads.convert(w.admin, call.pop("lead_id"), **call)
    assert err.value.field == field
    assert velocity.leads.get(w.admin, lead.key).status is LeadStatus.OPEN
    opps: list[Opportunity] = list(velocity.opportunities.list(w.admin, person_id=w.client_a.key))
    assert opps == []
