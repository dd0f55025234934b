"""The client graph's part of the contract: client 360, the summary list, QD and artifacts.

Mixed into :class:`~velocity_domain.testing.contract.RepositoryContract`, so
every store that runs the contract answers these reads as the built-in ones
do, under visibility and redaction. Each test builds the same small book of
clients through the store (:func:`book`) and checks exact answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs
import pytest

from velocity_domain.access.principal import Principal
from velocity_domain.client_graph.summary_ports import ClientSummary, QdBand
from velocity_domain.crm.entities import (
    Lead,
    Opportunity,
    OpportunityStage,
    Person,
    PropertyInterest,
    PropertyInterestStatus,
)
from velocity_domain.errors import InvalidCursor, NotFound, PermissionDenied, ValidationFailed
from velocity_domain.intel.entities import (
    Channel,
    Interaction,
    Message,
    QdScore,
    QdScoreType,
    SenderRole,
)
from velocity_domain.inventory.entities import Project
from velocity_domain.testing.seeding import unit_of_work
from velocity_domain.velocity import Velocity

__all__ = ["Book", "ClientGraphContract", "book"]

#: When the book's story starts: every time in it is a whole day after this.
B0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _day(n: int) -> datetime:
    return B0 + timedelta(days=n)


@attrs.frozen
class Book:
    """Two agents' clients: who they are and what each has, for exact expectations."""

    admin: Principal
    agent_a: Principal
    agent_b: Principal
    #: Asha (agent A's): a call on day 3 (latest), one open deal and one won, hot.
    asha: Person
    #: Bina (agent B's, with a lead of agent A's): an email on day 5, two open deals, warm.
    bina: Person
    #: Chandra (nobody's): no activity, no deal, cold.
    chandra: Person
    #: Dev (agent B's): a visit on day 3, unscored.
    dev: Person
    #: Esha: merged into Asha, so not a client of her own.
    esha: Person
    tower: Project
    garden: Project
    message: Message

    @property
    def everyone(self) -> tuple[Person, ...]:
        """The live clients."""
        return (self.asha, self.bina, self.chandra, self.dev)


def book(velocity: Velocity) -> Book:
    """Staff ``velocity`` (a fresh store) and write the book of clients into it."""
    _, admin = velocity.users.create_first_admin(email="boss@book.example", display_name="Boss")
    agents = [
        velocity.users.principal_for(
            admin,
            velocity.users.create(
                admin, email=f"{n}@book.example", display_name=n, roles=["sales_agent"]
            ).key,
        )
        for n in ("agent.a", "agent.b")
    ]
    a, b = (agent.user_id for agent in agents)
    asha = Person(full_name="Asha Rao", owner_user_id=a)
    bina = Person(full_name="Bina Das", owner_user_id=b)
    chandra = Person(full_name="Dr. Chandra Iyer")
    dev = Person(full_name="Dev Menon", owner_user_id=b)
    esha = Person(full_name="Esha Nair", merged_into_person_id=asha.key, merged_at=_day(8))
    tower, garden = Project(project_name="Tower"), Project(project_name="Garden")
    chat = Interaction(person_id=asha.key, channel=Channel.WHATSAPP, happened_at=_day(1))
    message = Message(
        interaction_id=chat.key,
        sender_role=SenderRole.CLIENT,
        message_text="Budget is 2 Cr",
        sent_at=_day(1),
    )
    call = Interaction(person_id=asha.key, channel=Channel.CALL, happened_at=_day(3))

    def deal(person: Person, stage: OpportunityStage, value: str, cur: str, who: Any) -> Any:
        closed = _day(2) if stage in (OpportunityStage.WON, OpportunityStage.LOST) else None
        return Opportunity(
            person_id=person.key,
            stage=stage,
            value=Decimal(value),
            currency=cur,
            assigned_user_id=who,
            closed_at=closed,
        )

    def score(person: Person, value: str, kind: QdScoreType = QdScoreType.OVERALL) -> QdScore:
        return QdScore(person_id=person.key, score_type=kind, current_value=Decimal(value))

    with unit_of_work(velocity) as uow:
        uow.inventory.projects.add_many([tower, garden])
        uow.crm.people.add_many([asha, bina, chandra, dev])
        uow.crm.people.add(esha)
        uow.intel.interactions.add_many(
            [
                chat,
                call,
                Interaction(person_id=bina.key, channel=Channel.EMAIL, happened_at=_day(5)),
                Interaction(person_id=dev.key, channel=Channel.VISIT, happened_at=_day(3)),
            ]
        )
        uow.intel.messages.add(message)
        uow.crm.leads.add(Lead(person_id=bina.key, source_system="web", assigned_user_id=a))
        uow.crm.opportunities.add_many(
            [
                deal(asha, OpportunityStage.NEGOTIATION, "100", "INR", a),
                deal(asha, OpportunityStage.WON, "50", "INR", a),
                deal(bina, OpportunityStage.BOOKING, "200", "USD", b),
                deal(bina, OpportunityStage.NEGOTIATION, "10.50", "INR", b),
            ]
        )
        uow.crm.property_interests.add_many(
            [
                PropertyInterest(person_id=asha.key, project_id=tower.key),
                PropertyInterest(person_id=bina.key, project_id=garden.key),
                PropertyInterest(
                    person_id=bina.key,
                    project_id=tower.key,
                    status=PropertyInterestStatus.CLOSED,
                    closed_at=_day(2),
                ),
            ]
        )
        scores = [score(asha, "82"), score(bina, "55"), score(chandra, "10")]
        uow.table(QdScore).add_many(
            [*scores, score(dev, "99", QdScoreType.INTENT), score(esha, "95")]
        )
        uow.commit()
    agent_a, agent_b = agents
    return Book(admin, agent_a, agent_b, asha, bina, chandra, dev, esha, tower, garden, message)


def _names(lines: Iterator[ClientSummary] | tuple[ClientSummary, ...]) -> list[str]:
    return [line.full_name for line in lines]


def _walk(read: Callable[..., Any], limit: int) -> list[ClientSummary]:
    """Every line of a listing, page by page."""
    found: list[ClientSummary] = []
    cursor = None
    while True:
        page = read(limit=limit, cursor=cursor)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found


class ClientGraphContract:
    """Client 360, the summary list, QD and the artifact query: the same on every store."""

    @pytest.fixture
    def graph(self, velocity: Velocity) -> Book:
        """The book of clients, in the store under test."""
        return book(velocity)

    # -- the summary list ---------------------------------------------------

    def test_summary_lines_hold_each_clients_activity_deals_and_qd(
        self, velocity: Velocity, graph: Book
    ) -> None:
        """Each live client has one line, newest activity first, with exact values."""
        g = graph
        lines = velocity.client_graph.summaries(g.admin).items
        # Latest activity first; Asha and Dev tie on day 3 (larger id first); Chandra has none.
        tied = sorted((g.asha, g.dev), key=lambda p: p.key, reverse=True)
        assert [line.person_id for line in lines] == [
            g.bina.key,
            *(p.key for p in tied),
            g.chandra.key,
        ]
        by_id = {line.person_id: line for line in lines}
        asha, bina = by_id[g.asha.key], by_id[g.bina.key]
        chandra, dev = by_id[g.chandra.key], by_id[g.dev.key]
        assert (asha.last_activity_at, asha.last_channel) == (_day(3), Channel.CALL)
        assert (asha.open_deals, asha.pipeline_value) == (1, {"INR": Decimal(100)})
        assert (asha.qd, asha.qd_band, asha.assigned_user_id) == (
            Decimal(82),
            QdBand.HOT,
            g.agent_a.user_id,
        )
        assert bina.pipeline_value == {"USD": Decimal(200), "INR": Decimal("10.50")}
        assert (bina.open_deals, bina.qd_band, bina.last_channel) == (2, QdBand.WARM, Channel.EMAIL)
        assert (chandra.last_activity_at, chandra.open_deals, chandra.qd_band) == (
            None,
            0,
            QdBand.COLD,
        )
        assert (dev.qd, dev.qd_band, dev.last_channel) == (None, QdBand.UNSCORED, Channel.VISIT)
        assert all(line.omitted == () for line in lines)

    def test_summary_sorts_by_qd_and_by_name(self, velocity: Velocity, graph: Book) -> None:
        """Highest score first, unscored last; names by their normalised form."""
        g = graph
        by_qd = velocity.client_graph.summaries(g.admin, sort="qd").items
        assert [line.person_id for line in by_qd] == [
            g.asha.key,
            g.bina.key,
            g.chandra.key,
            g.dev.key,
        ]
        by_name = velocity.client_graph.summaries(g.admin, sort="name").items
        # By normalised name: the title goes ("Dr. Chandra Iyer" sorts as "chandra iyer").
        assert _names(by_name) == ["Asha Rao", "Bina Das", "Dr. Chandra Iyer", "Dev Menon"]

    def test_summary_filters_keep_what_they_name(self, velocity: Velocity, graph: Book) -> None:
        """Every filter keeps exactly the clients it names, and they combine."""
        g = graph

        def kept(**where: Any) -> set[UUID]:
            return {s.person_id for s in velocity.client_graph.summaries(g.admin, **where).items}

        assert kept(stage="negotiation") == {g.asha.key, g.bina.key}
        assert kept(stage=OpportunityStage.WON) == {g.asha.key}
        assert kept(stage="lost") == set()
        assert kept(project_id=g.tower.key) == {g.asha.key}
        assert kept(project_id=g.garden.key) == {g.bina.key}
        bands = {band: kept(qd_band=band) for band in QdBand}
        assert bands == {
            QdBand.HOT: {g.asha.key},
            QdBand.WARM: {g.bina.key},
            QdBand.COLD: {g.chandra.key},
            QdBand.UNSCORED: {g.dev.key},
        }
        assert kept(active_from=_day(3)) == {g.asha.key, g.bina.key, g.dev.key}
        assert kept(active_to=_day(4)) == {g.asha.key, g.dev.key}
        assert kept(active_from=_day(4), active_to=_day(6)) == {g.bina.key}
        assert kept(assigned_user_id=g.agent_a.user_id) == {g.asha.key, g.bina.key}
        assert kept(assigned_user_id=g.agent_b.user_id) == {g.bina.key, g.dev.key}
        assert kept(assigned_user_id=g.agent_b.user_id, stage="negotiation", sort="name") == {
            g.bina.key
        }

    @pytest.mark.parametrize("sort", ["last_activity", "qd", "name"])
    def test_summary_pages_cover_the_listing_once(
        self, velocity: Velocity, graph: Book, sort: str
    ) -> None:
        """Pages of any size walk the whole listing without gaps or repeats."""
        whole = velocity.client_graph.summaries(graph.admin, sort=sort)
        assert whole.next_cursor is None
        for limit in (1, 2, 3):

            def read(**page: Any) -> Any:
                return velocity.client_graph.summaries(graph.admin, sort=sort, **page)

            assert _walk(read, limit) == list(whole.items)

    def test_summary_agents_see_their_own_slice(self, velocity: Velocity, graph: Book) -> None:
        """An agent sees the clients they own or hold a lead or deal of."""
        g = graph
        mine = velocity.client_graph.summaries(g.agent_a, sort="name").items
        assert _names(mine) == ["Asha Rao", "Bina Das"]
        theirs = velocity.client_graph.summaries(g.agent_b, sort="name").items
        assert _names(theirs) == ["Bina Das", "Dev Menon"]
        shared = velocity.client_graph.summaries(g.agent_a, assigned_user_id=g.agent_b.user_id)
        assert _names(shared.items) == ["Bina Das"]
        pages = _walk(lambda **p: velocity.client_graph.summaries(g.agent_b, **p), 1)
        assert {s.person_id for s in pages} == {g.bina.key, g.dev.key}

    def test_summary_parts_without_their_permission_are_omitted(
        self, velocity: Velocity, graph: Book
    ) -> None:
        """A part the principal may not read is empty and named; using it is refused."""
        g = graph
        held = g.admin.permissions - {"crm.qd.read", "crm.opportunities.read"}
        narrow = attrs.evolve(g.admin, permissions=held)
        lines = velocity.client_graph.summaries(narrow, sort="name").items
        assert len(lines) == len(g.everyone)
        assert {(s.qd, s.qd_band, s.open_deals, s.pipeline_value) for s in lines} == {
            (None, None, None, None)
        }
        assert {s.omitted for s in lines} == {("deals", "qd")}
        assert lines[0].last_channel is Channel.CALL
        uses: list[dict[str, Any]] = [{"sort": "qd"}, {"qd_band": "hot"}, {"stage": "won"}]
        for where in uses:
            with pytest.raises(PermissionDenied):
                velocity.client_graph.summaries(narrow, **where)

    def test_summary_refuses_bad_input_naming_the_field(
        self, velocity: Velocity, graph: Book
    ) -> None:
        """Bad arguments are refused naming the argument; a cursor fits only its listing."""
        admin = graph.admin
        bad: list[tuple[dict[str, Any], str]] = [
            ({"sort": "loudest"}, "sort"),
            ({"stage": "dreaming"}, "stage"),
            ({"qd_band": "lukewarm"}, "qd_band"),
            ({"limit": 0}, "limit"),
            ({"limit": True}, "limit"),
            ({"active_from": datetime(2026, 1, 1)}, "active_from"),
            ({"active_from": _day(4), "active_to": _day(4)}, "active_to"),
            ({"assigned_user_id": "not-a-uuid"}, "assigned_user_id"),
        ]
        for where, field in bad:
            with pytest.raises(ValidationFailed) as refused:
                velocity.client_graph.summaries(admin, **where)
            assert refused.value.field == field, where
        token = velocity.client_graph.summaries(admin, sort="qd", limit=1).next_cursor
        assert token is not None
        with pytest.raises(InvalidCursor):
            velocity.client_graph.summaries(admin, sort="name", cursor=token)
        with pytest.raises(InvalidCursor):
            velocity.client_graph.summaries(admin, sort="qd", stage="won", cursor=token)

    def test_summary_lines_follow_new_activity_and_scores(
        self, velocity: Velocity, graph: Book
    ) -> None:
        """A new interaction and a recorded QD point show in the next page."""
        g = graph
        with unit_of_work(velocity) as uow:
            uow.intel.interactions.add(
                Interaction(person_id=g.chandra.key, channel=Channel.MEETING, happened_at=_day(9))
            )
            uow.commit()
        velocity.qd.record_point(
            g.admin, g.dev.key, score_type="overall", signal_source="manual", value=91
        )
        first = velocity.client_graph.summaries(g.admin, limit=1).items[0]
        assert (first.person_id, first.last_channel) == (g.chandra.key, Channel.MEETING)
        hot = velocity.client_graph.summaries(g.admin, qd_band="hot", sort="qd").items
        assert [(s.person_id, s.qd) for s in hot] == [(g.dev.key, Decimal(91)), (g.asha.key, 82)]

    # -- client 360, QD and the artifact query -------------------------------

    def test_client_360_gathers_the_client_and_follows_a_merge(
        self, velocity: Velocity, graph: Book
    ) -> None:
        """Client 360 gathers every part, answers a merged id with its survivor, hides."""
        g = graph
        view = velocity.client_graph.client_360(g.admin, g.esha.key)
        assert view.person.key == g.asha.key
        assert view.interactions_by_channel == {"whatsapp": 1, "call": 1}
        assert [i.channel for i in view.interactions.items] == [Channel.CALL, Channel.WHATSAPP]
        assert (view.open_deals, view.pipeline_value) == (1, {"INR": Decimal(100)})
        assert {d.opportunity.stage for d in view.deals} == {
            OpportunityStage.NEGOTIATION,
            OpportunityStage.WON,
        }
        assert [i.project for i in view.interests] == [g.tower]
        assert [(s.score_type, s.current_value) for s in view.qd] == [
            (QdScoreType.OVERALL, Decimal(82))
        ]
        with pytest.raises(NotFound):
            velocity.client_graph.client_360(g.agent_b, g.asha.key)
        narrow = attrs.evolve(g.admin, permissions=g.admin.permissions - {"crm.qd.read"})
        hidden = velocity.client_graph.client_360(narrow, g.asha.key)
        assert (hidden.qd, hidden.omitted) == ((), ("qd",))

    def test_qd_is_recorded_and_read_within_visibility(
        self, velocity: Velocity, graph: Book
    ) -> None:
        """A recorded point moves the score; a client one may not see is not found."""
        g = graph
        earlier = velocity.clock.now() - timedelta(days=2)
        for value, at in ((60, earlier), (40, None)):
            velocity.qd.record_point(
                g.agent_b,
                g.dev.key,
                score_type="urgency",
                signal_source="call",
                value=value,
                timestamp=at,
            )
        view = velocity.qd.qd(g.agent_b, g.dev.key, series="raw")
        urgency = view.scores[QdScoreType.URGENCY]
        assert (urgency.current, urgency.previous) == (Decimal(40), Decimal(60))
        assert [p.value for p in urgency.points] == [Decimal(40), Decimal(60)]
        with pytest.raises(NotFound):
            velocity.qd.qd(g.agent_a, g.dev.key)

    def test_artifact_query_redacts_without_the_permission(
        self, velocity: Velocity, graph: Book
    ) -> None:
        """An artifact's content is withheld without the permission; hidden is not found."""
        g = graph
        shown = velocity.artifacts.get(g.admin, g.message.key)
        assert shown.artifact.data["message_text"] == "Budget is 2 Cr"
        assert not shown.artifact.redacted
        held = g.admin.permissions - {"intel.artifacts.read_sensitive"}
        hidden = velocity.artifacts.get(attrs.evolve(g.admin, permissions=held), g.message.key)
        assert "message_text" in hidden.artifact.redacted_fields
        assert hidden.artifact.data["message_text"] is None
        with pytest.raises(NotFound):
            velocity.artifacts.get(g.agent_b, g.message.key)
