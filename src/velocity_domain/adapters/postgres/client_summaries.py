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

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa

from velocity_domain.adapters.postgres.tables.projections import crm_client_summaries as cs
from velocity_domain.adapters.postgres.tables.projections import crm_client_summary_tags as cst
from velocity_domain.client_graph.summaries import (
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
    cs.c.pipeline,
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


def _conditions(
    walked: sa.FromClause, viewer: UUID, where: SummaryFilter, tag: str | None
) -> list[sa.ColumnElement[bool]]:
    """What the rows walked (the summaries, or the tags of ``tag``) and their summaries must meet.

    The sort keys' bounds go on the walked rows, so they narrow the index range.
    """
    c = walked.c
    found: list[sa.ColumnElement[bool]] = [c.viewer_id == viewer]
    if tag is not None:
        found.append(c.tag == tag)
    if where.assigned_user_id is not None and where.assigned_user_id != viewer:
        found.append(
            sa.exists().where(
                _THEIRS.c.person_id == cs.c.person_id,
                _THEIRS.c.viewer_id == where.assigned_user_id,
            )
        )
    if where.active_from is not None or where.active_to is not None:
        found.append(c.activity_key > NO_ACTIVITY)
    if where.active_from is not None:
        found.append(c.activity_key >= where.active_from)
    if where.active_to is not None:
        found.append(c.activity_key < where.active_to)
    if where.qd_band is not None:
        low, high = where.qd_band.bounds
        found.extend((c.qd_key >= low, c.qd_key < high))
    return found


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
        walked: sa.FromClause = cs if tag is None else cst
        key = walked.c[_SORT_FIELDS[sort]]
        person = walked.c.person_id
        conditions = _conditions(walked, viewer, where, tag)
        down = sort is not SummarySort.NAME
        if after is not None:
            mark = sa.tuple_(sa.literal(after[0], key.type), sa.literal(after[1], sa.Uuid))
            position = sa.tuple_(key, person)
            conditions.append(position < mark if down else position > mark)
        order = (key.desc(), person.desc()) if down else (key, person)
        source: sa.FromClause = cs
        if tag is not None:
            source = cst.join(
                cs, sa.and_(cs.c.person_id == cst.c.person_id, cs.c.viewer_id == cst.c.viewer_id)
            )
        statement = (
            sa.select(*_SHOWN, key)
            .select_from(source)
            .where(*conditions)
            .order_by(*order)
            .limit(limit)
        )
        with self._tx.translating():
            rows = self._tx.connection.execute(statement).all()
        return [(_summary(row), (row[-1], row[0])) for row in rows]


def _summary(row: Any) -> ClientSummary:
    score: Decimal | None = row.qd_value
    return ClientSummary(
        person_id=row.person_id,
        full_name=row.full_name,
        assigned_user_id=row.owner_user_id,
        last_activity_at=row.last_activity_at,
        last_channel=None if row.last_channel is None else Channel(row.last_channel),
        open_deals=row.open_deals,
        pipeline_value={c: Decimal(v) for c, v in row.pipeline.items()},
        qd=score,
        qd_band=QdBand.of(score),
    )


#: The steps this module does its own way, by port.
EXTENSIONS: dict[type[Any], Callable[[PostgresTransaction], Any]] = {
    SummaryPages: PostgresSummaryPages,
}
