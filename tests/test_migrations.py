"""The shipped Alembic migrations create exactly the declared schema, and undo it."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import URL

from tests.support.model_catalog import SPEC_TABLES
from tests.support.pg_harness import PostgresServer
from velocity_domain import cli
from velocity_domain.adapters.postgres import migrate
from velocity_domain.adapters.postgres.engine import SCHEMA_REVISION, stored_revision
from velocity_domain.adapters.postgres.tables import NON_CANONICAL, metadata
from velocity_domain.errors import ValidationFailed

pytestmark = pytest.mark.postgres

ALL_TABLES = {t for group in SPEC_TABLES.values() for t in group} | NON_CANONICAL


@pytest.fixture
def empty_db(pg_server: PostgresServer) -> Iterator[URL]:
    """A brand-new empty database (not cloned from the migrated template)."""
    name = pg_server.create_database("velocity_mig")
    yield pg_server.url_for(name)
    pg_server.drop_database(name)


def _tables(url: URL, schema: str = "public") -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names(schema=schema))
    finally:
        engine.dispose()


def _diff(url: URL) -> list[object]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_upgrade_creates_exactly_what_the_metadata_declares(empty_db: URL) -> None:
    migrate.upgrade(empty_db)
    assert _tables(empty_db) == ALL_TABLES | {"alembic_version"}
    assert _diff(empty_db) == []
    assert migrate.current_revision(empty_db) == migrate.head_revision()


def test_upgrade_is_rerunnable_and_downgrade_to_base_leaves_no_table(empty_db: URL) -> None:
    migrate.upgrade(empty_db)
    migrate.upgrade(empty_db)
    assert _tables(empty_db) >= ALL_TABLES
    migrate.downgrade(empty_db, revision="base")
    assert _tables(empty_db) <= {"alembic_version"}
    assert migrate.current_revision(empty_db) is None
    migrate.upgrade(empty_db)
    assert _diff(empty_db) == []


def test_every_spec_section_5_column_exists_in_the_database(empty_db: URL) -> None:
    section_5 = {
        "crm_people": "person_id full_name primary_email primary_phone linkedin_url persona_labels"
        " source_confidence created_at updated_at",
        "crm_accounts": "account_id account_name parent_account_id account_type industry"
        " location_ref metadata_json",
        "crm_leads": "lead_id person_id account_id source_system status stage budget_band urgency"
        " assigned_user_id created_at",
        "crm_opportunities": "opportunity_id lead_id project_id unit_id stage value probability"
        " expected_close_date next_action",
        "intel_interactions": "interaction_id person_id channel interaction_type happened_at"
        " summary source_ref",
        "intel_messages": "message_id interaction_id sender_role message_text delivered_at"
        " metadata_json",
        "intel_calls": "call_id interaction_id call_direction duration_seconds recording_ref"
        " transcript_ref",
        "intel_transcripts": "transcript_id call_id language full_text speaker_segments_json"
        " confidence",
        "intel_visits": "visit_id person_id project_id unit_id visited_at visit_notes host_user_id",
        "intel_qd_scores": "qd_id person_id score_type current_value computed_at"
        " evidence_refs_json",
        "intel_qd_timeseries": "timeseries_id person_id signal_source timestamp value evidence_ref",
        "inventory_projects": "project_id project_name developer_name city micro_market"
        " location_json",
        "inventory_units": "unit_id project_id unit_label configuration area_sqft price_current"
        " status facing floor",
        "workflow_writebacks": "writeback_id proposal_ref target_domain target_entity_ref status"
        " approved_by executed_at",
    }
    migrate.upgrade(empty_db)
    engine = sa.create_engine(empty_db, poolclass=sa.NullPool)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for table, columns in section_5.items():
            present = {c["name"] for c in inspector.get_columns(table)}
            missing = set(columns.split()) - present
            assert not missing, f"{table} lacks {missing}"
        json_types = {
            c["name"]: type(c["type"]).__name__
            for c in inspector.get_columns("crm_accounts")
            if c["name"].endswith("_json")
        }
    engine.dispose()
    assert json_types == {"metadata_json": "JSONB"}


def test_a_named_schema_holds_every_table(empty_db: URL) -> None:
    migrate.upgrade(empty_db, schema="velocity")
    assert _tables(empty_db, schema="velocity") == ALL_TABLES | {"alembic_version"}
    assert _tables(empty_db, schema="public") == set()
    assert migrate.current_revision(empty_db, schema="velocity") == migrate.head_revision()
    migrate.downgrade(empty_db, revision="base", schema="velocity")
    assert _tables(empty_db, schema="velocity") <= {"alembic_version"}


def test_the_command_line_upgrades_reports_and_downgrades(empty_db: URL) -> None:
    url = empty_db.render_as_string(hide_password=False)
    out = io.StringIO()
    assert cli.main(["db", "current", "--url", url], out=out) == 0
    assert "base (not migrated)" in out.getvalue()
    assert cli.main(["db", "upgrade", "--url", url], out=out) == 0
    assert f"upgraded to {migrate.head_revision()}" in out.getvalue()
    assert cli.main(["db", "current", "--url", url], out=out) == 0
    assert "(up to date)" in out.getvalue()
    assert cli.main(["db", "downgrade", "--url", url, "--to", "base"], out=out) == 0
    assert "downgraded to base" in out.getvalue()
    assert _tables(empty_db) <= {"alembic_version"}


def test_upgrade_sql_prints_the_ddl_without_a_database() -> None:
    out = io.StringIO()
    assert cli.main(["db", "upgrade", "--sql"], out=out) == 0
    ddl = out.getvalue()
    for table in ALL_TABLES:
        assert f"CREATE TABLE {table} (" in ddl
    assert "CREATE TABLE alembic_version" in ddl


def test_bad_schema_names_and_urls_are_refused_clearly() -> None:
    with pytest.raises(SystemExit):
        cli.main(["db", "downgrade", "--url", "x"])  # --to is required
    with pytest.raises(ValidationFailed) as exc:
        migrate.upgrade_sql(schema="Robert'); DROP TABLE x;--")
    assert exc.value.field == "schema"
    with pytest.raises(ValidationFailed) as exc:
        migrate.upgrade("mysql://localhost/x")
    assert exc.value.field == "url"


def _declared_checks(table: sa.Table) -> int:
    on_table = [c for c in table.constraints if isinstance(c, sa.CheckConstraint)]
    on_columns = [
        c for col in table.columns for c in col.constraints if isinstance(c, sa.CheckConstraint)
    ]
    return len(on_table) + len(on_columns)


def test_every_declared_check_is_enforced_by_the_migrated_database(empty_db: URL) -> None:
    migrate.upgrade(empty_db)
    engine = sa.create_engine(empty_db, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            found = {t: len(inspector.get_check_constraints(t)) for t in metadata.tables}
        declared = {t.name: _declared_checks(t) for t in metadata.sorted_tables}
        assert found == declared
        bad_rows = [
            "INSERT INTO core_roles (role_id, role_name, version, created_at, updated_at)"
            " VALUES (gen_random_uuid(), 'r', 0, now(), now())",
            "INSERT INTO core_users (user_id, email, display_name, user_kind, status, version,"
            " created_at, updated_at) VALUES (gen_random_uuid(), 'a@b.example', 'A', 'robot',"
            " 'active', 1, now(), now())",
        ]
        for statement in bad_rows:
            with engine.connect() as conn, pytest.raises(sa.exc.IntegrityError, match="check"):
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_the_revision_a_store_checks_is_the_newest_migration() -> None:
    # Velocity.from_url compares the database with this constant instead of loading
    # every migration script; a new migration must move it too.
    assert migrate.head_revision() == SCHEMA_REVISION


def _text_collations(conn: sa.Connection, schema: str) -> dict[str, str]:
    rows = conn.execute(
        sa.text(
            "SELECT c.relname || '.' || a.attname, coalesce(co.collname, '')"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " LEFT JOIN pg_collation co ON co.oid = a.attcollation"
            " WHERE c.relnamespace = CAST(:schema AS regnamespace) AND c.relkind = 'r'"
            " AND a.attnum > 0 AND NOT a.attisdropped"
            " AND a.atttypid IN (CAST('varchar' AS regtype), CAST('text' AS regtype))"
        ),
        {"schema": schema},
    ).all()
    return {str(name): str(collation) for name, collation in rows}


def test_every_text_column_compares_by_code_point_and_downgrade_restores_it(
    empty_db: URL,
) -> None:
    migrate.upgrade(empty_db, schema="velocity")
    engine = sa.create_engine(empty_db, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            collations = _text_collations(conn, "velocity")
            canonical = {n: c for n, c in collations.items() if not n.startswith("alembic")}
            assert len(canonical) > 200
            assert set(canonical.values()) == {"C"}
            assert stored_revision(conn, "velocity") == SCHEMA_REVISION
            assert stored_revision(conn, None) is None
        migrate.downgrade(empty_db, revision="0004", schema="velocity")
        with engine.connect() as conn:
            assert set(_text_collations(conn, "velocity").values()) == {"default"}
            assert stored_revision(conn, "velocity") == "0004"
    finally:
        engine.dispose()


def test_revision_0011_adds_the_idempotency_keys_and_its_downgrade_removes_them(
    empty_db: URL,
) -> None:
    migrate.upgrade(empty_db)
    engine = sa.create_engine(empty_db, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            checks = sa.inspect(conn).get_check_constraints("api_idempotency_keys")
        assert {c["name"] for c in checks} == {
            "ck_api_idempotency_keys_state_allowed",
            "ck_api_idempotency_keys_response_iff_done",
        }
        done_without_response = (
            "INSERT INTO api_idempotency_keys (owner, key, fingerprint, state, claimed_at)"
            " VALUES ('system:web', 'k', 'f', 'done', now())"
        )
        with engine.connect() as conn, pytest.raises(sa.exc.IntegrityError, match="check"):
            conn.execute(sa.text(done_without_response))
    finally:
        engine.dispose()
    migrate.downgrade(empty_db, revision="0010")
    assert migrate.current_revision(empty_db) == "0010"
    assert _tables(empty_db) == (ALL_TABLES - {"api_idempotency_keys"}) | {"alembic_version"}
    migrate.upgrade(empty_db)
    assert _diff(empty_db) == []
