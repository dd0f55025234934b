"""Client 360: one client's whole picture, on both stores, within visibility, at a fixed cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.merge_graph import MergeGraph, build_graph
from tests.support.pg_harness import Statements
from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.access import Principal
from velocity_domain.crm.entities import Lead, Opportunity, Person
from velocity_domain.errors import NotFound, ValidationFailed
from velocity_domain.intel.entities import Channel, Interaction
from velocity_domain.kernel.query import Eq
from velocity_domain.testing import seed, unit_of_work

T0 = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture
def merge_graph(world: World) -> MergeGraph:
    return build_graph(world.velocity)


def test_the_view_gathers_every_part_of_the_client(world: World, merge_graph: MergeGraph) -> None:
    velocity, g = world.velocity, merge_graph
    admin = world.admin
    view = velocity.client_graph.client_360(admin, g.client.key)
    with unit_of_work(velocity) as uow:
        mine = Eq("person_id", g.client.key)
        leads = uow.crm.leads.count(mine)
        deals = uow.crm.opportunities.list().items
        interactions = uow.intel.interactions.count(mine)
        open_value = sum(
            (
                d.value
                for d in deals
                if d.person_id == g.client.key
                and d.value is not None
                and d.stage.value not in ("won", "lost")
            ),
            Decimal(0),
        )
    assert view.person.key == g.client.key
    assert len(view.leads) == leads > 0
    assert {d.opportunity.person_id for d in view.deals} == {g.client.key}
    assert all(d.time_in_stage.total_seconds() >= 0 for d in view.deals)
    assert sum(view.interactions_by_channel.values()) == interactions > 0
    assert len(view.interactions.items) == min(interactions, 50)
    assert view.household is not None
    assert g.world.spouse.key in {m.key for m in view.household_members}
    assert {r.to_person_id for r in view.relationships_from} >= {g.world.spouse.key}
    assert view.interests
    assert all(i.project is not None for i in view.interests if i.interest.project_id)
    assert view.qd
    assert sum(view.pipeline_value.values(), Decimal(0)) == open_value
    assert view.omitted == ()


def test_a_merged_client_answers_with_the_survivor_and_its_lineage(
    world: World, merge_graph: MergeGraph
) -> None:
    velocity, g = world.velocity, merge_graph
    manager = world.by_role["sales_manager"]
    before = velocity.client_graph.client_360(world.admin, g.client.key)
    merge = velocity.merges.propose(manager, [g.client.key, g.duplicate.key], reason="one")
    assert merge.writeback_id is not None
    velocity.writebacks.approve(world.by_role["operator"], merge.writeback_id)
    velocity.writebacks.approve(world.admin, merge.writeback_id)
    velocity.writebacks.execute(world.admin, merge.writeback_id)
    view = velocity.client_graph.client_360(world.admin, g.duplicate.key)
    assert view.person.key == g.client.key
    assert [m.key for m in view.merged_from] == [merge.key]
    assert len(view.leads) == 2 * len(before.leads)
    assert sum(view.interactions_by_channel.values()) > sum(before.interactions_by_channel.values())


def test_an_agent_sees_only_their_clients(world: World) -> None:
    velocity = world.velocity
    view = velocity.client_graph.client_360(world.agent_a, world.client_a.key)
    assert view.person.key == world.client_a.key
    with pytest.raises(NotFound):
        velocity.client_graph.client_360(world.agent_a, world.client_b.key)


def test_bad_arguments_are_refused_naming_them(world: World) -> None:
    with pytest.raises(ValidationFailed) as refused:
        world.velocity.client_graph.client_360(world.admin, "not an id")  # type: ignore[arg-type]
    assert refused.value.field == "client_id"
    with pytest.raises(ValidationFailed) as refused:
        world.velocity.client_graph.client_360(world.admin, world.client_a.key, interactions=0)
    assert refused.value.field == "interactions"


def test_deals_know_how_long_they_have_been_in_their_stage(world: World) -> None:
    velocity = world.velocity
    view = velocity.client_graph.client_360(world.admin, world.client_b.key)
    assert view.deals
    deal: Opportunity = view.deals[0].opportunity
    assert view.deals[0].stage_since >= deal.created_at


@pytest.mark.postgres
def test_the_view_costs_the_same_statements_whatever_the_history(pg_url: sa.URL) -> None:
    url = pg_url.render_as_string(hide_password=False)
    with Velocity.from_url(url) as velocity:
        office = Principal.system("office")
        counts = []
        for size in (2, 200):
            person = Person(full_name=f"History {size}")
            rows: list[Any] = [person]
            rows += [
                Interaction(
                    person_id=person.key,
                    channel=Channel.CALL if i % 2 else Channel.WHATSAPP,
                    happened_at=T0 + timedelta(minutes=i),
                )
                for i in range(size)
            ]
            rows += [Lead(person_id=person.key, source_system="web") for _ in range(size)]
            rows += [Opportunity(person_id=person.key, value=Decimal(100)) for _ in range(size)]
            seed(velocity, *rows)
            count = Statements()
            sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
            try:
                view = velocity.client_graph.client_360(office, person.key)
            finally:
                sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)
            assert len(view.leads) == size
            assert view.pipeline_value == {"INR": Decimal(100) * size}
            counts.append(len(count.seen))
        assert counts[0] == counts[1]


def test_parts_the_principal_may_not_read_are_left_empty_and_named(world: World) -> None:
    velocity = world.velocity
    analyst = world.by_role["analyst"]
    velocity.roles.set_permissions(
        world.admin, "analyst", ["crm.contacts.read", "crm.contacts.read_all", "crm.leads.read"]
    )
    narrowed = velocity.users.principal_for(world.admin, analyst.user_id)  # type: ignore[arg-type]
    view = velocity.client_graph.client_360(narrowed, world.client_a.key)
    assert view.leads
    assert view.interactions.items == ()
    assert view.interactions_by_channel == {}
    assert "interactions" in view.omitted
    assert "opportunities" in view.omitted
    assert "leads" not in view.omitted
    full = velocity.client_graph.client_360(world.admin, world.client_a.key)
    assert full.interactions.items
