"""The client graph benchmark at its smallest size: its data is what the library writes, its
measures run, and the summary list is measured as soon as the library has it.

The load reads a sample of every table back through the entity classes
(``check_sample``) and checks its first QD summaries against the library's
own scoring, so running it here is the check that the generated rows are
valid; the measures run with a few repetitions only.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from benchmarks import client_graph, datagen
from benchmarks import client_graph_data as data
from benchmarks.cases_read import Context

from tests.support.pg_harness import PostgresServer
from velocity_domain.access.principal import Principal
from velocity_domain.kernel.pagination import Page

PEOPLE = 1000


def test_bulk_ids_are_increasing_unique_uuid7() -> None:
    source = data.uuid7_texts(random.Random(3), 1_700_000_000_000)
    ids = [next(source) for _ in range(3 * 4096 + 10)]  # across three milliseconds
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [str(u) for u in parsed] == ids
    assert parsed == sorted(parsed)
    assert len(set(parsed)) == len(parsed)


def test_interaction_counts_are_skewed_and_exact() -> None:
    shape = data.Shape.for_people(20_000)
    counts = data.interaction_counts(shape, random.Random(5))
    assert sum(counts) == shape.interactions
    assert min(counts) >= 1
    heavy = [counts[shape.heavy_index(k)] for k in range(shape.heavy)]
    assert len(heavy) == 2
    assert all(2000 <= c <= 3000 for c in heavy)
    assert sorted(counts)[len(counts) // 2] <= 15  # most clients have few


@pytest.fixture(scope="module")
def loaded(pg_server: PostgresServer) -> Iterator[tuple[Any, client_graph.Prepared]]:
    name = pg_server.create_database("velocity_cgbench")
    server = pg_server.admin_url.render_as_string(hide_password=False)
    args = client_graph.parse(
        ["--people", str(PEOPLE), "--url", server, "--db", name, "--reps", "3", "--seconds", "1"]
    )
    try:
        yield args, client_graph.prepare(args, data.Shape.for_people(PEOPLE))
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def session(loaded: tuple[Any, client_graph.Prepared]) -> Iterator[tuple[Context, Any]]:
    args, prepared = loaded
    with client_graph.session(args, prepared) as (ctx, sample):
        yield ctx, sample


@pytest.mark.postgres
def test_the_load_has_the_shape_it_states(loaded: tuple[Any, client_graph.Prepared]) -> None:
    _, prepared = loaded
    with psycopg.connect(datagen.conninfo(prepared.url)) as conn:

        def one(query: Any) -> Any:
            return conn.execute(query).fetchone()[0]  # type: ignore[index]

        assert one("SELECT count(*) FROM crm_people") == PEOPLE
        assert one("SELECT count(*) FROM intel_interactions") == 10 * PEOPLE
        most = "SELECT count(*) FROM intel_interactions GROUP BY person_id ORDER BY 1 DESC LIMIT 1"
        assert one(most) >= 2000
        assert one("SELECT count(DISTINCT channel) FROM intel_interactions") == 7
        # Every person with QD points has exactly the summaries of their score types.
        typed = "SELECT DISTINCT person_id, score_type FROM intel_qd_timeseries"
        unmatched = (
            f"SELECT count(*) FROM ({typed}) p FULL JOIN intel_qd_scores s"
            " USING (person_id, score_type) WHERE s.qd_id IS NULL OR p.person_id IS NULL"
        )
        assert one(unmatched) == 0
        for table in data.TABLES:
            assert one(f"SELECT count(*) FROM {table}") > 0, table
    assert any("sample of every table" in line for line in prepared.lines)


@pytest.mark.postgres
def test_every_measure_runs(session: tuple[Context, Any]) -> None:
    ctx, sample = session
    rows = client_graph.measure(ctx, sample, client_graph.MEASURES)
    assert [r for r in rows if r.verdict == "ERROR"] == []
    names = [r.name for r in rows]
    assert sum(n.startswith("client_360") for n in names) == 3
    assert sum(n.startswith("qd,") for n in names) == 3
    assert sum(n.startswith("artifacts.get") for n in names) == len(client_graph.ARTIFACTS)
    assert all(r.n == 3 for r in rows if r.lib_p50 is not None)


@pytest.mark.postgres
def test_summaries_are_skipped_while_the_library_has_none(
    session: tuple[Context, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, sample = session
    monkeypatch.setattr(ctx.velocity, "client_graph", SimpleNamespace())
    (row,) = client_graph.summaries(ctx, sample)
    assert row.target == "(skipped)"
    assert row.verdict == "-"


@pytest.mark.postgres
def test_summaries_are_measured_first_and_deep_for_admin_and_agent(
    session: tuple[Context, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, sample = session
    asked: list[dict[str, Any]] = []

    def summaries(principal: Principal, **arguments: Any) -> Page[Any]:
        asked.append(arguments)
        assert principal in (ctx.admin, ctx.agents[0])
        # Everyone's contacts, so the agent's list is long enough to have a deep page too.
        return ctx.velocity.contacts.list(
            ctx.admin, limit=arguments["limit"], cursor=arguments["cursor"]
        )

    monkeypatch.setattr(ctx.velocity, "client_graph", SimpleNamespace(summaries=summaries))
    rows = client_graph.summaries(ctx, sample)
    variants = 11
    assert len(rows) == 2 * 2 * variants  # two principals, first and deep pages
    assert sum("first page" in r.name for r in rows) == 2 * variants
    assert all(r.verdict in ("PASS", "FAIL") for r in rows)
    filters = {key for arguments in asked for key in arguments}
    assert filters >= {
        "sort",
        "assigned_user_id",
        "stage",
        "project_id",
        "qd_band",
        "active_from",
        "active_to",
    }
    assert {a["qd_band"] for a in asked if "qd_band" in a} == {"hot", "warm", "cold", "unscored"}
    assert {a["sort"] for a in asked if "sort" in a} == {"last_activity", "qd", "name"}
