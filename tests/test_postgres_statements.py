"""No N+1: each list and lookup read is a fixed number of SQL statements, whatever the size."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from psycopg.pq import Trace
from sqlalchemy.engine import URL

from tests.support.pg_harness import empty_all_tables
from velocity_domain import Velocity
from velocity_domain.access.principal import Principal, PrincipalKind
from velocity_domain.adapters.postgres.store import PostgresStore
from velocity_domain.crm.entities import Person, PropertyInterest
from velocity_domain.governance.inbox import operator_inbox
from velocity_domain.identity.entities import User
from velocity_domain.intel.entities import Channel, Interaction, Reminder
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.testing import store_of, unit_of_work
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import Writeback

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture
def velocity(pg_url: URL, pg_engine: sa.Engine) -> Iterator[Velocity]:
    empty_all_tables(pg_engine)
    with Velocity.from_url(pg_url.render_as_string(hide_password=False)) as velocity:
        yield velocity


def _populate(velocity: Velocity, size: int) -> Person:
    client = Person(full_name="Asha Rao")
    others = [Person(full_name=f"Person {i:04d}") for i in range(size)]
    with unit_of_work(velocity) as uow:
        uow.crm.people.add_many([client, *others])
        uow.intel.interactions.add_many(
            [
                Interaction(
                    person_id=client.key,
                    channel=Channel.CALL if i % 2 else Channel.WHATSAPP,
                    happened_at=T0 + timedelta(minutes=i),
                )
                for i in range(size)
            ]
        )
        uow.crm.property_interests.add_many(
            [
                PropertyInterest(person_id=client.key, configuration=f"{i % 4 + 1}BHK")
                for i in range(size)
            ]
        )
        uow.commit()
    return client


def _statements(velocity: Velocity, work: Callable[[UnitOfWork], Any]) -> int:
    store = store_of(velocity)
    assert isinstance(store, PostgresStore)
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    with unit_of_work(velocity) as uow:
        uow.crm.people.count()  # the connection is open before we start counting
        sa.event.listen(store.engine, "before_cursor_execute", count)
        try:
            work(uow)
        finally:
            sa.event.remove(store.engine, "before_cursor_execute", count)
    return len(seen)


READS: dict[str, Callable[[UnitOfWork, Person], Any]] = {
    "timeline page": lambda uow, p: uow.intel.timeline(p.key, limit=50),
    "filtered timeline": lambda uow, p: uow.intel.timeline(p.key, channels=["call"], limit=20),
    "contact list page": lambda uow, p: uow.crm.contact_list(limit=50),
    "contact search": lambda uow, p: uow.crm.contact_list(search="person 00", limit=50),
    "property interests": lambda uow, p: uow.crm.property_interests_of(p.key),
    "second timeline page": lambda uow, p: uow.intel.timeline(
        p.key, limit=10, cursor=uow.intel.timeline(p.key, limit=10).next_cursor
    ),
}
EXPECTED = {"second timeline page": 2}
#: A search first walks the order's index for a page (one statement), and asks the
#: trigram index only when that walk holds less than a page (two in all).
AT_MOST = {"contact search": 2}


@pytest.mark.parametrize("read", list(READS))
def test_reads_cost_the_same_statements_at_any_size(velocity: Velocity, read: str) -> None:
    counts = []
    for size in (5, 120):
        client = _populate(velocity, size)
        counts.append(_statements(velocity, lambda uow, c=client: READS[read](uow, c)))
    if read in AT_MOST:
        assert min(counts) >= 1, counts
        assert max(counts) <= AT_MOST[read], counts
    else:
        assert counts == [EXPECTED.get(read, 1)] * 2


def test_bulk_insert_and_get_many_are_one_statement_each(velocity: Velocity) -> None:
    people = [Person(full_name=f"Bulk {i}") for i in range(300)]
    assert _statements(velocity, lambda uow: (uow.crm.people.add_many(people), uow.commit())) <= 2
    assert _statements(velocity, lambda uow: uow.crm.people.get_many(p.key for p in people)) == 1


def _inbox_world(velocity: Velocity, size: int) -> Principal:
    """``size`` proposals under review and ``size`` due reminders of one operator, interleaved."""
    user = User(email=f"op{size}@velocity.example", display_name="Operator")
    with unit_of_work(velocity) as uow:
        uow.identity.users.add(user)
        uow.intel.reminders.add_many(
            [
                Reminder(
                    title=f"Chase {i}",
                    assigned_user_id=user.key,
                    due_at=T0 + timedelta(minutes=2 * i + 1),
                )
                for i in range(size)
            ]
        )
        uow.workflow.writebacks.add_many(
            [
                Writeback(
                    proposer_user_id=user.key,
                    target_domain="crm",
                    target_table="crm_people",
                    change_kind="create",
                    change_json={"operation": "crm.contacts.create", "fields": {}},
                    status="review_required",
                    created_at=T0 + timedelta(minutes=2 * i),
                    updated_at=T0 + timedelta(minutes=2 * i),
                )
                for i in range(size)
            ]
        )
        uow.commit()
    return Principal(user.key, PrincipalKind.HUMAN, "Operator", {"operator"}, set())


def test_an_inbox_page_costs_at_most_four_statements_at_any_size(
    velocity: Velocity, pg_engine: sa.Engine
) -> None:
    now = T0 + timedelta(days=30)
    for size in (5, 120):
        empty_all_tables(pg_engine)
        operator = _inbox_world(velocity, size)
        cursor: str | None = None
        sizes, costs = [], []
        for _ in range(2):
            pages: list[Any] = []
            costs.append(
                _statements(
                    velocity,
                    lambda uow, at=cursor, got=pages, who=operator: got.append(
                        operator_inbox(uow, who.user_id, now, limit=7, cursor=at)
                    ),
                )
            )
            sizes.append(len(pages[0].items))
            cursor = pages[0].next_cursor
        assert sizes == ([7, 3] if size == 5 else [7, 7])
        # One read per source, and one more for each source whose page was cut short.
        assert max(costs) <= 4, (size, costs)


def _service_statements(velocity: Velocity, work: Callable[[], Any]) -> int:
    store = store_of(velocity)
    assert isinstance(store, PostgresStore)
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        work()
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    return len(seen)


def test_service_writes_cost_a_fixed_handful_of_statements(velocity: Velocity) -> None:
    _, admin = velocity.users.create_first_admin(
        email="admin@velocity.example", display_name="Admin"
    )
    creates, gets = [], []
    for size in (5, 200):
        _populate(velocity, size)
        made: list[Person] = []
        creates.append(
            _service_statements(
                velocity,
                lambda n=size, made=made: made.append(
                    velocity.contacts.create(
                        admin,
                        full_name=f"New {n}",
                        primary_email=f"new{n}@example.com",
                        primary_phone=f"+9198300{n:05d}",
                    )
                ),
            )
        )
        gets.append(
            _service_statements(velocity, lambda p=made[0]: velocity.contacts.get(admin, p.key))
        )
    # One duplicate query, the person, its audit event.
    assert creates == [3, 3]
    assert gets == [1, 1]


def test_a_writeback_executes_in_five_statements(velocity: Velocity) -> None:
    from tests.support.world import build  # noqa: PLC0415
    from tests.support.writebacks import agent_proposes_next_action  # noqa: PLC0415

    w = build(velocity)
    key = agent_proposes_next_action(velocity, w, "call on Monday")
    velocity.writebacks.approve(w.admin, key)
    # The writeback read, the claim (with the result it will have), the deal read and
    # written, and both audit events at once.
    assert _service_statements(velocity, lambda: velocity.writebacks.execute(w.admin, key)) == 5
    again = _service_statements(velocity, lambda: velocity.writebacks.execute(w.admin, key))
    assert again == 1  # the read that finds it executed


def test_bulk_create_costs_the_same_statements_for_ten_rows_or_a_thousand(
    velocity: Velocity,
) -> None:
    _, admin = velocity.users.create_first_admin(
        email="bulk.admin@velocity.example", display_name="Admin"
    )
    costs = []
    for size in (10, 1000):
        rows = [
            {
                "full_name": f"Bulk {size} {i}",
                "primary_email": f"bulk{size}.{i}@example.com",
                "primary_phone": f"+91983{size:04d}{i:03d}",
                "source_system": "hubspot",
                "source_ref": f"{size}-{i}",
            }
            for i in range(size)
        ]
        results: list[Any] = []
        costs.append(
            _service_statements(
                velocity,
                lambda r=rows, out=results: out.append(velocity.contacts.create_many(admin, r)),
            )
        )
        assert len(results[0].created) == size
    # The email, phone and source-reference checks, the people, their audit events.
    assert costs == [5, 5]


def _wire(velocity: Velocity, work: Callable[[], Any]) -> list[str]:
    """What the client sends PostgreSQL during ``work``, one entry a round trip.

    Read from libpq's trace of the pool's only connection: ``"Query <text>"``
    for a simple query (BEGIN, COMMIT), ``"Sync"`` ending an extended one (a
    statement with parameters, or psycopg preparing one).
    """
    store = store_of(velocity)
    assert isinstance(store, PostgresStore)
    with store.engine.connect() as conn:
        pgconn = conn.connection.dbapi_connection.pgconn  # type: ignore[union-attr]
    with tempfile.TemporaryFile("w+") as out:
        pgconn.trace(out.fileno())
        pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)  # after trace(), which resets them
        try:
            work()
        finally:
            pgconn.untrace()
        out.seek(0)
        sent = [line.split("\t") for line in out.read().splitlines()]
    return [
        f"Query {parts[3].strip()}" if parts[2] == "Query" else "Sync"
        for parts in sent
        if parts[0] == "F" and parts[2] in ("Query", "Sync")
    ]


def test_authenticate_is_one_statement_while_last_seen_is_fresh(
    pg_url: URL, pg_engine: sa.Engine
) -> None:
    empty_all_tables(pg_engine)
    clock = FixedClock(T0)
    dsn = pg_url.render_as_string(hide_password=False)
    with Velocity.from_url(dsn, clock=clock, pool_size=1, max_overflow=0) as velocity:
        _, admin = velocity.users.create_first_admin(
            email="auth.admin@velocity.example", display_name="Admin"
        )
        user = velocity.users.create(
            admin,
            email="auth.agent@velocity.example",
            display_name="Agent",
            roles=["sales_agent", "analyst", "operator"],
        )
        token = velocity.sessions.issue(admin, user.key).token

        def authenticate() -> None:
            assert velocity.sessions.authenticate(token).user_id == user.key

        # psycopg prepares a statement once it has run five times on a connection (its
        # prepare_threshold); the first calls also write last_seen_at.
        for _ in range(6):
            authenticate()
        assert _service_statements(velocity, authenticate) == 1
        # Read-only work runs in autocommit: one round trip, no BEGIN, COMMIT or ROLLBACK.
        assert _wire(velocity, authenticate) == ["Sync"]

        clock.advance(minutes=1)  # last_seen_at is now a minute old: written again
        assert _service_statements(velocity, authenticate) == 2
        clock.advance(minutes=1)
        # The read (autocommit), then the write in its own transaction: BEGIN, UPDATE, COMMIT.
        sent = _wire(velocity, authenticate)
        assert sent[0] == "Sync"
        assert sent[1].startswith('Query "BEGIN'), sent
        assert sent[2:] == ["Sync", 'Query "COMMIT"'], sent
