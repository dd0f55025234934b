"""The client summary projection on PostgreSQL stays equal to its definition through every write.

``crm_client_summaries`` (and its tag index ``crm_client_summary_tags``) is
kept in step by statement triggers on the six tables the summary reads. The
first test drives every write path that can change a summary line: through
the services where one exists (contacts one by one and in bulk, leads, deals,
interests, interactions, QD points, an import and its undo, a merge and its
undo, an agent's proposals approved and executed) and through the store where
only the store reaches (an owner change, ``relink``, ``update_many``,
``remove_unreferenced``, deletes). After each step two checks must find the
projection equal to a recomputation:

* the table equals the view ``crm_client_summary_source`` row for row
  (every viewer's row of every client), and the tag table the tags of the
  view's rows (one per deal stage, per project of interest, per pair);
* listings walked page by page with a small limit read the same from
  :class:`PostgresSummaryPages` (the projection) as from
  :class:`GenericSummaryPages` (the canonical tables) in one unit of work:
  after each step every sort with every filter in everyone's slice, and
  each agent's whole slice in every sort; at the start, after the merge's
  undo and at the end, every sort with every filter in each agent's slice
  too. (The full product after every step would cost about three times as
  much, and the first check compares every agent's rows after each step.)

The other tests show that the checks see a projection the triggers did not
keep (they are not vacuous), and that ``velocity_rebuild_client_summaries()``
brings it back after a load that bypassed the triggers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock
from uuid import UUID

import attrs
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tests.support.merge_graph import build_graph
from tests.support.pg_harness import empty_all_tables
from tests.support.world import World, build
from velocity_domain import Velocity
from velocity_domain.adapters.blobs import LocalBlobStore
from velocity_domain.adapters.postgres.client_summaries import PostgresSummaryPages
from velocity_domain.adapters.postgres.tables import metadata
from velocity_domain.adapters.postgres.tables.projections import (
    crm_client_summaries,
    crm_client_summary_tags,
)
from velocity_domain.client_graph import summaries
from velocity_domain.client_graph.summaries import GenericSummaryPages, SummaryLine, summary_lines
from velocity_domain.client_graph.summary_ports import (
    EVERYONE,
    QdBand,
    SummaryFilter,
    SummaryPages,
    SummarySort,
)
from velocity_domain.crm.entities import Opportunity, OpportunityStage, Person, PropertyInterest
from velocity_domain.errors import ApprovalRefused, ApprovalRequired, ConstraintViolation
from velocity_domain.intel.entities import Channel, Interaction, QdScore, QdScoreType
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.repository import every
from velocity_domain.kernel.tableinfo import row_values, table_info
from velocity_domain.testing import unit_of_work
from velocity_domain.workflow.entities import WritebackStatus

pytestmark = pytest.mark.postgres

S = OpportunityStage
#: Every listing is walked with pages this small, so the keyset is followed often.
PAGE = 3
#: The projection's columns, in table order.
COLUMNS = ", ".join(c.name for c in crm_client_summaries.columns)
TAG_COLUMNS = ", ".join(c.name for c in crm_client_summary_tags.columns)
#: A user id no line names: a slice that holds nobody.
STRANGER = UUID("5eed0000-0000-4000-8000-000000000001")


@pytest.fixture
def velocity(pg_url: URL, pg_engine: sa.Engine, tmp_path: Any) -> Iterator[Velocity]:
    """A Velocity over this module's PostgreSQL database, emptied first."""
    empty_all_tables(pg_engine)
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0) + timedelta(days=1))
    dsn = pg_url.render_as_string(hide_password=False)
    with Velocity.from_url(dsn, clock=clock, blob_store=LocalBlobStore(tmp_path / "blobs")) as v:
        yield v


# --- the two checks ------------------------------------------------------------------------


#: The tags each row of the definition should have in ``crm_client_summary_tags``: one per
#: deal stage, one per project of interest, one per pair of the two.
TAGS = """
SELECT v.person_id, v.viewer_id, t.tag COLLATE "C", v.activity_key, v.qd_key, v.name_key
FROM crm_client_summary_source AS v
CROSS JOIN LATERAL (
    SELECT 'stage:' || s FROM unnest(v.stages) AS s
    UNION ALL SELECT 'project:' || p::text FROM unnest(v.project_ids) AS p
    UNION ALL SELECT 'project:' || p::text || ' stage:' || s
              FROM unnest(v.project_ids) AS p, unnest(v.stages) AS s
) AS t (tag)
"""


def table_against_view(engine: sa.Engine) -> list[str]:
    """The rows the projection's tables and their definition do not share (both ways).

    ``crm_client_summaries`` against the view; ``crm_client_summary_tags``
    against the tags of the view's rows.
    """
    pairs = {
        "summaries": (
            f"SELECT {COLUMNS} FROM crm_client_summaries",
            f"SELECT {COLUMNS} FROM crm_client_summary_source",
        ),
        "tags": (f"SELECT {TAG_COLUMNS} FROM crm_client_summary_tags", TAGS),
    }
    found: list[str] = []
    with engine.connect() as conn:
        for name, (table, view) in pairs.items():
            extra = conn.execute(sa.text(f"{table} EXCEPT ({view})")).all()
            missing = conn.execute(sa.text(f"({view}) EXCEPT {table}")).all()
            sizes = conn.execute(
                sa.text(
                    f"SELECT (SELECT count(*) FROM ({table}) t), (SELECT count(*) FROM ({view}) v)"
                )
            ).one()
            found += [f"{name} only in the table: {tuple(r)}" for r in extra]
            found += [f"{name} only in the definition: {tuple(r)}" for r in missing]
            if sizes[0] != sizes[1]:
                found.append(f"{name}: {sizes[0]} rows in the table, {sizes[1]} defined")
    return found


def filters(lines: list[SummaryLine], projects: Iterable[UUID]) -> list[SummaryFilter]:
    """None, each user's slice, each stage, each of ``projects``, each band, ranges, mixes.

    Every stage and every project, not only those some line has now: a tag
    the projection failed to drop shows only under its own filter.
    """
    users = sorted({v for line in lines for v in line.viewers} - {EVERYONE})
    stages = list(OpportunityStage)
    projects = sorted(projects)
    times = sorted(t for t in {line.summary.last_activity_at for line in lines} if t is not None)
    found = [SummaryFilter()]
    found += [SummaryFilter(assigned_user_id=u) for u in [*users, STRANGER]]
    found += [SummaryFilter(stage=s) for s in stages]
    found += [SummaryFilter(project_id=p) for p in projects]
    found += [SummaryFilter(qd_band=b) for b in QdBand]
    if times:
        middle = times[len(times) // 2]
        found += [
            SummaryFilter(active_from=middle),
            SummaryFilter(active_to=middle),
            SummaryFilter(active_from=times[0], active_to=middle + timedelta(seconds=1)),
        ]
    if users:  # a few filters together
        found.append(SummaryFilter(assigned_user_id=users[0], stage=S.NEW, qd_band=QdBand.UNSCORED))
    if users and projects and times:
        found += [
            SummaryFilter(project_id=projects[0], stage=S.NEW),
            SummaryFilter(project_id=projects[-1], assigned_user_id=users[-1]),
            SummaryFilter(project_id=projects[0], active_from=times[0]),
        ]
    return found


def walk(
    pages: SummaryPages, viewer: UUID, where: SummaryFilter, sort: SummarySort
) -> list[tuple[Any, ...]]:
    """A whole listing, page by page, each page from the last key of the one before."""
    found: list[tuple[Any, ...]] = []
    after = None
    while True:
        page = list(pages.page(viewer, where, sort, after, PAGE))
        found += page
        if len(page) < PAGE:
            return found
        after = page[-1][1]


#: Which listings a check reads: (viewer, filter, sort) from the current lines.
Plan = Callable[[list[SummaryFilter]], Iterable[tuple[UUID, SummaryFilter, SummarySort]]]


def pages_against_generic(velocity: Velocity, plan: Plan) -> list[str]:
    """The listings of ``plan`` whose pages differ between the projection and the generic path.

    A listing is one viewer's slice (:data:`EVERYONE`: a principal who sees
    every client) with one filter and one sort; both sides read in the same
    unit of work.
    """
    found: list[str] = []
    with unit_of_work(velocity) as uow:
        projection = uow.extension(SummaryPages)  # type: ignore[type-abstract]
        assert isinstance(projection, PostgresSummaryPages)
        lines = summary_lines(uow)
        # The generic path computes every line again for each page; in one
        # unit of work they do not change, so they are computed once here.
        with mock.patch.object(summaries, "summary_lines", return_value=lines):
            generic = GenericSummaryPages(uow)
            projects = [p.key for p in every(uow.inventory.projects)]
            for viewer, where, sort in plan(filters(lines, projects)):
                mine = walk(projection, viewer, where, sort)
                theirs = walk(generic, viewer, where, sort)
                if mine != theirs:
                    found.append(
                        f"{sort.value} of {viewer} where {where}:\n"
                        f"  projection {mine}\n  generic    {theirs}"
                    )
    return found


@attrs.frozen
class Checks:
    """Both checks on one store, for the slices of everyone and of the given agents."""

    velocity: Velocity
    engine: sa.Engine
    agents: tuple[UUID, ...]

    def every_listing(
        self, wheres: list[SummaryFilter]
    ) -> Iterator[tuple[UUID, SummaryFilter, SummarySort]]:
        """Each filter with each sort, in everyone's slice and in each agent's."""
        yield from itertools.product((EVERYONE, *self.agents), wheres, SummarySort)

    def step_listings(
        self, wheres: list[SummaryFilter]
    ) -> Iterator[tuple[UUID, SummaryFilter, SummarySort]]:
        """Each filter with each sort in everyone's slice; each agent's whole slice, each sort."""
        yield from itertools.product((EVERYONE,), wheres, SummarySort)
        yield from itertools.product(self.agents, (SummaryFilter(),), SummarySort)

    def differences(self, *, full: bool = False) -> list[str]:
        """What the checks find (nothing while the projection is in step).

        The table against the view always; the pages of :meth:`step_listings`,
        or of :meth:`every_listing` when ``full``.
        """
        plan = self.every_listing if full else self.step_listings
        return table_against_view(self.engine) + pages_against_generic(self.velocity, plan)

    def agree(self, step: str, *, full: bool = False) -> None:
        """Assert the checks find the projection equal to its recomputation after ``step``."""
        found = self.differences(full=full)
        assert not found, f"after {step}:\n" + "\n".join(found[:5])


def checks_for(w: World, engine: sa.Engine) -> Checks:
    """The checks of ``w``'s store: everyone's slice, agent A's and agent B's."""
    agents = [a for a in (w.agent_a.user_id, w.agent_b.user_id) if a is not None]
    assert len(agents) == 2
    return Checks(w.velocity, engine, tuple(agents))


# --- helpers -------------------------------------------------------------------------------


def settled(w: World, call: Callable[[], Any]) -> Any:
    """Run a write; one the policy sends to review is approved and executed at once."""
    try:
        return call()
    except ApprovalRequired as asked:
        key = asked.proposal_id
    assert isinstance(key, UUID)
    return release(w, key)


def release(w: World, key: UUID) -> Any:
    """Approve proposal ``key`` by as many reviewers as it needs, execute it, return the row."""
    writebacks = w.velocity.writebacks
    for approver in (w.by_role["operator"], w.admin, w.by_role["sales_manager"]):
        try:
            if writebacks.approve(approver, key).status is WritebackStatus.APPROVED:
                break
        except ApprovalRefused:  # the proposer may not approve
            continue
    execution = writebacks.execute(w.by_role["operator"], key)
    assert execution.applied
    return execution.row


def stored(velocity: Velocity, key: UUID) -> Person:
    """The person ``key`` as stored."""
    with unit_of_work(velocity, read_only=True) as uow:
        return uow.crm.people.get(key)


def store_write(velocity: Velocity, write: Callable[[Any], object]) -> None:
    """Run ``write`` on a unit of work of the store, beneath the services, and commit."""
    with unit_of_work(velocity) as uow:
        write(uow)
        uow.commit()


def run_import(w: World, rows: list[dict[str, str]], **options: Any) -> Any:
    """Submit ``rows`` as an import, map, propose, approve what waits for review, commit."""
    imports, manager = w.velocity.imports, w.by_role["sales_manager"]
    batch = imports.submit(manager, rows, source_system="expo", **options)
    batch = imports.map(manager, batch.key, expected_version=batch.version)
    batch = imports.propose(manager, batch.key, expected_version=batch.version)
    if batch.status.value == "proposed":
        batch = imports.approve(w.by_role["operator"], batch.key)
    return imports.commit(manager, batch.key)


def load_bypassing_triggers(engine: sa.Engine, rows: Sequence[Entity], sql: str = "") -> None:
    """Insert ``rows`` (and run ``sql``) in a session whose triggers are off, as a bulk load."""
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for row in rows:
            info = table_info(type(row))
            conn.execute(sa.insert(metadata.tables[info.name]), [row_values(row, info)])
        if sql:
            conn.execute(sa.text(sql))


# --- every write path ----------------------------------------------------------------------


def test_every_write_path_keeps_the_projection_equal_to_its_definition(
    velocity: Velocity, pg_engine: sa.Engine
) -> None:
    w = build(velocity)
    g = build_graph(velocity)
    check = checks_for(w, pg_engine)
    admin, manager, agent_a, agent_b = w.admin, w.by_role["sales_manager"], w.agent_a, w.agent_b
    assert agent_a.user_id is not None
    assert agent_b.user_id is not None
    check.agree("seeding (bulk inserts beneath the services)", full=True)

    # Contacts: one by one (an agent owns theirs, a manager's has no owner), in bulk, renamed.
    zara = velocity.contacts.create(agent_a, full_name="Zara Khan", primary_email="zara@x.in")
    velocity.contacts.create(manager, full_name="Amit Bose")
    bulk = velocity.contacts.create_many(
        agent_b,
        [
            {"full_name": "Devi Iyer", "primary_phone": "+919830000001"},
            {"full_name": "Bela Das", "primary_phone": "+919830000002"},
            {"full_name": "Chand Roy"},
            {"full_name": "Ōta Ren"},
        ],
    )
    devi, bela, chand, _ = bulk.created
    check.agree("contacts.create and contacts.create_many")
    zara = velocity.contacts.update(
        admin, zara.key, expected_version=zara.version, full_name="Aaliya Zara Khan"
    )
    check.agree("contacts.update (the name)")

    # Leads: opened unassigned, assigned, reassigned (reviewed), converted into a deal.
    lead = velocity.leads.create(manager, person_id=chand.key, source_system="web")
    check.agree("leads.create (unassigned)")
    lead = velocity.leads.assign(manager, lead.key, agent_a.user_id, expected_version=1)
    check.agree("leads.assign")
    lead = settled(
        w,
        lambda: velocity.leads.assign(
            manager, lead.key, agent_b.user_id, expected_version=lead.version
        ),
    )
    check.agree("leads.assign (a reviewed reassignment)")
    lead, converted = velocity.leads.convert(
        agent_b, lead.key, expected_version=lead.version, value=Decimal("4500000")
    )
    check.agree("leads.convert")

    # Deals: two currencies, one without a value; revalued, moved, won, lost, reassigned.
    rupees = velocity.opportunities.create(agent_a, person_id=zara.key, value=Decimal("7000000.50"))
    dollars = velocity.opportunities.create(
        manager, person_id=zara.key, value=Decimal("90000"), currency="USD"
    )
    velocity.opportunities.create(agent_b, person_id=devi.key)
    check.agree("opportunities.create")
    rupees = settled(
        w,
        lambda: velocity.opportunities.update(
            agent_a, rupees.key, expected_version=rupees.version, value=Decimal("7200000")
        ),
    )
    dollars = settled(
        w,
        lambda: velocity.opportunities.update(
            manager, dollars.key, expected_version=dollars.version, currency="EUR"
        ),
    )
    check.agree("opportunities.update (value, currency)")
    for stage in (S.CONTACTED, S.SITE_VISIT_SCHEDULED):
        rupees = velocity.opportunities.move_stage(
            agent_a, rupees.key, stage, expected_version=rupees.version
        )
    check.agree("opportunities.move_stage")
    for stage in (S.SITE_VISIT_DONE, S.NEGOTIATION, S.BOOKING, S.WON):
        rupees = settled(
            w,
            lambda to=stage, deal=rupees: velocity.opportunities.move_stage(
                agent_a, deal.key, to, expected_version=deal.version
            ),
        )
    assert rupees.stage is S.WON
    check.agree("opportunities.move_stage to won (reviewed)")
    dollars = settled(
        w,
        lambda: velocity.opportunities.move_stage(
            manager, dollars.key, S.LOST, expected_version=dollars.version, lost_reason="budget"
        ),
    )
    check.agree("opportunities.move_stage to lost (reviewed)")
    converted = settled(
        w,
        lambda: velocity.opportunities.update(
            admin,
            converted.key,
            expected_version=converted.version,
            assigned_user_id=agent_a.user_id,
        ),
    )
    assert converted.assigned_user_id == agent_a.user_id
    check.agree("opportunities.update (a reviewed reassignment)")

    # Property interests: projects named, one moved to another project, one closed.
    skyline = g.world.project
    harbour = velocity.inventory.create_project(admin, project_name="Harbour View")
    interest = velocity.property_interests.record(
        agent_a, person_id=zara.key, project_id=skyline.key
    )
    velocity.property_interests.record(agent_b, person_id=devi.key, project_id=harbour.key)
    velocity.property_interests.record(agent_b, person_id=bela.key, configuration="2BHK")
    check.agree("property_interests.record")
    interest = settled(
        w,
        lambda: velocity.property_interests.update(
            agent_a, interest.key, expected_version=interest.version, project_id=harbour.key
        ),
    )
    check.agree("property_interests.update (the project)")
    velocity.property_interests.close(
        agent_a, interest.key, expected_version=interest.version, reason="bought elsewhere"
    )
    check.agree("property_interests.close")

    # Interactions: channels and times; an older one never becomes the latest; a tie.
    now = velocity.clock.now()
    log = velocity.interactions.log
    log(agent_a, person_id=zara.key, channel=Channel.CALL, happened_at=now - timedelta(hours=5))
    log(agent_b, person_id=devi.key, channel=Channel.WHATSAPP, happened_at=now - timedelta(days=2))
    check.agree("interactions.log")
    log(agent_a, person_id=zara.key, channel=Channel.EMAIL, happened_at=now - timedelta(days=9))
    log(agent_b, person_id=devi.key, channel=Channel.VISIT, happened_at=now - timedelta(hours=1))
    for channel in (Channel.MEETING, Channel.MESSAGE):  # the same moment: the id decides
        log(agent_b, person_id=bela.key, channel=channel, happened_at=now - timedelta(hours=3))
    check.agree("interactions.log (older, newer, tied)")

    # QD: one point, then a batch; a score of another type leaves the line alone.
    qd = velocity.qd
    qd.record_point(admin, zara.key, score_type=QdScoreType.OVERALL, signal_source="call", value=82)
    qd.record_point(admin, devi.key, score_type=QdScoreType.INTENT, signal_source="call", value=30)
    check.agree("qd.record_point")
    batch = qd.record_points(
        admin,
        [
            {"person_id": devi.key, "score_type": "overall", "signal_source": "visit", "value": 55},
            {"person_id": bela.key, "score_type": "overall", "signal_source": "call", "value": 12},
            {"person_id": zara.key, "score_type": "overall", "signal_source": "email", "value": 20},
        ],
    )
    assert not batch.refused
    check.agree("qd.record_points")

    # An import: new people with leads and interests, an update by source reference, an undo.
    first = run_import(
        w,
        [
            {"ID": "E-1", "Name": "Esha Pal", "Mobile": "98301 11111", "Budget": "80 L"},
            {"ID": "E-2", "Name": "Farid Ali", "Email": "farid@x.in"},
        ],
        assign_to=agent_b.user_id,
    )
    assert first.stats_json["outcomes"]["new"] == 2
    check.agree("imports.commit (new people, leads, interests)")
    second = run_import(
        w,
        [
            {"ID": "E-1", "Name": "Esha Pal Sen", "Mobile": "98301 11111"},
            {"ID": "E-3", "Name": "Gita Nair", "Email": "gita@x.in", "Budget": "1.1 Cr"},
        ],
    )
    assert (second.stats_json["outcomes"]["update"], second.stats_json["outcomes"]["new"]) == (1, 1)
    check.agree("imports.commit (an update by source reference)")
    release(w, velocity.imports.undo(manager, second.key, reason="wrong file").key)
    check.agree("imports.undo (a person, lead and interest removed; a name restored)")

    # A merge in which the duplicate's owner wins, executed through its writeback; its undo.
    duplicate = stored(velocity, g.duplicate.key)
    store_write(
        velocity,
        lambda uow: uow.crm.people.update(attrs.evolve(duplicate, owner_user_id=agent_b.user_id)),
    )
    check.agree("a store update of a contact's owner")
    merge = velocity.merges.propose(
        manager,
        [g.client.key, g.duplicate.key],
        winners={"owner_user_id": g.duplicate.key},
        reason="one person",
    )
    assert merge.writeback_id is not None
    release(w, merge.writeback_id)
    assert stored(velocity, g.client.key).owner_user_id == agent_b.user_id
    check.agree("merges.propose, approved and executed")
    undo = velocity.merges.undo(manager, merge.key, reason="two people after all")
    assert undo.undo_writeback_id is not None
    release(w, undo.undo_writeback_id)
    assert stored(velocity, g.duplicate.key).merged_into_person_id is None
    check.agree("merges.undo, approved and executed", full=True)

    # An agent's proposals, reviewed and executed: a deal revalued, an interest recorded.
    oracle = w.by_role["oracle_agent"]
    deal = velocity.opportunities.list(admin, person_id=devi.key).items[0]
    proposal = velocity.writebacks.propose(
        oracle,
        target_table="crm_opportunities",
        change_kind="update",
        target_ref=deal.key,
        base_version=deal.version,
        fields={"value": "3300000", "next_action": "Send the brochure"},
    )
    assert proposal.status is WritebackStatus.REVIEW_REQUIRED
    release(w, proposal.key)
    proposal = velocity.writebacks.propose(
        oracle,
        target_table="crm_property_interests",
        change_kind="create",
        fields={"person_id": str(chand.key), "project_id": str(skyline.key)},
    )
    assert isinstance(release(w, proposal.key), PropertyInterest)
    check.agree("an agent's writebacks, approved and executed")

    # Beneath the services: relink, update_many, and deletes.
    with unit_of_work(velocity, read_only=True) as uow:
        talks = [i for i in uow.intel.interactions.list().items if i.person_id == bela.key]
        deals = [o for o in uow.crm.opportunities.list().items if o.person_id == zara.key]
    store_write(
        velocity,
        lambda uow: (
            uow.intel.interactions.relink("person_id", [(talks[0].key, bela.key, chand.key)]),
            uow.crm.opportunities.relink("person_id", [(d.key, zara.key, bela.key) for d in deals]),
        ),
    )
    check.agree("relink of interactions and deals")
    devi_now = stored(velocity, devi.key)
    store_write(
        velocity,
        lambda uow: uow.crm.people.update_many(
            [(devi.key, devi_now.version, {"owner_user_id": agent_a.user_id})]
        ),
    )
    check.agree("update_many of an owner")
    with unit_of_work(velocity) as uow:  # the store deletes no row the summary reads ...
        with pytest.raises(ConstraintViolation):
            uow.intel.interactions.delete(talks[1].key)
        with pytest.raises(ConstraintViolation):
            uow.crm.opportunities.delete(deal.key)
    deal = velocity.opportunities.get(admin, deal.key)
    gone: set[UUID] = set()
    store_write(  # ... but removes one nothing refers to, as an import's undo does
        velocity,
        lambda uow: gone.update(
            uow.crm.opportunities.remove_unreferenced([(deal.key, deal.version)])
        ),
    )
    assert gone == {deal.key}
    check.agree("remove_unreferenced of a deal")
    # No service deletes an interaction or a QD score; a maintenance script might.
    with pg_engine.begin() as conn:
        conn.execute(
            sa.text("DELETE FROM intel_interactions WHERE interaction_id = :k"), {"k": talks[1].key}
        )
        conn.execute(
            sa.text("DELETE FROM intel_qd_scores WHERE person_id = :p AND score_type = 'overall'"),
            {"p": zara.key},
        )
    check.agree("deletes of an interaction and a QD score", full=True)


# --- the checks can fail, and a rebuild mends what they find ------------------------------


def test_the_checks_see_a_write_the_triggers_missed(
    velocity: Velocity, pg_engine: sa.Engine
) -> None:
    w = build(velocity)
    check = checks_for(w, pg_engine)
    check.agree("the world is built")
    with pg_engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE intel_interactions DISABLE TRIGGER USER"))
    try:
        velocity.interactions.log(
            w.agent_b,
            person_id=w.client_b.key,
            channel=Channel.CALL,
            happened_at=velocity.clock.now() - timedelta(minutes=5),
        )
    finally:
        with pg_engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE intel_interactions ENABLE TRIGGER USER"))
    stale = table_against_view(pg_engine)
    assert stale
    assert all(str(w.client_b.key) in line for line in stale)
    listed = pages_against_generic(velocity, check.every_listing)
    assert any(line.startswith(f"last_activity of {EVERYONE} ") for line in listed)
    assert any(line.startswith(f"last_activity of {w.agent_b.user_id} ") for line in listed)
    assert not any(line.startswith(f"last_activity of {w.agent_a.user_id} ") for line in listed)
    # The next write that touches the client, with the trigger back, mends its line.
    velocity.interactions.log(
        w.agent_b,
        person_id=w.client_b.key,
        channel=Channel.EMAIL,
        happened_at=velocity.clock.now() - timedelta(days=30),
    )
    check.agree("a later write to the same client")


def test_a_rebuild_mends_a_load_that_bypassed_the_triggers(
    velocity: Velocity, pg_engine: sa.Engine
) -> None:
    w = build(velocity)
    check = checks_for(w, pg_engine)
    newcomer = Person(full_name="Hari Lal", owner_user_id=w.agent_a.user_id)
    now = velocity.clock.now()
    load_bypassing_triggers(
        pg_engine,
        [
            newcomer,
            Opportunity(
                person_id=newcomer.key, value=Decimal(5), assigned_user_id=w.agent_b.user_id
            ),
            Interaction(person_id=w.client_a.key, channel=Channel.VISIT, happened_at=now),
            QdScore(
                person_id=w.client_b.key, score_type=QdScoreType.OVERALL, current_value=Decimal(71)
            ),
        ],
        "UPDATE crm_people SET full_name = 'Ravi Sen Gupta', normalized_name = 'ravi sen gupta'"
        f" WHERE person_id = '{w.client_b.key}'",
    )
    found = check.differences()
    assert any("summaries only in the definition" in line for line in found)
    assert any(line.startswith("name of") for line in found)
    with pg_engine.begin() as conn:
        made = conn.execute(sa.text("SELECT velocity_rebuild_client_summaries()")).scalar_one()
        expected = conn.execute(sa.text("SELECT count(*) FROM crm_client_summary_source")).scalar()
    assert made == expected
    check.agree("velocity_rebuild_client_summaries()")
