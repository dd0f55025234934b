"""The QD query on PostgreSQL reads a client in one statement, and answers as the table reads do."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tests.support.pg_harness import Statements, empty_all_tables
from velocity_domain import Velocity
from velocity_domain.access import Principal
from velocity_domain.access.principal import PrincipalKind
from velocity_domain.access.visibility import Visibility
from velocity_domain.adapters.postgres import qd as postgres_qd
from velocity_domain.crm.entities import Person
from velocity_domain.intel.entities import QdScoreType
from velocity_domain.intel.ports import QdReader
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.services.intel.qd import _TableReads
from velocity_domain.testing import seed, unit_of_work
from velocity_domain.testing.client_graph_contract import B0, Book, book

pytestmark = pytest.mark.postgres


@pytest.fixture
def velocity(pg_url: URL, pg_engine: sa.Engine) -> Iterator[Velocity]:
    empty_all_tables(pg_engine)
    clock = FixedClock(B0.replace(year=B0.year + 1))
    with Velocity.from_url(pg_url.render_as_string(hide_password=False), clock=clock) as v:
        yield v


@pytest.fixture
def graph(velocity: Velocity) -> Book:
    g = book(velocity)
    now = velocity.clock.now()
    for value in (20, 40, 60, 80):
        for kind in ("overall", "intent"):
            velocity.qd.record_point(
                g.admin,
                g.asha.key,
                score_type=kind,
                signal_source="call",
                value=value,
                timestamp=now - timedelta(days=10 - value // 10),
            )
    return g


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as error:  # the refusal is part of the answer compared
        return (type(error).__name__, str(error))


def test_the_query_answers_alike_with_and_without_the_stores_reader(
    velocity: Velocity, graph: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = graph
    # A merged person an agent sees whose survivor they do not: not found for them.
    theirs = Person(
        full_name="Tara Sen",
        owner_user_id=g.agent_b.user_id,
        merged_into_person_id=g.asha.key,
        merged_at=B0,
    )
    seed(velocity, theirs)
    # A user who may read QD but owns nobody and holds nothing.
    nobody = Principal(uuid4(), PrincipalKind.HUMAN, "nobody", frozenset(), {"crm.qd.read"})
    people = [*(p.key for p in g.everyone), g.esha.key, theirs.key, uuid4()]
    principals = [g.admin, g.agent_a, g.agent_b, nobody]
    answers: dict[str, list[Any]] = {"store": [], "tables": []}
    for way, found in answers.items():
        with monkeypatch.context() as patched:
            if way == "tables":
                patched.delitem(postgres_qd.EXTENSIONS, QdReader)
            for principal in principals:
                for person in people:
                    found.append(
                        _outcome(lambda p=principal, k=person: velocity.qd.qd(p, k, series="raw"))
                    )
    assert answers["store"] == answers["tables"]
    kinds = {a[0] if isinstance(a, tuple) else "view" for a in answers["store"]}
    assert kinds == {"view", "NotFound", "MergedRecord"}
    asha = velocity.qd.qd(g.admin, g.asha.key, series="raw")
    assert set(asha.scores) == {QdScoreType.OVERALL, QdScoreType.INTENT}
    overall = asha.scores[QdScoreType.OVERALL]
    assert [p.value for p in overall.points] == [Decimal(80), Decimal(60), Decimal(40), Decimal(20)]
    assert overall.current == Decimal(80)


def test_the_reader_keeps_the_newest_points_and_says_when_there_are_more(
    velocity: Velocity, graph: Book
) -> None:
    g = graph
    with unit_of_work(velocity) as uow:
        store = uow.extension(QdReader)  # type: ignore[type-abstract]
        assert store is not None
        tables = _TableReads(uow, Visibility(uow, g.admin))
        for size in (1, 3, 8, 9, 50):
            ours = store.read(g.asha.key, None, size)
            theirs = tables.read(g.asha.key, None, size)
            assert ours == theirs
            assert len(ours.points) == min(size, 8)
            assert ours.truncated is (size < 8)
            stamps = [(p.timestamp, p.key) for p in ours.points]
            assert stamps == sorted(stamps, reverse=True)


def test_the_query_costs_one_statement_for_anyone(velocity: Velocity, graph: Book) -> None:
    g = graph
    for principal in (g.admin, g.agent_a):
        count = Statements()
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
        try:
            view = velocity.qd.qd(principal, g.asha.key)
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)
        assert view.scores
        assert len(count.seen) == 1, count.seen
