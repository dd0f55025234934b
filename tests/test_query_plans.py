"""Every query shape the services issue is served by an index on a populated database.

The tables are filled with SQL (tens of thousands of people, leads and
interactions, a few agents holding a share each) and analysed; each service
call runs with its statements captured, and each captured statement is
explained with its own parameters, with sequential scans made a last resort
(``enable_seqscan = off``): a sequential scan of a large canonical table left
in the plan means no index serves the query, and fails the test with the
call and the plan.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tests.support.pg_harness import empty_all_tables
from velocity_domain import Velocity
from velocity_domain.adapters.postgres.store import PostgresStore
from velocity_domain.testing import store_of

pytestmark = pytest.mark.postgres

PEOPLE = 60_000
LARGE = {
    "crm_people",
    "crm_leads",
    "crm_opportunities",
    "intel_interactions",
    "crm_accounts",
    "crm_stage_history",
}

POPULATE = f"""
INSERT INTO crm_people (person_id, full_name, normalized_name, primary_email, primary_phone,
                        persona_labels, version, created_at, updated_at)
SELECT gen_random_uuid(), initcap(f) || ' ' || initcap(l) || ' ' || g,
       f || ' ' || l || ' ' || g, f || '.' || l || g || '@example.com',
       '+91' || (7000000000 + g * 37)::text, '{{}}', 1,
       now() - g * interval '1 minute', now() - g * interval '1 minute'
FROM generate_series(1, {PEOPLE}) AS g,
     LATERAL (SELECT (ARRAY['asha','ravi','priya','amit','sunita','rahul','neha','vikram',
                            'anjali','arjun'])[1 + g %% 10] AS f,
                     (ARRAY['rao','sharma','iyer','patel','reddy','nair','gupta','singh',
                            'das','mehta','kapoor'])[1 + g %% 11] AS l) AS names;
INSERT INTO crm_accounts (account_id, account_name, account_type, metadata_json,
                          version, created_at, updated_at)
SELECT gen_random_uuid(), 'Account ' || g, 'company', '{{}}', 1, now(), now()
FROM generate_series(1, {PEOPLE // 4}) AS g;
INSERT INTO crm_leads (lead_id, person_id, source_system, status, stage, assigned_user_id,
                       version, created_at, updated_at)
SELECT gen_random_uuid(), p.person_id, 'web', 'open', 'new',
       CASE WHEN random() < 0.2 THEN a.ids[1 + (hashtext(p.person_id::text) & 3)] END,
       1, p.created_at, p.created_at
FROM crm_people p,
     (SELECT array_agg(user_id ORDER BY email) AS ids FROM core_users
      WHERE email LIKE 'agent%%') AS a
WHERE random() < 0.5;
INSERT INTO crm_opportunities (opportunity_id, person_id, stage, currency, assigned_user_id,
                               version, created_at, updated_at)
SELECT gen_random_uuid(), person_id, 'new', 'INR', assigned_user_id, 1, created_at, created_at
FROM crm_leads WHERE random() < 0.3;
INSERT INTO intel_interactions (interaction_id, person_id, channel, interaction_type,
                                happened_at, recorded_at)
SELECT gen_random_uuid(), p.person_id, 'call', 'other',
       now() - (g * 7 + i) * interval '1 minute', now()
FROM (SELECT person_id, row_number() OVER (ORDER BY person_id) AS g FROM crm_people) AS p,
     generate_series(1, 3) AS i;
"""


@pytest.fixture(scope="module")
def populated(pg_url: URL, pg_engine: sa.Engine) -> Iterator[tuple[Velocity, dict[str, Any]]]:
    empty_all_tables(pg_engine)
    with Velocity.from_url(pg_url.render_as_string(hide_password=False)) as velocity:
        _, admin = velocity.users.create_first_admin(
            email="admin@velocity.example", display_name="Admin"
        )
        for i in range(4):
            velocity.users.create(
                admin,
                email=f"agent{i}@velocity.example",
                display_name=f"Agent {i}",
                roles=["sales_agent"],
            )
        with pg_engine.begin() as conn:
            for statement in POPULATE.split(";\n"):
                if statement.strip():
                    conn.exec_driver_sql(statement)
        with pg_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        with pg_engine.connect() as conn:
            client = conn.exec_driver_sql(
                "SELECT person_id FROM intel_interactions GROUP BY person_id LIMIT 1"
            ).scalar_one()
            held = conn.exec_driver_sql(
                "SELECT assigned_user_id FROM crm_leads WHERE assigned_user_id IS NOT NULL LIMIT 1"
            ).scalar_one()
            held_client = conn.exec_driver_sql(
                "SELECT person_id FROM crm_leads WHERE assigned_user_id = %(u)s LIMIT 1",
                {"u": held},
            ).scalar_one()
        agent = velocity.users.principal_for(admin, held)
        yield (
            velocity,
            {"admin": admin, "agent": agent, "client": client, "held_client": held_client},
        )


def _deep(page: Callable[[str | None], Any], depth: int = 30) -> Any:
    cursor = None
    for _ in range(depth):
        cursor = page(cursor).next_cursor
    return page(cursor)


CALLS: dict[str, Callable[[Velocity, dict[str, Any]], Any]] = {
    "contact list": lambda v, w: v.contacts.list(w["admin"]),
    "contact list, deep page": lambda v, w: _deep(lambda c: v.contacts.list(w["admin"], cursor=c)),
    "contact list, newest first, deep": lambda v, w: _deep(
        lambda c: v.contacts.list(w["admin"], newest_first=True, cursor=c)
    ),
    "contact search, name prefix": lambda v, w: v.contacts.list(w["admin"], search="vikram iy"),
    "contact search, rare substring": lambda v, w: v.contacts.list(w["admin"], search="ta 4242"),
    "contact search, phone": lambda v, w: v.contacts.list(w["admin"], search="70000370"),
    "contact search, email": lambda v, w: v.contacts.list(w["admin"], search="neha.das1"),
    "contact list of an assignee": lambda v, w: v.contacts.list(
        w["admin"], assigned_user_id=w["agent"].user_id
    ),
    "contact list as an agent": lambda v, w: v.contacts.list(w["agent"]),
    "contact get": lambda v, w: v.contacts.get(w["admin"], w["client"]),
    "contact get as an agent": lambda v, w: v.contacts.get(w["agent"], w["held_client"]),
    "timeline": lambda v, w: v.interactions.timeline(w["admin"], w["client"]),
    "leads as an agent": lambda v, w: v.leads.list(w["agent"]),
    "leads, deep page": lambda v, w: _deep(lambda c: v.leads.list(w["admin"], cursor=c)),
    "deals, deep page": lambda v, w: _deep(lambda c: v.opportunities.list(w["admin"], cursor=c)),
    "deals as an agent": lambda v, w: v.opportunities.list(w["agent"]),
    "account search": lambda v, w: v.accounts.list(w["admin"], search="ount 123"),
    "account list, deep page": lambda v, w: _deep(lambda c: v.accounts.list(w["admin"], cursor=c)),
    "client 360": lambda v, w: v.client_graph.client_360(w["admin"], w["client"]),
    "merge preview (every reference of both people)": lambda v, w: v.merges.preview(
        w["admin"], [w["client"], w["held_client"]]
    ),
    "contact create (duplicate check)": lambda v, w: v.contacts.create(
        w["admin"],
        full_name="New Person",
        primary_email="new.person@example.com",
        primary_phone="+919830099999",
    ),
}


def _seq_scans(plan: dict[str, Any]) -> list[str]:
    found = []
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in LARGE:
        found.append(str(plan["Relation Name"]))
    for child in plan.get("Plans", []):
        found += _seq_scans(child)
    return found


@pytest.mark.parametrize("call", list(CALLS))
def test_each_query_is_served_by_an_index(
    populated: tuple[Velocity, dict[str, Any]], call: str
) -> None:
    velocity, w = populated
    store = store_of(velocity)
    assert isinstance(store, PostgresStore)
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    try:
        CALLS[call](velocity, w)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", capture)
    assert captured, f"{call} issued no query"
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        # At this size a scan may cost the planner less than an index; forbidding it
        # shows whether an index that serves the query exists at all.
        cursor.execute("SET enable_seqscan = off")
        for statement, parameters in captured:
            cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
            (document,) = cursor.fetchone()
            plan = (document if isinstance(document, list) else json.loads(document))[0]["Plan"]
            assert not _seq_scans(plan), f"{call}: {statement}\n{json.dumps(plan, indent=1)}"
    finally:
        raw.close()


def test_the_check_finds_a_query_no_index_serves(
    populated: tuple[Velocity, dict[str, Any]],
) -> None:
    velocity, _ = populated
    store = store_of(velocity)
    assert isinstance(store, PostgresStore)
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN (FORMAT JSON) SELECT * FROM crm_people ORDER BY full_name LIMIT 5")
        (document,) = cursor.fetchone()
    finally:
        raw.close()
    assert _seq_scans(document[0]["Plan"]) == ["crm_people"]
