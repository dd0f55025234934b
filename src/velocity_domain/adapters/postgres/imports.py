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

from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa

from velocity_domain.adapters.postgres.bulk import qualified
from velocity_domain.adapters.postgres.tables import metadata
from velocity_domain.crm.entities import ImportOutcome
from velocity_domain.crm.ports import ImportMatcher, ImportWriter, Namesake
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.repository import TableStatistics

if TYPE_CHECKING:
    from velocity_domain.adapters.postgres.store import PostgresTransaction

__all__ = ["EXTENSIONS", "PostgresImportMatcher", "PostgresImportWriter", "PostgresStatistics"]

#: A UUIDv7 from ``x.b`` (16 random bytes with the clock laid over the first six).
_UUID7 = "encode(set_byte({b}, 6, (get_byte({b}, 6) & 15) | 112), 'hex')::uuid"
_RANDOM_WITH_CLOCK = (
    "overlay(uuid_send(gen_random_uuid()) placing substring(int8send("
    "floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6)"
)


#: The id columns a statement makes, each a UUIDv7 from its own random bytes.
_IDS = {
    "random": _RANDOM_WITH_CLOCK,
    "person_id": _UUID7.format(b="x.b1"),
    "lead_id": _UUID7.format(b="x.b2"),
    "interest_id": _UUID7.format(b="x.b3"),
}

_NAMESAKES = """
SELECT person_id, full_name, normalized_name, primary_email, primary_phone, version
FROM {people}
WHERE normalized_name = ANY(CAST(:names AS text[])) AND merged_into_person_id IS NULL
"""

_CREATE = """
WITH locked AS (
    SELECT import_row_id, row_number, mapped_json AS m, source_key, match_name
    FROM {rows}
    WHERE import_batch_id = :batch AND outcome = :outcome AND status = 'proposed'
    FOR UPDATE
), src AS (
    SELECT r.import_row_id, r.m, r.source_key, r.match_name,
           row_number() OVER (PARTITION BY r.source_key ORDER BY r.row_number) = 1
               AND NOT EXISTS (SELECT 1 FROM {people} AS q
                               WHERE q.source_system = :system AND q.source_ref = r.source_key)
               AS keep,
           {person_id} AS person_id, {lead_id} AS lead_id, {interest_id} AS interest_id
    FROM locked AS r
    CROSS JOIN LATERAL (SELECT {random} AS b1, {random} AS b2, {random} AS b3) AS x
), people AS (
    INSERT INTO {people} (person_id, full_name, normalized_name, primary_email, primary_phone,
                          persona_labels, source_system, source_ref, owner_user_id,
                          version, created_at, updated_at)
    SELECT person_id, m->>'full_name', match_name, m->>'primary_email', m->>'primary_phone',
           '{{}}', :system, source_key, :owner, 1, :now, :now
    FROM src WHERE keep
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
    FROM src WHERE keep
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
    WHERE keep AND COALESCE(NULLIF(m->>'budget_min', ''), NULLIF(m->>'budget_max', ''),
                            NULLIF(m->>'configuration', ''), NULLIF(m->>'interest', ''))
                   IS NOT NULL
    RETURNING property_interest_id
), marked AS (
    UPDATE {rows} AS t
    SET status = CASE WHEN src.keep THEN 'committed' ELSE 'skipped' END,
        target_domain = CASE WHEN src.keep THEN 'crm' END,
        target_entity_ref = CASE WHEN src.keep THEN src.person_id END,
        evidence_json = CASE
            WHEN src.keep THEN t.evidence_json
            ELSE t.evidence_json || jsonb_build_object('conflict', CAST(:conflict AS text))
        END,
        version = t.version + 1, updated_at = :now
    FROM src
    WHERE t.import_row_id = src.import_row_id
    RETURNING t.status
)
SELECT count(*) FILTER (WHERE status = 'committed'), count(*) FILTER (WHERE status = 'skipped')
FROM marked
"""


_LINK = """
UPDATE {rows} AS t
SET status = 'committed', target_domain = 'crm', target_entity_ref = t.matched_person_id,
    version = t.version + 1, updated_at = :now
WHERE import_batch_id = :batch AND outcome = 'unchanged' AND status = 'proposed'
  AND matched_person_id IS NOT NULL
"""

#: The checks and writes of ``commit_updates``, in its order: a person gone; a person an
#: earlier row of the batch wrote; a field changed since matching; else the write.
_UPDATE = """
WITH src AS (
    SELECT import_row_id, row_number, matched_person_id AS pid, changes_json AS c,
           match_name
    FROM {rows}
    WHERE import_batch_id = :batch AND outcome = 'update' AND status = 'proposed'
    FOR UPDATE
), j AS (
    SELECT src.*, p.person_id IS NOT NULL AS present,
           array_remove(ARRAY[
               CASE WHEN c ? 'full_name' AND p.full_name IS DISTINCT FROM c->'full_name'->>0
                    THEN 'full_name' END,
               CASE WHEN c ? 'primary_email'
                         AND p.primary_email IS DISTINCT FROM c->'primary_email'->>0
                    THEN 'primary_email' END,
               CASE WHEN c ? 'primary_phone'
                         AND p.primary_phone IS DISTINCT FROM c->'primary_phone'->>0
                    THEN 'primary_phone' END
           ], NULL) AS stale
    FROM src LEFT JOIN {people} AS p ON p.person_id = src.pid
), k AS (
    SELECT j.*,
           min(row_number) FILTER (WHERE present AND cardinality(stale) = 0)
               OVER (PARTITION BY pid) AS first_ok
    FROM j
), w AS (
    SELECT k.*,
           CASE WHEN NOT present THEN 'the person is gone'
                WHEN first_ok < row_number THEN 'an earlier row of this batch updated the person'
                WHEN cardinality(stale) > 0 THEN 'changed since: [' || array_to_string(
                    ARRAY(SELECT quote_literal(f) FROM unnest(stale) AS f), ', ') || ']'
           END AS why
    FROM k
), people_written AS (
    UPDATE {people} AS p
    SET full_name = CASE WHEN w.c ? 'full_name' THEN w.c->'full_name'->>1 ELSE p.full_name END,
        normalized_name = CASE WHEN w.c ? 'full_name' THEN w.match_name
                               ELSE p.normalized_name END,
        primary_email = CASE WHEN w.c ? 'primary_email' THEN w.c->'primary_email'->>1
                             ELSE p.primary_email END,
        primary_phone = CASE WHEN w.c ? 'primary_phone' THEN w.c->'primary_phone'->>1
                             ELSE p.primary_phone END,
        version = p.version + 1, updated_at = :now
    FROM w
    WHERE p.person_id = w.pid AND w.why IS NULL
    RETURNING p.person_id
), marked AS (
    UPDATE {rows} AS t
    SET status = CASE WHEN w.why IS NULL THEN 'committed' ELSE 'skipped' END,
        target_domain = CASE WHEN w.why IS NULL THEN 'crm' END,
        target_entity_ref = CASE WHEN w.why IS NULL THEN w.pid END,
        evidence_json = CASE WHEN w.why IS NULL THEN t.evidence_json
                             ELSE t.evidence_json || jsonb_build_object('conflict', w.why) END,
        version = t.version + 1, updated_at = :now
    FROM w
    WHERE t.import_row_id = w.import_row_id
    RETURNING t.status
)
SELECT (SELECT count(*) FROM people_written), count(*) FILTER (WHERE status = 'skipped')
FROM marked
"""


class PostgresImportWriter:
    """The import pipeline's commit of new people as one statement (see the module)."""

    def __init__(self, tx: PostgresTransaction) -> None:
        self._tx = tx

    def create_people(
        self,
        batch_id: UUID,
        outcome: ImportOutcome,
        *,
        source_system: str,
        owner_user_id: UUID | None,
        now: datetime,
        conflict: str,
    ) -> tuple[int, int]:
        """Write the people of ``outcome``'s rows in one statement; return (written, skipped)."""
        params = {
            "batch": batch_id,
            "outcome": outcome.value,
            "system": source_system,
            "owner": owner_user_id,
            "now": now,
            "conflict": conflict,
        }
        found = _run(self._tx, _CREATE, params)
        assert not isinstance(found, int)
        written, skipped = found[0]
        return int(written), int(skipped)

    def apply_updates(self, batch_id: UUID, now: datetime) -> tuple[int, int]:
        """Apply the batch's proposed updates in one statement; return (updated, set aside)."""
        found = _run(self._tx, _UPDATE, {"batch": batch_id, "now": now})
        assert not isinstance(found, int)
        updated, aside = found[0]
        return int(updated), int(aside)

    def link_unchanged(self, batch_id: UUID, now: datetime) -> int:
        """Link the batch's unchanged rows to their people in one statement; return how many."""
        linked = _run(self._tx, _LINK, {"batch": batch_id, "now": now})
        assert isinstance(linked, int)
        return linked


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


#: Each valid row with what the lookups find among the live people (never one
#: merged into another): the person with its source reference, the oldest with
#: its email and with its phone, and the first readable row of the file sharing
#: its email or phone. Only the rows a source match or an earlier row decides
#: are decided here; the rest, which the duplicate rules decide, stay valid.
_FOUND = """
WITH r AS (
    SELECT import_row_id, row_number, status, match_email, match_phone, match_name, source_key,
           mapped_json AS m,
           CASE WHEN match_email IS NOT NULL
                THEN min(row_number) OVER (PARTITION BY match_email) END AS first_email,
           CASE WHEN match_phone IS NOT NULL
                THEN min(row_number) OVER (PARTITION BY match_phone) END AS first_phone
    FROM {rows}
    WHERE import_batch_id = :batch AND status <> 'invalid'
), x AS (
    SELECT r.*,
           s.person_id AS s_id, s.version AS s_ver, s.full_name AS s_name,
           s.normalized_name AS s_norm, s.primary_email AS s_email, s.primary_phone AS s_phone,
           e.person_id AS e_id, e.version AS e_ver, e.full_name AS e_name,
           e.normalized_name AS e_norm, e.primary_email AS e_email, e.primary_phone AS e_phone,
           p.person_id AS p_id, p.version AS p_ver, p.full_name AS p_name,
           p.normalized_name AS p_norm, p.primary_email AS p_email, p.primary_phone AS p_phone
    FROM r
    LEFT JOIN {people} AS s ON s.source_system = :system AND s.source_ref = r.source_key
                               AND s.merged_into_person_id IS NULL
    LEFT JOIN LATERAL (
        SELECT * FROM {people} AS q
        WHERE q.primary_email = r.match_email AND q.merged_into_person_id IS NULL
        ORDER BY q.created_at, q.person_id LIMIT 1
    ) AS e ON true
    LEFT JOIN LATERAL (
        SELECT * FROM {people} AS q
        WHERE q.primary_phone = r.match_phone AND q.merged_into_person_id IS NULL
        ORDER BY q.created_at, q.person_id LIMIT 1
    ) AS p ON true
), k AS (
    SELECT x.*,
           CASE WHEN s_id IS NOT NULL THEN 'source'
                WHEN first_email < row_number OR first_phone < row_number THEN 'same_file'
           END AS kind,
           (SELECT COALESCE(jsonb_agg(v.m ORDER BY v.o), '[]'::jsonb) FROM (VALUES
                (1, CASE WHEN s_id IS NOT NULL THEN jsonb_build_object(
                        'rule', 'source', 'person_id', s_id::text) END),
                (2, CASE WHEN e_id IS NOT NULL THEN jsonb_build_object(
                        'rule', 'email', 'person_id', e_id::text) END),
                (3, CASE WHEN p_id IS NOT NULL THEN jsonb_build_object(
                        'rule', 'phone', 'person_id', p_id::text) END)
            ) AS v(o, m) WHERE v.m IS NOT NULL) AS matches
    FROM x
    WHERE status = 'valid'
), d AS (
    -- the person the row is decided about: the source match, else email, else phone
    SELECT k.*,
           CASE WHEN kind = 'source' THEN s_id ELSE COALESCE(e_id, p_id) END AS d_id,
           CASE WHEN kind = 'source' THEN s_ver WHEN e_id IS NOT NULL THEN e_ver
                ELSE p_ver END AS d_ver,
           CASE WHEN kind = 'source' THEN s_name WHEN e_id IS NOT NULL THEN e_name
                ELSE p_name END AS d_name,
           CASE WHEN kind = 'source' THEN s_norm WHEN e_id IS NOT NULL THEN e_norm
                ELSE p_norm END AS d_norm,
           CASE WHEN kind = 'source' THEN s_email WHEN e_id IS NOT NULL THEN e_email
                ELSE p_email END AS d_email,
           CASE WHEN kind = 'source' THEN s_phone WHEN e_id IS NOT NULL THEN e_phone
                ELSE p_phone END AS d_phone
    FROM k WHERE kind IS NOT NULL
), c AS (
    SELECT d.*,
           CASE WHEN kind = 'source' THEN jsonb_strip_nulls(jsonb_build_object(
               'full_name', CASE WHEN NULLIF(m->>'full_name', '') IS NOT NULL
                                  AND match_name IS DISTINCT FROM d_norm
                                 THEN jsonb_build_array(d_name, m->>'full_name') END,
               'primary_email', CASE WHEN NULLIF(m->>'primary_email', '') IS NOT NULL
                                      AND m->>'primary_email' IS DISTINCT FROM d_email
                                     THEN jsonb_build_array(d_email, m->>'primary_email') END,
               'primary_phone', CASE WHEN NULLIF(m->>'primary_phone', '') IS NOT NULL
                                      AND m->>'primary_phone' IS DISTINCT FROM d_phone
                                     THEN jsonb_build_array(d_phone, m->>'primary_phone') END
           )) ELSE '{{}}'::jsonb END AS changes
    FROM d
), o AS (
    SELECT c.*,
           CASE WHEN kind = 'same_file' THEN 'duplicate'
                WHEN changes = '{{}}'::jsonb THEN 'unchanged' ELSE 'update' END AS outcome,
           CASE kind
               WHEN 'source' THEN jsonb_build_object(
                   'rule', 'source', 'matches', matches, 'version', d_ver)
               ELSE jsonb_build_object(
                   'rule', 'same_file',
                   'field', CASE WHEN first_email < row_number
                                 THEN 'primary_email' ELSE 'primary_phone' END,
                   'row', CASE WHEN first_email < row_number
                               THEN first_email ELSE first_phone END,
                   'value', CASE WHEN first_email < row_number
                                 THEN m->'primary_email' ELSE m->'primary_phone' END,
                   'matches', matches)
           END AS evidence
    FROM c
), u AS (
    UPDATE {rows} AS t
    SET status = 'proposed', outcome = o.outcome, matched_person_id = o.d_id,
        changes_json = o.changes, evidence_json = o.evidence,
        writeback_id = CASE o.outcome WHEN 'new' THEN CAST(:new AS uuid)
                                      WHEN 'update' THEN CAST(:update AS uuid)
                                      WHEN 'duplicate' THEN CAST(:duplicate AS uuid) END,
        version = t.version + 1, updated_at = :now
    FROM o
    WHERE t.import_row_id = o.import_row_id
    RETURNING t.outcome
)
SELECT outcome, count(*) FROM u GROUP BY outcome
"""


class PostgresImportMatcher:
    """The import pipeline's source and same-file matching as one statement (see ``ImportMatcher``).

    Whether a person sharing an email or phone is the same person is for the
    duplicate rules (Python callables a host may edit), so the pipeline
    decides those rows; this statement decides only what no rule changes.
    """

    def __init__(self, tx: PostgresTransaction) -> None:
        self._tx = tx

    def match_exact(
        self,
        batch_id: UUID,
        source_system: str,
        proposals: Mapping[ImportOutcome, UUID],
        now: datetime,
    ) -> dict[str, int]:
        """Decide the rows a source match or an earlier row decides, in one statement.

        Returns their count per outcome; the rows the duplicate rules decide stay valid.
        """
        params: dict[str, Any] = {
            "batch": batch_id,
            "system": source_system,
            "now": now,
            **{o.value: proposals.get(o) for o in ImportOutcome},
        }
        found = _run(self._tx, _FOUND, params)
        assert not isinstance(found, int)
        return {str(outcome): int(count) for outcome, count in found}

    def namesakes(self, names: Collection[str]) -> list[Namesake]:
        """Everyone with one of the normalised ``names``: one indexed statement, six columns."""
        if not names:
            return []
        found = _run(self._tx, _NAMESAKES, {"names": list(names)}, write=False)
        assert not isinstance(found, int)
        return [Namesake(*row) for row in found]


#: The tables the statements name, by their placeholder.
_TABLES = {
    "rows": "crm_import_rows",
    "people": "crm_people",
    "leads": "crm_leads",
    "interests": "crm_property_interests",
}


def _run(
    tx: PostgresTransaction, text: str, params: dict[str, Any], *, write: bool = True
) -> list[tuple[Any, ...]] | int:
    """Run one of this module's statements, its tables named in the store's schema.

    Returns the rows it returns, or how many rows it changed.
    """
    connection = tx.writing() if write else tx.connection
    names = {key: qualified(connection, metadata.tables[table]) for key, table in _TABLES.items()}
    statement = sa.text(text.format(**names, **_IDS))
    with tx.translating():
        result = connection.execute(statement, params)
        if result.returns_rows:
            return [tuple(row) for row in result]
        return int(result.rowcount or 0)


#: The bulk steps this store does its own way, by port.
EXTENSIONS: dict[type[Any], Callable[[PostgresTransaction], Any]] = {
    ImportWriter: PostgresImportWriter,
    ImportMatcher: PostgresImportMatcher,
    TableStatistics: PostgresStatistics,
}
