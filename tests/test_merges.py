"""Merging people: preview, a reviewed proposal, exactly-once execution, an exact undo.

Every test runs on both stores. The round-trip test compares the complete
client graph (every row naming the people) before the merge and after its
undo.
"""

from __future__ import annotations

from uuid import UUID

import pytest

from tests.support.merge_graph import MergeGraph, build_graph, graph
from tests.support.world import World
from velocity_domain.crm.entities import MergeStatus, PersonMerge, Relationship
from velocity_domain.errors import (
    ApprovalRefused,
    MergedRecord,
    NotFound,
    PermissionDenied,
    UndoBlocked,
    ValidationFailed,
    WritebackFailed,
)
from velocity_domain.governance.policy import FieldRule
from velocity_domain.intel.entities import QdScore
from velocity_domain.services.crm.merging import references
from velocity_domain.testing import unit_of_work
from velocity_domain.workflow.entities import WritebackStatus


def _approve(world: World, writeback_id: UUID | None) -> None:
    assert writeback_id is not None
    velocity = world.velocity
    velocity.writebacks.approve(world.by_role["operator"], writeback_id)
    velocity.writebacks.approve(world.admin, writeback_id)


def _merge(world: World, graph_: MergeGraph, **kwargs: object) -> PersonMerge:
    """Propose, approve (two approvers) and execute the merge of the duplicate into the client."""
    velocity = world.velocity
    manager = world.by_role["sales_manager"]
    merge = velocity.merges.propose(
        manager, [graph_.client.key, graph_.duplicate.key], reason="one person", **kwargs
    )
    _approve(world, merge.writeback_id)
    assert merge.writeback_id is not None
    velocity.writebacks.execute(world.by_role["operator"], merge.writeback_id)
    return velocity.merges.get(manager, merge.key)


@pytest.fixture
def merge_graph(world: World) -> MergeGraph:
    return build_graph(world.velocity)


def test_merge_then_undo_round_trips_the_whole_client_graph(
    world: World, merge_graph: MergeGraph
) -> None:
    velocity, g = world.velocity, merge_graph
    before = graph(velocity, g.people)
    preview = velocity.merges.preview(world.admin, [g.client.key, g.duplicate.key])
    moving = {(m.table, m.key) for m in preview.moves}
    assert graph(velocity, g.people) == before  # a preview writes nothing

    merge = _merge(world, g)
    assert merge.status is MergeStatus.EXECUTED
    merged = graph(velocity, g.people)
    for cls, field in references():
        for (table, key), row in merged.items():
            if table == cls.table_name and (table, key) in moving and field in row:
                assert row[field] != g.duplicate.key
    # Every row that named the duplicate names the client now, except those set aside.
    set_aside = {(s.table, s.key) for s in preview.set_aside}
    still = {
        key
        for key, row in merged.items()
        if key[0] != "crm_people" and g.duplicate.key in row.values()
    }
    assert still == {k for k in set_aside if k[0] == QdScore.table_name}
    assert {k for k in set_aside if k[0] == Relationship.table_name} <= set(before) - set(merged)
    assert merged[("crm_people", g.duplicate.key)]["merged_into_person_id"] == g.client.key

    undo = velocity.merges.undo(world.by_role["sales_manager"], merge.key, reason="not one")
    _approve(world, undo.undo_writeback_id)
    assert undo.undo_writeback_id is not None
    velocity.writebacks.execute(world.by_role["operator"], undo.undo_writeback_id)
    assert graph(velocity, g.people) == before
    assert velocity.merges.get(world.admin, merge.key).status is MergeStatus.UNDONE


def test_preview_shows_winners_moves_and_what_is_set_aside(
    world: World, merge_graph: MergeGraph
) -> None:
    velocity, g = world.velocity, merge_graph
    preview = velocity.merges.preview(world.admin, [g.client.key, g.duplicate.key])
    choice = {c.field: c for c in preview.fields}
    # The client's values are as recent as the duplicate's; the survivor wins ties,
    # and an empty value never wins while another member has one.
    assert choice["full_name"].value == g.client.full_name
    assert choice["linkedin_url"].person_id == g.duplicate.key
    assert preview.result.linkedin_url == g.duplicate.linkedin_url
    assert preview.result.key == g.client.key
    moved_tables = set(preview.moving())
    assert {"crm_leads", "intel_interactions", "crm_households", "inventory_units"} <= moved_tables
    reasons = {s.table: s.reason for s in preview.set_aside}
    assert "repeat" in reasons["crm_relationships"]
    assert "score type" in reasons["intel_qd_scores"]

    chosen = velocity.merges.preview(
        world.admin, [g.client.key, g.duplicate.key], winners={"full_name": g.duplicate.key}
    )
    assert chosen.result.full_name == "Rao, Asha"


def test_a_merged_person_answers_with_its_survivor_and_takes_no_writes(
    world: World, merge_graph: MergeGraph
) -> None:
    velocity, g = world.velocity, merge_graph
    _merge(world, g)
    manager = world.by_role["sales_manager"]
    assert velocity.contacts.get(manager, g.duplicate.key).key == g.client.key
    with pytest.raises(MergedRecord) as refused:
        velocity.leads.create(manager, person_id=g.duplicate.key, source_system="web")
    assert refused.value.survivor == g.client.key
    with unit_of_work(velocity) as uow:
        version = uow.crm.people.get(g.duplicate.key).version
    with pytest.raises(MergedRecord):
        velocity.contacts.update(
            manager, g.duplicate.key, expected_version=version, full_name="Someone Else"
        )
    listed = {p.key for p in velocity.contacts.list(manager, limit=200)}
    assert g.client.key in listed
    assert g.duplicate.key not in listed
    lineage = velocity.merges.list(manager, g.client.key)
    assert [m.merged_person_ids for m in lineage] == [(str(g.duplicate.key),)]


def test_merging_a_relative_removes_the_relationship_that_would_join_the_survivor_to_itself(
    world: World, merge_graph: MergeGraph
) -> None:
    velocity, g = world.velocity, merge_graph
    people = [g.client.key, g.world.spouse.key]
    before = graph(velocity, g.people)
    preview = velocity.merges.preview(world.admin, people)
    assert any("itself" in s.reason for s in preview.set_aside)
    manager = world.by_role["sales_manager"]
    merge = velocity.merges.propose(manager, people, reason="same")
    _approve(world, merge.writeback_id)
    assert merge.writeback_id is not None
    velocity.writebacks.execute(world.admin, merge.writeback_id)
    with unit_of_work(velocity) as uow:
        mine = uow.crm.relationships.where_in("from_person_id", [g.client.key])
        assert all(r.to_person_id != r.from_person_id for r in mine)
    undo = velocity.merges.undo(manager, merge.key, reason="no")
    _approve(world, undo.undo_writeback_id)
    assert undo.undo_writeback_id is not None
    velocity.writebacks.execute(world.admin, undo.undo_writeback_id)
    assert graph(velocity, g.people) == before


def test_a_merge_needs_two_approvers_none_of_them_the_proposer(
    world: World, merge_graph: MergeGraph
) -> None:
    velocity, g = world.velocity, merge_graph
    operator = world.by_role["operator"]
    merge = velocity.merges.propose(operator, [g.client.key, g.duplicate.key], reason="dup")
    assert merge.writeback_id is not None
    review = velocity.writebacks.get(world.admin, merge.writeback_id)
    assert review.writeback.status is WritebackStatus.REVIEW_REQUIRED
    assert review.writeback.required_approvals == 2
    with pytest.raises(ApprovalRefused):
        velocity.writebacks.approve(operator, merge.writeback_id)
    inbox = velocity.writebacks.inbox(world.admin, limit=50)
    assert merge.writeback_id in {item.item_id for item in inbox}
    velocity.writebacks.approve(world.admin, merge.writeback_id)
    still = velocity.writebacks.get(world.admin, merge.writeback_id).writeback
    assert still.status is WritebackStatus.REVIEW_REQUIRED


def test_an_agent_may_not_propose_a_merge(world: World, merge_graph: MergeGraph) -> None:
    with pytest.raises(PermissionDenied):
        world.velocity.merges.propose(
            world.agent_a, [merge_graph.client.key, merge_graph.duplicate.key], reason="dup"
        )


def test_a_merge_that_shows_a_client_to_new_eyes_always_waits_for_review(world: World) -> None:
    velocity = world.velocity
    # agent_b holds a deal of client_b; merging client_b into client_a shows client_a to agent_b.
    velocity.governance.policy.remove("merge")
    manager = world.by_role["sales_manager"]
    people = [world.client_a.key, world.client_b.key]
    preview = velocity.merges.preview(manager, people)
    assert world.agent_b.user_id in preview.grants_sight_to
    merge = velocity.merges.propose(manager, people, reason="same buyer")
    assert merge.writeback_id is not None
    review = velocity.writebacks.get(world.admin, merge.writeback_id)
    assert review.writeback.status is WritebackStatus.REVIEW_REQUIRED
    assert review.decisions[-1].rule_name == "merge_grants_sight"


@pytest.mark.parametrize(
    ("people", "kwargs", "field"),
    [
        ("one", {}, "person_ids"),
        ("text", {}, "person_ids"),
        ("unknown", {}, "person_ids"),
        ("pair", {"survivor_id": UUID(int=5)}, "survivor_id"),
        ("pair", {"winners": {"created_at": "client"}}, "winners"),
        ("pair", {"winners": {"full_name": UUID(int=9)}}, "winners"),
        ("pair", {"winners": ["full_name"]}, "winners"),
        ("pair", {"reason": "  "}, "reason"),
    ],
)
def test_bad_merge_requests_are_refused_naming_the_argument(
    world: World, merge_graph: MergeGraph, people: str, kwargs: dict[str, object], field: str
) -> None:
    g = merge_graph
    given: object = {
        "one": [g.client.key],
        "text": str(g.client.key),
        "unknown": [g.client.key, UUID(int=77)],
        "pair": [g.client.key, g.duplicate.key],
    }[people]
    winners = kwargs.get("winners")
    if isinstance(winners, dict) and winners.get("created_at") == "client":
        kwargs = {**kwargs, "winners": {"created_at": g.client.key}}
    call = {"reason": "dup", **kwargs}
    with pytest.raises(ValidationFailed) as refused:
        world.velocity.merges.propose(world.admin, given, **call)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_an_already_merged_person_cannot_be_merged_again(
    world: World, merge_graph: MergeGraph
) -> None:
    g = merge_graph
    _merge(world, g)
    with pytest.raises(MergedRecord):
        world.velocity.merges.preview(world.admin, [g.world.spouse.key, g.duplicate.key])


def test_undo_is_refused_naming_the_later_changes_in_its_way(
    world: World, merge_graph: MergeGraph
) -> None:
    velocity, g = world.velocity, merge_graph
    merge = _merge(world, g)
    manager = world.by_role["sales_manager"]
    survivor = velocity.contacts.get(manager, g.client.key)
    assert survivor.linkedin_url == g.duplicate.linkedin_url  # the merge brought it
    velocity.contacts.update(
        manager,
        survivor.key,
        expected_version=survivor.version,
        linkedin_url="https://www.linkedin.com/in/asha-r",
    )
    with pytest.raises(UndoBlocked) as blocked:
        velocity.merges.undo(manager, merge.key, reason="no")
    assert any("linkedin_url" in b for b in blocked.value.blockers)


def test_an_undo_that_became_blocked_after_approval_fails_its_writeback(
    world: World, merge_graph: MergeGraph
) -> None:
    velocity, g = world.velocity, merge_graph
    merge = _merge(world, g)
    manager = world.by_role["sales_manager"]
    undo = velocity.merges.undo(manager, merge.key, reason="no")
    _approve(world, undo.undo_writeback_id)
    survivor = velocity.contacts.get(manager, g.client.key)
    velocity.contacts.update(
        manager, survivor.key, expected_version=survivor.version, linkedin_url=None
    )
    assert undo.undo_writeback_id is not None
    with pytest.raises(WritebackFailed, match="linkedin_url"):
        velocity.writebacks.execute(world.admin, undo.undo_writeback_id)
    assert velocity.merges.get(manager, merge.key).status is MergeStatus.EXECUTED


def test_two_merges_of_one_person_cannot_both_execute(
    world: World, merge_graph: MergeGraph
) -> None:
    velocity, g = world.velocity, merge_graph
    manager = world.by_role["sales_manager"]
    first = velocity.merges.propose(manager, [g.client.key, g.duplicate.key], reason="a")
    second = velocity.merges.propose(manager, [g.world.spouse.key, g.duplicate.key], reason="b")
    for merge in (first, second):
        _approve(world, merge.writeback_id)
    assert first.writeback_id is not None
    assert second.writeback_id is not None
    velocity.writebacks.execute(world.admin, first.writeback_id)
    with pytest.raises(WritebackFailed):
        velocity.writebacks.execute(world.admin, second.writeback_id)
    again = velocity.merges.propose(manager, [g.world.spouse.key, g.client.key], reason="c")
    assert again.status is MergeStatus.PROPOSED


def test_an_update_after_the_proposal_makes_the_merge_fail_cleanly(
    world: World, merge_graph: MergeGraph
) -> None:
    velocity, g = world.velocity, merge_graph
    manager = world.by_role["sales_manager"]
    before = graph(velocity, g.people)
    merge = velocity.merges.propose(manager, [g.client.key, g.duplicate.key], reason="a")
    _approve(world, merge.writeback_id)
    dup = velocity.contacts.get(manager, g.duplicate.key)
    changed = velocity.contacts.update(
        manager, dup.key, expected_version=dup.version, linkedin_url=None
    )
    assert merge.writeback_id is not None
    with pytest.raises(WritebackFailed):
        velocity.writebacks.execute(world.admin, merge.writeback_id)
    after = graph(velocity, g.people)
    assert after[("crm_people", dup.key)]["linkedin_url"] is None
    assert {k: v for k, v in after.items() if k != ("crm_people", dup.key)} == {
        k: v for k, v in before.items() if k != ("crm_people", dup.key)
    }
    assert changed.merged_into_person_id is None


def test_a_host_may_require_more_approvals_for_merges(
    world: World, merge_graph: MergeGraph
) -> None:
    velocity, g = world.velocity, merge_graph
    velocity.governance.policy.replace(
        FieldRule(
            "merge",
            lambda change, _: "reviewed" if change.change_kind.value == "merge" else None,
            required_approvals=3,
        )
    )
    merge = velocity.merges.propose(world.admin, [g.client.key, g.duplicate.key], reason="dup")
    assert merge.writeback_id is not None
    assert (
        velocity.writebacks.get(world.admin, merge.writeback_id).writeback.required_approvals == 3
    )


def test_reading_merges_follows_visibility(world: World) -> None:
    velocity = world.velocity
    manager = world.by_role["sales_manager"]
    merge = velocity.merges.propose(
        manager, [world.client_b.key, world.client_a.key], reason="same buyer"
    )
    assert velocity.merges.get(world.agent_b, merge.key).key == merge.key
    with pytest.raises(NotFound):
        velocity.merges.get(world.agent_a, merge.key)
    with pytest.raises(NotFound):
        velocity.merges.list(world.agent_a, world.client_b.key)


def test_reads_naming_a_merged_person_point_to_the_survivor(
    world: World, merge_graph: MergeGraph
) -> None:
    velocity, g = world.velocity, merge_graph
    _merge(world, g)
    manager = world.by_role["sales_manager"]
    dup = g.duplicate.key
    reads = {
        "timeline": lambda: velocity.interactions.timeline(manager, dup),
        "leads": lambda: velocity.leads.list(manager, person_id=dup),
        "deals": lambda: velocity.opportunities.list(manager, person_id=dup),
        "interests": lambda: velocity.property_interests.of_client(manager, dup),
        "relationships": lambda: velocity.relationships.relationships_of(manager, dup),
    }
    for name, read in reads.items():
        with pytest.raises(MergedRecord) as pointed:
            read()
        assert pointed.value.survivor == g.client.key, name
    # An agent who cannot see the survivor learns nothing of the merge.
    with pytest.raises(NotFound):
        velocity.interactions.timeline(world.agent_a, dup)


def test_a_bare_merge_writeback_is_refused_pointing_to_the_merge_service(
    world: World, merge_graph: MergeGraph
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        world.velocity.writebacks.propose(
            world.admin,
            target_table="crm_people",
            change_kind="merge",
            target_ref=merge_graph.client.key,
            base_version=1,
            fields={"full_name": "Asha Rao"},
        )
    assert refused.value.field == "change_kind"
    assert "velocity.merges.propose" in refused.value.reason


def test_every_write_naming_a_merged_person_points_to_the_survivor(
    world: World, merge_graph: MergeGraph
) -> None:
    velocity, g = world.velocity, merge_graph
    _merge(world, g)
    manager = world.by_role["sales_manager"]
    dup, spouse = g.duplicate.key, g.world.spouse.key
    household = g.copies[-2]
    writes = {
        "lead": lambda: velocity.leads.create(manager, person_id=dup, source_system="web"),
        "deal": lambda: velocity.opportunities.create(manager, person_id=dup),
        "task": lambda: velocity.tasks.create(
            manager, title="Call", due_at=g.client.created_at, person_id=dup
        ),
        "interaction": lambda: velocity.interactions.log(
            manager, person_id=dup, channel="call", happened_at=g.client.created_at
        ),
        "interest": lambda: velocity.property_interests.record(manager, person_id=dup),
        "relationship": lambda: velocity.relationships.relate(manager, dup, spouse, "sibling"),
        "household member": lambda: velocity.relationships.add_member(manager, household.key, dup),
    }
    for name, write in writes.items():
        with pytest.raises(MergedRecord) as pointed:
            write()
        assert pointed.value.survivor == g.client.key, name
