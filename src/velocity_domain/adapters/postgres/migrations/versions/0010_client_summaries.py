"""The client summary list: a projection kept in step with every write, in the same transaction.

The table ``crm_client_summaries`` holds one row per live client (a person
not merged into another) and per user whose slice holds the client: the
nil UUID (everyone), the owner, and each user a lead or a deal of the client
is assigned to. A row carries what the summary list shows, filters and sorts
by: the latest interaction's time and channel, the open deals' count and
value by currency, every deal's stage, the projects of the active interests,
and the ``overall`` QD score; each sort key is indexed behind ``viewer_id``.
The table ``crm_client_summary_tags`` holds a row per summary row and per
tag of it (``stage:<stage>`` for each deal stage, ``project:<id>`` for each
project of interest, ``project:<id> stage:<stage>`` for each pair) with copies of the sort keys, indexed behind
``(viewer_id, tag)``: a page filtered by a stage, a project or both is an
index range there, however rare the tag.

The view ``crm_client_summary_source`` is its definition, computed from the
canonical tables. ``velocity_refresh_client_summaries(ids)`` brings the rows
of the people ``ids`` in line with it (upsert what changed, delete what went);
statement triggers on the tables it reads call it with the people a statement
touched, old and new (a relink names both), so a bulk statement costs one
refresh; the ids go in order, so two statements lock the lines of the same
clients in the same order. New people need no refresh: nothing refers to them yet, so their
rows are written straight from the inserted rows. The functions keep the search path of the migration, so they find
these tables in whatever schema it ran in. The refresh is planned once per
session (a generic plan: it walks the ids given, each through the indexes
by person), so a write pays for executing it, not for planning it. ``velocity_rebuild_client_summaries()`` refills the table from the
view (after a bulk load that ran with triggers off). The upgrade fills it.

The timeline index of ``intel_interactions`` is made again carrying the
channel, so client 360 counts a client's interactions by channel from the
index alone (a client with thousands of them cost a heap read each).
``intel_qd_scores`` gains an index on ``(person_id, computed_at, qd_id)``:
the QD query reads a client's scores newest first, and a merge moves every
score of a person, the per-interaction ones included, which no index served.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_C = "C"

#: The tables whose rows the summary reads, each with a ``person_id`` column.
SOURCES = (
    "crm_people",
    "crm_leads",
    "crm_opportunities",
    "crm_property_interests",
    "intel_interactions",
    "intel_qd_scores",
)
COLUMNS = (
    "person_id, viewer_id, full_name, name_key, owner_user_id, last_activity_at, last_channel,"
    " activity_key, open_deals, pipeline, stages, project_ids, qd_value, qd_key"
)
CHANGING = [c.strip() for c in COLUMNS.split(",")][2:]
#: The sort keys a tag row copies from its summary row.
TAG_KEYS = ("activity_key", "qd_key", "name_key")

VIEW = f"""
CREATE VIEW crm_client_summary_source ({COLUMNS}) AS
SELECT p.person_id, v.viewer_id, p.full_name, p.normalized_name, p.owner_user_id,
       la.happened_at, la.channel,
       coalesce(la.happened_at, '0001-01-01 00:00:00+00'::timestamptz),
       d.open_deals, pv.pipeline, d.stages, pi.project_ids,
       q.current_value, coalesce(q.current_value, -1)
FROM crm_people AS p
LEFT JOIN LATERAL (
    SELECT i.happened_at, i.channel FROM intel_interactions AS i
    WHERE i.person_id = p.person_id
    ORDER BY i.happened_at DESC, i.interaction_id DESC LIMIT 1
) AS la ON true
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE o.stage NOT IN ('won', 'lost'))::integer AS open_deals,
           coalesce(array_agg(DISTINCT o.stage::varchar), '{{}}') AS stages
    FROM crm_opportunities AS o WHERE o.person_id = p.person_id
) AS d
CROSS JOIN LATERAL (
    SELECT coalesce(jsonb_object_agg(t.currency, t.total::text), '{{}}'::jsonb) AS pipeline
    FROM (SELECT o.currency, sum(o.value) AS total FROM crm_opportunities AS o
          WHERE o.person_id = p.person_id AND o.stage NOT IN ('won', 'lost')
            AND o.value IS NOT NULL
          GROUP BY o.currency) AS t
) AS pv
CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(DISTINCT x.project_id), '{{}}') AS project_ids
    FROM crm_property_interests AS x
    WHERE x.person_id = p.person_id AND x.status = 'active' AND x.project_id IS NOT NULL
) AS pi
LEFT JOIN LATERAL (
    SELECT s.current_value FROM intel_qd_scores AS s
    WHERE s.person_id = p.person_id AND s.interaction_id IS NULL AND s.score_type = 'overall'
) AS q ON true
CROSS JOIN LATERAL (
    SELECT DISTINCT u.viewer_id FROM (
        SELECT '00000000-0000-0000-0000-000000000000'::uuid
        UNION ALL SELECT p.owner_user_id
        UNION ALL SELECT l.assigned_user_id FROM crm_leads AS l WHERE l.person_id = p.person_id
        UNION ALL SELECT o.assigned_user_id FROM crm_opportunities AS o
                  WHERE o.person_id = p.person_id
    ) AS u (viewer_id)
    WHERE u.viewer_id IS NOT NULL
) AS v
WHERE p.merged_into_person_id IS NULL
"""  # noqa: S608 (constants of this file)

_SET = ", ".join(f"{c} = EXCLUDED.{c}" for c in CHANGING)
_OLD = ", ".join(f"s.{c}" for c in CHANGING)
_NEW = ", ".join(f"EXCLUDED.{c}" for c in CHANGING)

TAG_COLUMNS = "person_id, viewer_id, tag, activity_key, qd_key, name_key"
_TAG_SET = ", ".join(f"{c} = EXCLUDED.{c}" for c in TAG_KEYS)
_TAG_OLD = ", ".join(f"t.{c}" for c in TAG_KEYS)
_TAG_NEW = ", ".join(f"EXCLUDED.{c}" for c in TAG_KEYS)

#: The tags of summary rows ``f``: one per deal stage, per project of interest, and per pair.
TAGS_OF = """
SELECT f.person_id, f.viewer_id, 'stage:' || st, f.activity_key, f.qd_key, f.name_key
FROM {rows} AS f CROSS JOIN LATERAL unnest(f.stages) AS st
UNION ALL
SELECT f.person_id, f.viewer_id, 'project:' || pr::text, f.activity_key, f.qd_key, f.name_key
FROM {rows} AS f CROSS JOIN LATERAL unnest(f.project_ids) AS pr
UNION ALL
SELECT f.person_id, f.viewer_id, 'project:' || pr::text || ' stage:' || st,
       f.activity_key, f.qd_key, f.name_key
FROM {rows} AS f CROSS JOIN LATERAL unnest(f.project_ids) AS pr
     CROSS JOIN LATERAL unnest(f.stages) AS st
"""

REFRESH = f"""
CREATE FUNCTION velocity_refresh_client_summaries(ids uuid[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_generic_plan AS $$
BEGIN
WITH fresh AS MATERIALIZED (
    SELECT s.* FROM unnest(ids) AS x (id)
    CROSS JOIN LATERAL (
        SELECT {COLUMNS} FROM crm_client_summary_source AS v WHERE v.person_id = x.id
    ) AS s
), fresh_tags ({TAG_COLUMNS}) AS MATERIALIZED (
    {TAGS_OF.format(rows="fresh")}
), gone AS (
    DELETE FROM crm_client_summaries AS s
    WHERE s.person_id = ANY(ids)
      AND NOT EXISTS (SELECT 1 FROM fresh AS f
                      WHERE f.person_id = s.person_id AND f.viewer_id = s.viewer_id)
), gone_tags AS (
    DELETE FROM crm_client_summary_tags AS t
    WHERE t.person_id = ANY(ids)
      AND NOT EXISTS (SELECT 1 FROM fresh_tags AS f
                      WHERE f.person_id = t.person_id AND f.viewer_id = t.viewer_id
                        AND f.tag = t.tag)
), tagged AS (
    INSERT INTO crm_client_summary_tags AS t ({TAG_COLUMNS})
    SELECT {TAG_COLUMNS} FROM fresh_tags
    ON CONFLICT (person_id, viewer_id, tag) DO UPDATE SET {_TAG_SET}
    WHERE ({_TAG_OLD}) IS DISTINCT FROM ({_TAG_NEW})
)
INSERT INTO crm_client_summaries AS s ({COLUMNS})
SELECT {COLUMNS} FROM fresh
ON CONFLICT (person_id, viewer_id) DO UPDATE SET {_SET}
WHERE ({_OLD}) IS DISTINCT FROM ({_NEW});
END
$$
"""  # noqa: S608 (constants of this file)

REBUILD = f"""
CREATE FUNCTION velocity_rebuild_client_summaries() RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    made bigint;
BEGIN
    DELETE FROM crm_client_summary_tags;
    DELETE FROM crm_client_summaries;
    INSERT INTO crm_client_summaries ({COLUMNS})
    SELECT {COLUMNS} FROM crm_client_summary_source;
    GET DIAGNOSTICS made = ROW_COUNT;
    INSERT INTO crm_client_summary_tags ({TAG_COLUMNS})
    {TAGS_OF.format(rows="crm_client_summaries")};
    RETURN made;
END
$$
"""  # noqa: S608 (constants of this file)

TOUCHED = """
CREATE FUNCTION velocity_client_summaries_touched() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM velocity_refresh_client_summaries(
            ARRAY(SELECT DISTINCT person_id FROM new_rows WHERE person_id IS NOT NULL
                  ORDER BY 1));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM velocity_refresh_client_summaries(
            ARRAY(SELECT DISTINCT person_id FROM old_rows WHERE person_id IS NOT NULL
                  ORDER BY 1));
    ELSE
        PERFORM velocity_refresh_client_summaries(
            ARRAY(SELECT person_id FROM new_rows WHERE person_id IS NOT NULL
                  UNION SELECT person_id FROM old_rows WHERE person_id IS NOT NULL
                  ORDER BY 1));
    END IF;
    RETURN NULL;
END
$$
"""

#: A new person has no interaction, deal, interest or score yet (they all refer to it),
#: so its lines are known without reading the view: one per viewer, everyone and owner.
#: One statement may insert a person and rows of theirs (an import does): the triggers
#: of those rows may then refresh the person first, and their lines stand.
PEOPLE_ADDED = f"""
CREATE FUNCTION velocity_client_summaries_people_added() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO crm_client_summaries ({COLUMNS})
    SELECT n.person_id, v.viewer_id, n.full_name, n.normalized_name, n.owner_user_id,
           NULL, NULL, '0001-01-01 00:00:00+00'::timestamptz, 0, '{{}}'::jsonb, '{{}}', '{{}}',
           NULL, -1
    FROM new_rows AS n
    CROSS JOIN LATERAL (VALUES ('00000000-0000-0000-0000-000000000000'::uuid),
                               (n.owner_user_id)) AS v (viewer_id)
    WHERE v.viewer_id IS NOT NULL AND n.merged_into_person_id IS NULL
    ON CONFLICT (person_id, viewer_id) DO NOTHING;
    RETURN NULL;
END
$$
"""  # noqa: S608 (constants of this file)

#: Each event, with the transition tables its trigger reads.
EVENTS = {
    "insert": "NEW TABLE AS new_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
}


def _timeline(include: list[str]) -> None:
    """Make the timeline index again, carrying the ``include`` columns."""
    op.drop_index("ix_intel_interactions_person_timeline", table_name="intel_interactions")
    op.create_index(
        "ix_intel_interactions_person_timeline",
        "intel_interactions",
        ["person_id", sa.text("happened_at DESC"), sa.text("interaction_id DESC")],
        postgresql_include=include,
    )


def _trigger(table: str, event: str) -> str:
    return f"trg_{table}_client_summaries_{event}"


def upgrade() -> None:
    """Apply this revision."""
    _timeline(include=["channel"])
    op.create_index(
        "ix_intel_qd_scores_person_id_computed_at_qd_id",
        "intel_qd_scores",
        ["person_id", "computed_at", "qd_id"],
    )
    op.create_table(
        "crm_client_summaries",
        sa.Column("person_id", sa.Uuid, nullable=False),
        sa.Column("viewer_id", sa.Uuid, nullable=False),
        sa.Column("full_name", sa.String(200, collation=_C), nullable=False),
        sa.Column("name_key", sa.Text(collation=_C), nullable=False),
        sa.Column("owner_user_id", sa.Uuid, nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_channel", sa.String(32, collation=_C), nullable=True),
        sa.Column("activity_key", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open_deals", sa.Integer, nullable=False),
        sa.Column("pipeline", pg.JSONB, nullable=False),
        sa.Column("stages", pg.ARRAY(sa.String(32, collation=_C)), nullable=False),
        sa.Column("project_ids", pg.ARRAY(sa.Uuid), nullable=False),
        sa.Column("qd_value", sa.Numeric, nullable=True),
        sa.Column("qd_key", sa.Numeric, nullable=False),
        sa.PrimaryKeyConstraint("person_id", "viewer_id", name="pk_crm_client_summaries"),
    )
    for key in ("activity_key", "qd_key", "name_key"):
        op.create_index(
            f"ix_crm_client_summaries_viewer_id_{key}_person_id",
            "crm_client_summaries",
            ["viewer_id", key, "person_id"],
        )
    op.create_table(
        "crm_client_summary_tags",
        sa.Column("person_id", sa.Uuid, nullable=False),
        sa.Column("viewer_id", sa.Uuid, nullable=False),
        sa.Column("tag", sa.Text(collation=_C), nullable=False),
        sa.Column("activity_key", sa.DateTime(timezone=True), nullable=False),
        sa.Column("qd_key", sa.Numeric, nullable=False),
        sa.Column("name_key", sa.Text(collation=_C), nullable=False),
        sa.PrimaryKeyConstraint("person_id", "viewer_id", "tag", name="pk_crm_client_summary_tags"),
    )
    for key in TAG_KEYS:
        op.create_index(
            f"ix_crm_client_summary_tags_viewer_id_tag_{key}_person_id",
            "crm_client_summary_tags",
            ["viewer_id", "tag", key, "person_id"],
        )
    op.execute(VIEW)
    op.execute(REFRESH)
    op.execute(REBUILD)
    op.execute(TOUCHED)
    op.execute(PEOPLE_ADDED)
    for table in SOURCES:
        for event, transition in EVENTS.items():
            added = table == "crm_people" and event == "insert"
            function = "people_added" if added else "touched"
            op.execute(
                f"CREATE TRIGGER {_trigger(table, event)} AFTER {event.upper()} ON {table}"
                f" REFERENCING {transition} FOR EACH STATEMENT"
                f" EXECUTE FUNCTION velocity_client_summaries_{function}()"
            )
    op.execute("SELECT velocity_rebuild_client_summaries()")


def downgrade() -> None:
    """Revert this revision."""
    for table in SOURCES:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER {_trigger(table, event)} ON {table}")
    op.execute("DROP FUNCTION velocity_client_summaries_touched()")
    op.execute("DROP FUNCTION velocity_client_summaries_people_added()")
    op.execute("DROP FUNCTION velocity_rebuild_client_summaries()")
    op.execute("DROP FUNCTION velocity_refresh_client_summaries(uuid[])")
    op.execute("DROP VIEW crm_client_summary_source")
    op.drop_table("crm_client_summary_tags")
    op.drop_table("crm_client_summaries")
    op.drop_index("ix_intel_qd_scores_person_id_computed_at_qd_id", table_name="intel_qd_scores")
    _timeline(include=[])
