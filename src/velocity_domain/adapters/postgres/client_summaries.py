"""The client summary list on PostgreSQL: pages of the ``crm_client_summaries`` projection.

The projection (revision 0010) holds a row per live client and per user
whose slice holds the client, kept in step with the canonical tables by
triggers in the transaction of every write. A page is one statement: an
index range on ``(viewer_id, sort key, person_id)`` from the cursor's key,
the filters checked on the rows it walks. A filter on another user's slice
is a probe of that user's row of the same client.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa

from velocity_domain.adapters.postgres.tables.projections import crm_client_summaries as cs
from velocity_domain.client_graph.summaries import (
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

_KEYS = {
    SummarySort.LAST_ACTIVITY: cs.c.activity_key,
    SummarySort.QD: cs.c.qd_key,
    SummarySort.NAME: cs.c.name_key,
}
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


def _conditions(viewer: UUID, where: SummaryFilter) -> list[sa.ColumnElement[bool]]:
    found: list[sa.ColumnElement[bool]] = [cs.c.viewer_id == viewer]
    if where.assigned_user_id is not None and where.assigned_user_id != viewer:
        theirs = cs.alias("theirs")
        found.append(
            sa.exists().where(
                theirs.c.person_id == cs.c.person_id,
                theirs.c.viewer_id == where.assigned_user_id,
            )
        )
    if where.stage is not None:
        found.append(sa.literal(where.stage.value, sa.String(32)) == sa.any_(cs.c.stages))
    if where.project_id is not None:
        found.append(sa.literal(where.project_id, sa.Uuid) == sa.any_(cs.c.project_ids))
    if where.active_from is not None or where.active_to is not None:
        found.append(cs.c.activity_key > NO_ACTIVITY)
    if where.active_from is not None:
        found.append(cs.c.activity_key >= where.active_from)
    if where.active_to is not None:
        found.append(cs.c.activity_key < where.active_to)
    if where.qd_band is not None:
        low, high = where.qd_band.bounds
        found.extend((cs.c.qd_key >= low, cs.c.qd_key < high))
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
        """See :meth:`velocity_domain.client_graph.summaries.SummaryPages.page`."""
        key = _KEYS[sort]
        conditions = _conditions(viewer, where)
        down = sort is not SummarySort.NAME
        if after is not None:
            position = sa.tuple_(key, cs.c.person_id)
            mark = sa.tuple_(
                sa.literal(after[0], key.type), sa.literal(after[1], cs.c.person_id.type)
            )
            conditions.append(position < mark if down else position > mark)
        order = (key.desc(), cs.c.person_id.desc()) if down else (key, cs.c.person_id)
        statement = sa.select(*_SHOWN, key).where(*conditions).order_by(*order).limit(limit)
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
