"""Set-based steps of the import pipeline on PostgreSQL.

:class:`PostgresImportWriter` commits a batch's new people in one statement:
the rows of the outcome are read, and people, leads and property interests
inserted from their mapped values, inside the server, with no row travelling
to Python and back. The values were validated when the rows were mapped;
the statement builds exactly what the generic path
(``velocity_domain.imports.committing.commit_created``) builds, which the
gateway's tests check on both stores. Ids are UUIDv7 made in SQL: the
millisecond clock in the first 48 bits, version 7, random bits after.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa

from velocity_domain.adapters.postgres.bulk import qualified
from velocity_domain.adapters.postgres.tables import metadata
from velocity_domain.crm.entities import ImportOutcome
from velocity_domain.crm.ports import ImportWriter
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.repository import TableStatistics

if TYPE_CHECKING:
    from velocity_domain.adapters.postgres.store import PostgresTransaction

__all__ = ["EXTENSIONS", "PostgresImportWriter", "PostgresStatistics"]

#: A UUIDv7 from ``x.b`` (16 random bytes with the clock laid over the first six).
_UUID7 = "encode(set_byte({b}, 6, (get_byte({b}, 6) & 15) | 112), 'hex')::uuid"
_RANDOM_WITH_CLOCK = (
    "overlay(uuid_send(gen_random_uuid()) placing substring(int8send("
    "floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6)"
)


_CREATE = """
WITH src AS (
    SELECT r.import_row_id, r.m, r.source_key, r.match_name,
           {person_id} AS person_id, {lead_id} AS lead_id, {interest_id} AS interest_id
    FROM (
        SELECT import_row_id, mapped_json AS m, source_key, match_name
        FROM {rows}
        WHERE import_batch_id = :batch AND outcome = :outcome AND status = 'proposed'
        FOR UPDATE
    ) AS r
    CROSS JOIN LATERAL (SELECT {random} AS b1, {random} AS b2, {random} AS b3) AS x
), people AS (
    INSERT INTO {people} (person_id, full_name, normalized_name, primary_email, primary_phone,
                          persona_labels, source_system, source_ref, owner_user_id,
                          version, created_at, updated_at)
    SELECT person_id, m->>'full_name', match_name, m->>'primary_email', m->>'primary_phone',
           '{{}}', :system, source_key, :owner, 1, :now, :now
    FROM src
    RETURNING person_id
), leads AS (
    INSERT INTO {leads} (lead_id, person_id, source_system, source_ref, status, stage,
                         budget_band, assigned_user_id, version, created_at, updated_at)
    SELECT lead_id, person_id, :system, source_key,
           CASE COALESCE(m->>'lead_status', 'open')
               WHEN 'converted' THEN 'qualified' ELSE COALESCE(m->>'lead_status', 'open') END,
           COALESCE(m->>'stage', 'new'),
           NULLIF(left(btrim(COALESCE(m->>'budget_text', '')), 64), ''),
           :owner, 1, :now, :now
    FROM src
    RETURNING lead_id
), interests AS (
    INSERT INTO {interests} (property_interest_id, person_id, configuration, budget_min,
                             budget_max, currency, priority, status, notes,
                             version, created_at, updated_at)
    SELECT interest_id, person_id, m->>'configuration',
           (NULLIF(m->>'budget_min', ''))::numeric, (NULLIF(m->>'budget_max', ''))::numeric,
           COALESCE(NULLIF(m->>'currency', ''), 'INR'), 'medium', 'active',
           left(NULLIF(concat_ws(E'\\n', NULLIF(m->>'interest', ''), NULLIF(m->>'notes', '')), ''),
                10000),
           1, :now, :now
    FROM src
    WHERE COALESCE(NULLIF(m->>'budget_min', ''), NULLIF(m->>'budget_max', ''),
                   NULLIF(m->>'configuration', ''), NULLIF(m->>'interest', '')) IS NOT NULL
    RETURNING property_interest_id
)
UPDATE {rows} AS t
SET status = 'committed', target_domain = 'crm', target_entity_ref = src.person_id,
    version = t.version + 1, updated_at = :now
FROM src
WHERE t.import_row_id = src.import_row_id
"""


class PostgresImportWriter:
    """The import pipeline's commit of new people as one statement (see the module)."""

    def __init__(self, tx: PostgresTransaction) -> None:
        self._tx = tx

    def create_people(
        self,
        batch_id: UUID,
        outcome: ImportOutcome,
        source_system: str,
        owner_user_id: UUID | None,
        now: datetime,
    ) -> int:
        """Write the people of ``outcome``'s proposed rows in one statement; return how many."""
        connection = self._tx.writing()
        tables = metadata.tables
        statement = _CREATE.format(
            rows=qualified(connection, tables["crm_import_rows"]),
            people=qualified(connection, tables["crm_people"]),
            leads=qualified(connection, tables["crm_leads"]),
            interests=qualified(connection, tables["crm_property_interests"]),
            random=_RANDOM_WITH_CLOCK,
            person_id=_UUID7.format(b="x.b1"),
            lead_id=_UUID7.format(b="x.b2"),
            interest_id=_UUID7.format(b="x.b3"),
        )
        params = {
            "batch": batch_id,
            "outcome": outcome.value,
            "system": source_system,
            "owner": owner_user_id,
            "now": now,
        }
        with self._tx.translating():
            result = connection.execute(sa.text(statement), params)
        return int(result.rowcount or 0)


class PostgresStatistics:
    """``ANALYZE`` of tables a bulk job has just filled, inside its transaction.

    Run inside the writing transaction, ``ANALYZE`` counts that
    transaction's own new rows, so the job's next statements are planned
    for the table's real size (a plan made for an empty table would scan
    it for every value of a long ``= ANY`` list).
    """

    def __init__(self, tx: PostgresTransaction) -> None:
        self._tx = tx

    def refresh(self, *classes: type[Entity]) -> None:
        """Run ``ANALYZE`` on the tables of ``classes``."""
        connection = self._tx.writing()
        with self._tx.translating():
            for cls in classes:
                table = qualified(connection, metadata.tables[cls.table_name])
                connection.execute(sa.text(f"ANALYZE {table}"))


#: The bulk steps this store does its own way, by port.
EXTENSIONS: dict[type[Any], Callable[[PostgresTransaction], Any]] = {
    ImportWriter: PostgresImportWriter,
    TableStatistics: PostgresStatistics,
}
