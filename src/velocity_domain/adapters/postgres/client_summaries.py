"""The client summary list on PostgreSQL: pages of the ``crm_client_summaries`` projection.

The projection (revision 0010) holds a row per live client and per user
whose slice holds the client, kept in step with the canonical tables by
triggers in the transaction of every write. A page is one statement: an
index range on ``(viewer_id, sort key, person_id)`` from the cursor's key,
the filters checked on the rows it walks. A page filtered by a deal stage or
a project of interest (or both) walks ``crm_client_summary_tags`` instead, on
``(viewer_id, tag, sort key, person_id)``, and joins each row to its summary.
Everyone's slice filtered by a user's is read as that user's slice; an
agent's filtered by another user's probes that user's row of each client.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from velocity_domain.adapters.postgres.tables.projections import crm_client_summaries as cs
from velocity_domain.adapters.postgres.tables.projections import crm_client_summary_tags as cst
from velocity_domain.client_graph.summary_ports import (
    EVERYONE,
    NO_ACTIVITY,
    ClientSummary,
    QdBand,
    SummaryFilter,
    SummaryPages,
    SummarySort,
)
from velocity_domain.intel.entities import Channel
from velocity_domain.kernel.pagination import CursorValue

if TYPE_CHECKING:
    from velocity_domain.adapters.postgres.store import PostgresTransaction

__all__ = ["EXTENSIONS", "PostgresSummaryPages"]

_SHOWN = (
    cs.c.person_id,
    cs.c.full_name,
    cs.c.owner_user_id,
    cs.c.last_activity_at,
    cs.c.last_channel,
    cs.c.open_deals,
    # Most clients have no open deal: their empty document is not parsed.
    sa.case(
        (cs.c.pipeline == sa.literal({}, pg.JSONB), None),
        else_=sa.cast(cs.c.pipeline, sa.Text),
    ).label("pipeline"),
    cs.c.qd_value,
)
#: Another user's rows, to test a client is in their slice too.
_THEIRS = cs.alias("theirs")
_SORT_FIELDS = {
    SummarySort.LAST_ACTIVITY: "activity_key",
    SummarySort.QD: "qd_key",
    SummarySort.NAME: "name_key",
}


def _tag(where: SummaryFilter) -> str | None:
    """The tag a page walks instead of the whole slice (the stage's, the project's, or both's)."""
    named = []
    if where.project_id is not None:
        named.append(f"project:{where.project_id}")
    if where.stage is not None:
        named.append(f"stage:{where.stage.value}")
    return " ".join(named) or None


@attrs.frozen
class _Shape:
    """What a page's statement depends on, besides the values it binds."""

    sort: SummarySort
    tagged: bool
    others: bool
    since: bool
    until: bool
    band: bool
    after: bool


def _conditions(shape: _Shape, walked: sa.FromClause) -> list[sa.ColumnElement[bool]]:
    """What the rows walked (the summaries, or the tags) and their summaries must meet.

    The sort keys' bounds go on the walked rows, so they narrow the index range.
    """
    c = walked.c
    found: list[sa.ColumnElement[bool]] = [c.viewer_id == sa.bindparam("viewer", type_=sa.Uuid)]
    if shape.tagged:
        found.append(c.tag == sa.bindparam("tag", type_=sa.Text))
    if shape.others:
        found.append(
            sa.exists().where(
                _THEIRS.c.person_id == cs.c.person_id,
                _THEIRS.c.viewer_id == sa.bindparam("assigned", type_=sa.Uuid),
            )
        )
    when = sa.DateTime(timezone=True)
    if shape.since or shape.until:
        found.append(c.activity_key > NO_ACTIVITY)
    if shape.since:
        found.append(c.activity_key >= sa.bindparam("since", type_=when))
    if shape.until:
        found.append(c.activity_key < sa.bindparam("until", type_=when))
    if shape.band:
        low, high = sa.bindparam("low", type_=sa.Numeric), sa.bindparam("high", type_=sa.Numeric)
        found.extend((c.qd_key >= low, c.qd_key < high))
    return found


@functools.cache
def _statement(shape: _Shape) -> sa.Select[Any]:
    """The statement of every page of ``shape`` (built once, its values bound per page)."""
    walked: sa.FromClause = cst if shape.tagged else cs
    key = walked.c[_SORT_FIELDS[shape.sort]]
    person = walked.c.person_id
    conditions = _conditions(shape, walked)
    down = shape.sort.descending
    if shape.after:
        mark = sa.tuple_(
            sa.bindparam("after_key", type_=key.type), sa.bindparam("after_id", type_=sa.Uuid)
        )
        position = sa.tuple_(key, person)
        conditions.append(position < mark if down else position > mark)
    order = (key.desc(), person.desc()) if down else (key, person)
    source: sa.FromClause = cs
    if shape.tagged:
        joined = sa.and_(cs.c.person_id == cst.c.person_id, cs.c.viewer_id == cst.c.viewer_id)
        source = cst.join(cs, joined)
    return (
        sa.select(*_SHOWN, key)
        .select_from(source)
        .where(*conditions)
        .order_by(*order)
        .limit(sa.bindparam("size", type_=sa.Integer))
    )


class PostgresSummaryPages:
    """Pages of the summary list read from the projection (see ``SummaryPages``)."""

    def __init__(self, tx: PostgresTransaction) -> None:
        self._tx = tx

    def page(
        self,
        viewer: UUID,
        where: SummaryFilter,
        sort: SummarySort,
        after: tuple[CursorValue, UUID] | None,
        limit: int,
    ) -> list[tuple[ClientSummary, tuple[CursorValue, UUID]]]:
        """See :meth:`velocity_domain.client_graph.summaries.SummaryPages.page`.

        Everyone's slice filtered by a user's is that user's slice; a page
        filtered by a stage or a project walks that tag's rows.
        """
        if viewer == EVERYONE and where.assigned_user_id is not None:
            viewer = where.assigned_user_id
        tag = _tag(where)
        others = where.assigned_user_id is not None and where.assigned_user_id != viewer
        band = where.qd_band
        shape = _Shape(
            sort,
            tag is not None,
            others,
            where.active_from is not None,
            where.active_to is not None,
            band is not None,
            after is not None,
        )
        values: dict[str, Any] = {
            "viewer": viewer,
            "tag": tag,
            "assigned": where.assigned_user_id,
            "since": where.active_from,
            "until": where.active_to,
            "size": limit,
        }
        if band is not None:
            values["low"], values["high"] = band.bounds
        if after is not None:
            values["after_key"], values["after_id"] = after
        with self._tx.translating():
            rows = self._tx.connection.execute(_statement(shape), values).all()
        return [(_summary(row), (row[-1], row[0])) for row in rows]


def _summary(row: Any) -> ClientSummary:
    score: Decimal | None = row.qd_value
    pipeline = row.pipeline
    return ClientSummary(
        person_id=row.person_id,
        full_name=row.full_name,
        assigned_user_id=row.owner_user_id,
        last_activity_at=row.last_activity_at,
        last_channel=None if row.last_channel is None else Channel(row.last_channel),
        open_deals=row.open_deals,
        pipeline_value={} if pipeline is None else _money(pipeline),
        qd=score,
        qd_band=QdBand.of(score),
    )


def _money(text: str) -> dict[str, Decimal]:
    return {c: Decimal(v) for c, v in json.loads(text).items()}


#: The steps this module does its own way, by port.
EXTENSIONS: dict[type[Any], Callable[[PostgresTransaction], Any]] = {
    SummaryPages: PostgresSummaryPages,
}
