"""Client 360: one client's whole picture, on both stores, within visibility, at a fixed cost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.merge_graph import MergeGraph, build_graph
from tests.support.pg_harness import PostgresServer, Statements
from tests.support.world import World, build
from velocity_domain import Velocity
from velocity_domain.access import Principal
from velocity_domain.adapters.postgres import client360 as postgres_client360
from velocity_domain.adapters.postgres import migrate
from velocity_domain.client_graph.client360 import Client360
from velocity_domain.client_graph.ports import Client360Reader
from velocity_domain.crm.entities import (
    Account,
    Lead,
    Opportunity,
    OpportunityStage,
    Person,
    PersonMerge,
    PropertyInterest,
    Relationship,
    RelationshipKind,
    StagedEntity,
    StageHistory,
)
from velocity_domain.errors import InvalidCursor, NotFound, ValidationFailed, VelocityError
from velocity_domain.intel.entities import (
    Channel,
    Interaction,
    QdScore,
    QdScoreType,
    Reminder,
    Visit,
)
from velocity_domain.inventory.entities import Unit
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


def _statements(call: Callable[[], Client360]) -> tuple[Client360, int]:
    """What ``call`` gives, and how many statements it sent."""
    count = Statements()
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
    try:
        return call(), len(count.seen)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)


@pytest.mark.postgres
def test_the_view_costs_one_statement_whatever_the_history(pg_url: sa.URL) -> None:
    url = pg_url.render_as_string(hide_password=False)
    with Velocity.from_url(url) as velocity:
        office = Principal.system("office")
        c360 = velocity.client_graph.client_360
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
            view, count = _statements(lambda p=person: c360(office, p.key))
            assert len(view.leads) == size
            assert view.pipeline_value == {"INR": Decimal(100) * size}
            counts.append(count)
        cursor = view.interactions.next_cursor
        assert cursor is not None
        page, count = _statements(lambda: c360(office, person.key, cursor=cursor))
        assert len(page.interactions) == 50
        counts.append(count)
        assert counts == [1, 1, 1]


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


# --- the store's own reading against the generic one ------------------------------------------


def _answer(call: Callable[[], Client360]) -> str:
    """What a call gives, written out whole (types, digits, time zones) or the error it raises."""
    try:
        return repr(call())
    except VelocityError as error:
        return f"{type(error).__name__}: {error}"


def _both_ways(monkeypatch: pytest.MonkeyPatch, call: Callable[[], Client360]) -> str:
    """The answer of ``call`` as the store gives it, checked against the generic path's.

    On PostgreSQL the view is read in one statement; without the store's
    extension the same call reads part by part. In memory both are generic.
    """
    stored = _answer(call)
    with monkeypatch.context() as generic:
        generic.delitem(postgres_client360.EXTENSIONS, Client360Reader)
        assert _answer(call) == stored
    return stored


def _enrich(world: World, g: MergeGraph) -> Principal:
    """Give the graph's client more of every part, some of it another agent's to see.

    ``agent_a`` gets a lead of the client, so sees it (and its first client, a
    person it holds a deal of and one it owns, but neither the spouse nor
    ``client_b``), each related to the client; JSON documents hold floats and
    money has its cents, so a value read back any other way would show.
    """
    client, velocity = g.client.key, world.velocity
    metrics = Account(account_name="Metrics Ltd", metadata_json={"score": 1.5, "bands": [0.25, 2]})
    won = Opportunity(
        person_id=client,
        account_id=metrics.key,
        value=Decimal("250.50"),
        currency="USD",
        stage=OpportunityStage.WON,
        closed_at=T0,
    )
    dollars = Opportunity(
        person_id=client, value=Decimal("99.99"), currency="USD", probability=Decimal("0.12345")
    )
    unit = Unit(project_id=g.world.project.key, unit_label="T2-0801", attributes_json={"view": 0.5})
    seen_at = T0 + timedelta(days=9)
    dealt = Person(full_name="Dev Deal")
    owned = Person(full_name="Omar Owned", owner_user_id=world.agent_a.user_id)
    seed(
        velocity,
        metrics,
        unit,
        dealt,
        owned,
        Opportunity(person_id=dealt.key, assigned_user_id=world.agent_a.user_id),
        Lead(
            person_id=client,
            source_system="web",
            account_id=metrics.key,
            assigned_user_id=world.agent_a.user_id,
        ),
        won,
        dollars,
        *(
            StageHistory(
                entity_type=StagedEntity.OPPORTUNITY,
                entity_id=g.world.opportunity.key,
                to_stage="contacted",
                changed_at=T0 + timedelta(days=day),
            )
            for day in (4, 2)
        ),
        PropertyInterest(person_id=client, unit_id=unit.key, budget_max=Decimal("1.50")),
        *(Visit(person_id=client, visited_at=seen_at) for _ in range(2)),
        Reminder(
            title="Send the price sheet",
            person_id=client,
            assigned_user_id=world.agent_b.user_id,
            due_at=seen_at,
        ),
        QdScore(
            person_id=client,
            score_type=QdScoreType.URGENCY,
            current_value=Decimal("0.50"),
            evidence_refs_json={"weights": [0.1, 0.9]},
        ),
        Relationship(
            from_person_id=client, to_person_id=world.client_a.key, kind=RelationshipKind.COLLEAGUE
        ),
        Relationship(
            from_person_id=world.client_b.key, to_person_id=client, kind=RelationshipKind.REFERRER
        ),
        Relationship(from_person_id=client, to_person_id=dealt.key, kind=RelationshipKind.SIBLING),
        Relationship(from_person_id=owned.key, to_person_id=client, kind=RelationshipKind.PARENT),
        *(
            Interaction(person_id=client, channel=Channel.MEETING, happened_at=seen_at)
            for _ in range(3)
        ),
        PersonMerge(  # only proposed: not among the merges into the client
            survivor_person_id=client,
            merged_person_ids=(str(world.client_b.key),),
            cluster_key=PersonMerge.cluster_of([client, world.client_b.key]),
        ),
    )
    return world.agent_a


def _narrowed(world: World, role: str, permissions: list[str]) -> Principal:
    """The principal of ``role``'s user once the role holds only ``permissions``."""
    world.velocity.roles.set_permissions(world.admin, role, permissions)
    user = world.by_role[role].user_id
    assert user is not None
    return world.velocity.users.principal_for(world.admin, user)


def _merge(world: World, g: MergeGraph) -> None:
    """Merge the graph's duplicate into its client, through the writeback's approvals."""
    velocity = world.velocity
    merge = velocity.merges.propose(
        world.by_role["sales_manager"], [g.client.key, g.duplicate.key], reason="one"
    )
    assert merge.writeback_id is not None
    velocity.writebacks.approve(world.by_role["operator"], merge.writeback_id)
    velocity.writebacks.approve(world.admin, merge.writeback_id)
    velocity.writebacks.execute(world.admin, merge.writeback_id)


def test_the_store_reads_every_part_as_the_generic_path_does(
    world: World, merge_graph: MergeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    g, c360 = merge_graph, world.velocity.client_graph.client_360
    agent = _enrich(world, g)
    everyone = ["crm.contacts.read", "crm.contacts.read_all", "crm.accounts.read"]
    deals_only = _narrowed(
        world, "analyst", [*everyone, "crm.opportunities.read", "crm.interactions.read"]
    )
    leads_only = _narrowed(world, "oracle_agent", [*everyone, "crm.leads.read"])
    key = g.client.key
    full = _both_ways(monkeypatch, lambda: c360(world.admin, key))
    for part in ("Metrics Ltd", "Decimal('250.50')", "'score': 1.5", "'view': 0.5", "USD"):
        assert part in full
    restricted = _both_ways(monkeypatch, lambda: c360(agent, key))
    for name in ("Dev Deal", "Omar Owned"):
        assert name not in restricted  # people are named by their ids only
    assert restricted.count("Relationship(") == 3
    assert str(world.client_a.key) in restricted
    assert str(g.world.spouse.key) not in restricted
    assert str(world.client_b.key) not in restricted
    for narrowed in (deals_only, leads_only):
        partial = _both_ways(monkeypatch, lambda p=narrowed: c360(p, key))
        assert partial.startswith("Client360(")
        assert "Metrics Ltd" in partial
        assert "omitted=()" not in partial
    assert _both_ways(monkeypatch, lambda: c360(world.agent_b, key)).startswith("NotFound")
    hidden = _both_ways(monkeypatch, lambda: c360(world.agent_b, key, cursor="not a cursor"))
    assert hidden.startswith("NotFound")
    nobody = Principal.system("nightly", ["crm.contacts.read"])  # no user, sees no client
    assert _both_ways(monkeypatch, lambda: c360(nobody, key)).startswith("NotFound")
    page = c360(world.admin, key, interactions=2)
    assert page.interactions.next_cursor is not None
    cursor = page.interactions.next_cursor
    _both_ways(monkeypatch, lambda: c360(world.admin, key, interactions=2, cursor=cursor))
    _both_ways(monkeypatch, lambda: c360(agent, key, interactions=3, cursor=cursor))
    _both_ways(monkeypatch, lambda: c360(leads_only, key, cursor="not a cursor"))
    refused = _both_ways(monkeypatch, lambda: c360(world.admin, key, cursor="not a cursor"))
    assert refused.startswith("InvalidCursor")
    _merge(world, g)
    merged = g.duplicate.key
    survived = _both_ways(monkeypatch, lambda: c360(world.admin, merged))
    assert survived.count("PersonMerge(") == 1
    page = c360(world.admin, merged, interactions=2)
    cursor = page.interactions.next_cursor
    assert cursor is not None
    # Asked for by the merged id, the cursor names the survivor's timeline.
    _both_ways(monkeypatch, lambda: c360(world.admin, merged, interactions=2, cursor=cursor))
    # The agent sees the survivor, not the merged person (its lead moved): asked for by the
    # merged id, the client is not found.
    assert _both_ways(monkeypatch, lambda: c360(agent, merged)).startswith("NotFound")
    _both_ways(monkeypatch, lambda: c360(agent, key))


def test_the_page_of_interactions_continues_the_timeline_and_back(world: World) -> None:
    velocity, admin = world.velocity, world.admin
    key = world.client_a.key
    seed(
        velocity,
        *(
            Interaction(person_id=key, channel=Channel.CALL, happened_at=T0 + timedelta(hours=h))
            for h in range(5)
        ),
    )
    everything = velocity.interactions.timeline(admin, key, limit=50).items
    view = velocity.client_graph.client_360(admin, key, interactions=3)
    assert view.interactions.items == everything[:3]
    rest = velocity.interactions.timeline(admin, key, limit=3, cursor=view.interactions.next_cursor)
    assert rest.items == everything[3:6]
    started = velocity.interactions.timeline(admin, key, limit=3)
    again = velocity.client_graph.client_360(admin, key, interactions=3, cursor=started.next_cursor)
    assert again.interactions == rest
    calls = velocity.interactions.timeline(admin, key, channels=["call"], limit=1)
    assert calls.next_cursor is not None
    with pytest.raises(InvalidCursor):  # a cursor of another listing (of calls only)
        velocity.client_graph.client_360(admin, key, cursor=calls.next_cursor)


@pytest.mark.postgres
def test_the_view_reads_a_named_schema_as_the_generic_path_does(
    pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = pg_server.create_database("velocity_c360_schema")
    try:
        url = pg_server.url_for(name).render_as_string(hide_password=False)
        migrate.upgrade(url, schema="crm_core")
        with Velocity.from_url(url, schema="crm_core") as velocity:
            world = build(velocity)
            c360 = velocity.client_graph.client_360
            mine = _both_ways(monkeypatch, lambda: c360(world.agent_a, world.client_a.key))
            assert str(world.chat.key) in mine
            hidden = _both_ways(monkeypatch, lambda: c360(world.agent_a, world.client_b.key))
            assert hidden.startswith("NotFound")
    finally:
        pg_server.drop_database(name)
