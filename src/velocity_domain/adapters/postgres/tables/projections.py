"""Derived tables: read models PostgreSQL keeps in step with the canonical tables.

Not part of the canonical model (spec section 2: read models are derived,
never primary truth). Each is filled and kept current by the triggers of the
migration that made it, inside the transaction of every write, and can be
rebuilt from the canonical tables at any time.

``crm_client_summaries`` is the client summary list (see
:mod:`velocity_domain.client_graph.summaries`): one row per live client and
per user whose slice holds the client (``viewer_id``; the nil UUID is the
row everyone-seeing principals read), with the sort keys indexed per viewer
so a page of any sort, at any depth, is one index range.
``crm_client_summary_tags`` adds a row per summary row and per tag of it
(``stage:<stage>``, ``project:<id>``, and ``project:<id> stage:<stage>`` for
each pair) with copies of the sort keys, so a page filtered by a deal stage,
a project of interest or both is an index range too.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from velocity_domain.adapters.postgres.tables._columns import CODE_POINT, metadata

__all__ = ["PROJECTION_TABLES", "crm_client_summaries", "crm_client_summary_tags"]

_C = CODE_POINT

crm_client_summaries = sa.Table(
    "crm_client_summaries",
    metadata,
    sa.Column("person_id", sa.Uuid, primary_key=True),
    sa.Column("viewer_id", sa.Uuid, primary_key=True),
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
    sa.Index(None, "viewer_id", "activity_key", "person_id"),
    sa.Index(None, "viewer_id", "qd_key", "person_id"),
    sa.Index(None, "viewer_id", "name_key", "person_id"),
)

crm_client_summary_tags = sa.Table(
    "crm_client_summary_tags",
    metadata,
    sa.Column("person_id", sa.Uuid, primary_key=True),
    sa.Column("viewer_id", sa.Uuid, primary_key=True),
    sa.Column("tag", sa.Text(collation=_C), primary_key=True),
    sa.Column("activity_key", sa.DateTime(timezone=True), nullable=False),
    sa.Column("qd_key", sa.Numeric, nullable=False),
    sa.Column("name_key", sa.Text(collation=_C), nullable=False),
    sa.Index(None, "viewer_id", "tag", "activity_key", "person_id"),
    sa.Index(None, "viewer_id", "tag", "qd_key", "person_id"),
    sa.Index(None, "viewer_id", "tag", "name_key", "person_id"),
)

#: The derived tables, by name.
PROJECTION_TABLES = frozenset({crm_client_summaries.name, crm_client_summary_tags.name})
