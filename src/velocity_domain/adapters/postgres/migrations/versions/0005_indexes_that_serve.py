"""Text compares by code point in the columns themselves; indexes for search and visibility.

Until now every query wrapped text in ``COLLATE "C"`` (so that PostgreSQL
sorts exactly as the in-memory store does) while the columns and their
indexes used the database's default collation, so no index served an
ordering or a comparison of text. This revision declares ``COLLATE "C"`` on
every text column of the canonical tables (indexes on them are rebuilt;
rows are not rewritten), so queries need no wrapper.

It also adds:

- ``velocity_trigrams(text)``: the distinct three-character pieces of a text
  (padded with two spaces, so every one- or two-character piece is the start
  of one); GIN indexes over them (as a ``tsvector``, which needs no
  extension) serve substring search on people's names, emails and phones
  and on account names. The function is declared expensive so that
  PostgreSQL checks the plain substring test first when it filters rows.
- ``(assigned_user_id, person_id)`` on leads and opportunities: record
  visibility is a semi-join on these; and ``(created_at, key)`` on both,
  for their newest-first lists.
- ``(account_name, account_id)`` for the account list, replacing the index on
  ``lower(account_name)`` that no query used.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 00:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "core_audit_events core_permissions core_role_assignments core_roles core_sessions"
    " core_users crm_accounts crm_households crm_import_batches crm_import_rows crm_leads"
    " crm_opportunities crm_people crm_property_interests crm_relationships crm_stage_history"
    " intel_blob_store_index intel_call_recordings intel_calls intel_cctv_links intel_emails"
    " intel_interactions intel_messages intel_perception_events intel_qd_scores"
    " intel_qd_timeseries intel_reminders intel_transcripts intel_vehicle_events intel_visits"
    " intel_whatsapp_threads inventory_availability inventory_import_jobs"
    " inventory_location_index inventory_media inventory_pricing_history inventory_projects"
    " inventory_units oracle_component_chapters oracle_component_examples"
    " oracle_component_families oracle_component_lineage oracle_component_tags"
    " oracle_component_templates workflow_actions workflow_agent_runs workflow_approvals"
    " workflow_branches workflow_policy_decisions workflow_writebacks"
)

# (index name, table, column) of each trigram index.
TRIGRAM_INDEXES = (
    ("ix_crm_people_trigrams_normalized_name", "crm_people", "normalized_name"),
    ("ix_crm_people_trigrams_primary_email", "crm_people", "primary_email"),
    ("ix_crm_people_trigrams_primary_phone", "crm_people", "primary_phone"),
    ("ix_crm_accounts_trigrams_account_name", "crm_accounts", "account_name"),
)


def _collate(collation: str) -> str:
    """A DO block giving every varchar and text column of the canonical tables ``collation``."""
    return f"""
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT c.relname AS tbl, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS typ
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        WHERE c.relnamespace = current_schema()::regnamespace
          AND c.relkind = 'r'
          AND c.relname = ANY (string_to_array('{TABLES}', ' '))
          AND a.attnum > 0 AND NOT a.attisdropped
          AND a.atttypid IN ('varchar'::regtype, 'text'::regtype)
        ORDER BY c.relname, a.attnum
    LOOP
        EXECUTE format(
            'ALTER TABLE %I ALTER COLUMN %I TYPE %s COLLATE {collation}',
            col.tbl, col.name, col.typ
        );
    END LOOP;
END
$$
"""  # noqa: S608 - no outside input: the table names are the constant above


TRIGRAMS_FUNCTION = """
CREATE OR REPLACE FUNCTION velocity_trigrams(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 1000
AS $$
    SELECT coalesce(array_agg(DISTINCT substr(value || '  ', i, 3)), '{}')
    FROM generate_series(1, length(value)) AS i
$$
"""


def upgrade() -> None:
    """Apply this revision."""
    op.execute(_collate('"C"'))
    op.execute(TRIGRAMS_FUNCTION)
    for name, table, column in TRIGRAM_INDEXES:
        op.execute(
            f"CREATE INDEX {name} ON {table} USING gin"
            f" (array_to_tsvector(velocity_trigrams(lower({column}))))"
        )
    op.drop_index("ix_crm_accounts_name", table_name="crm_accounts")
    op.create_index(
        "ix_crm_accounts_account_name_account_id", "crm_accounts", ["account_name", "account_id"]
    )
    for table, key in (("crm_leads", "lead_id"), ("crm_opportunities", "opportunity_id")):
        op.create_index(
            f"ix_{table}_assigned_user_id_person_id", table, ["assigned_user_id", "person_id"]
        )
        op.create_index(f"ix_{table}_created_at_{key}", table, ["created_at", key])


def downgrade() -> None:
    """Revert this revision."""
    for table, key in (("crm_leads", "lead_id"), ("crm_opportunities", "opportunity_id")):
        op.drop_index(f"ix_{table}_assigned_user_id_person_id", table_name=table)
        op.drop_index(f"ix_{table}_created_at_{key}", table_name=table)
    op.drop_index("ix_crm_accounts_account_name_account_id", table_name="crm_accounts")
    op.execute(
        "CREATE INDEX ix_crm_accounts_name ON crm_accounts (lower(account_name), account_id)"
    )
    for name, _, _ in TRIGRAM_INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute("DROP FUNCTION velocity_trigrams(text)")
    op.execute(_collate("pg_catalog.default"))
