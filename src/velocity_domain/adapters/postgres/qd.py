"""The QD query on PostgreSQL: a client's scores, newest points and visibility in one statement.

The statement reads the person asked for and the survivor it was merged
into (if any), tests both against the visibility rule with the SQL a
listing of people applies (:func:`~.jsonrows.seen_select`), and sends the
client's own scores and newest points as JSON arrays of rows, each an index
range on the client: ``intel_qd_scores`` by ``(person_id, computed_at)``
and ``intel_qd_timeseries`` by the person's history index.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from velocity_domain.adapters.postgres.jsonrows import JsonRows, seen_select, table_sql
from velocity_domain.intel.entities import QdScore, QdTimeseriesPoint
from velocity_domain.intel.ports import ClientQd, QdReader
from velocity_domain.kernel.query import Filter

if TYPE_CHECKING:
    from velocity_domain.adapters.postgres.store import PostgresTransaction

__all__ = ["EXTENSIONS", "PostgresQdReader"]

_SCORES = JsonRows(QdScore)
_POINTS = JsonRows(QdTimeseriesPoint)

#: The person asked for and its survivor: the people whose visibility is tested.
_NAMED = """WITH named AS (
    SELECT person_id FROM {people} WHERE person_id = %(client)s
    UNION ALL
    SELECT merged_into_person_id FROM {people}
    WHERE person_id = %(client)s AND merged_into_person_id IS NOT NULL
)"""
_STATEMENT = """{head}
SELECT p.merged_into_person_id,
       {seen_client} AS seen,
       {seen_survivor} AS survivor_seen,
       (SELECT json_agg(x.r ORDER BY x.at DESC, x.id DESC)
          FROM (SELECT {score_row} AS r, s.computed_at AS at, s.qd_id AS id
                  FROM {scores} AS s
                 WHERE s.person_id = p.person_id AND s.interaction_id IS NULL
                 ORDER BY s.computed_at DESC, s.qd_id DESC) AS x) AS scores,
       (SELECT json_agg(x.r ORDER BY x.at DESC, x.id DESC)
          FROM (SELECT {point_row} AS r, t.timestamp AS at, t.timeseries_id AS id
                  FROM {points} AS t
                 WHERE t.person_id = p.person_id
                 ORDER BY t.timestamp DESC, t.timeseries_id DESC
                 LIMIT %(limit)s) AS x) AS points
FROM {people} AS p
WHERE p.person_id = %(client)s"""


@functools.lru_cache(maxsize=64)
def _statement(schema: str | None, seen: str | None) -> str:
    """The statement for a schema and a visibility select (``None``: everyone is seen)."""
    people = table_sql("crm_people", schema)
    head = ""
    seen_client, seen_survivor = "true", "p.merged_into_person_id IS NOT NULL"
    if seen is not None:
        head = _NAMED.format(people=people) + f", seen AS ({seen})"
        seen_client = "EXISTS (SELECT 1 FROM seen WHERE seen.person_id = p.person_id)"
        seen_survivor = "EXISTS (SELECT 1 FROM seen WHERE seen.person_id = p.merged_into_person_id)"
    return _STATEMENT.format(
        head=head,
        seen_client=seen_client,
        seen_survivor=seen_survivor,
        score_row=_SCORES.json("s"),
        point_row=_POINTS.json("t"),
        people=people,
        scores=table_sql("intel_qd_scores", schema),
        points=table_sql("intel_qd_timeseries", schema),
    )


class PostgresQdReader:
    """A client's QD in one statement (see ``QdReader``)."""

    def __init__(self, tx: PostgresTransaction) -> None:
        self._tx = tx

    def read(self, person_id: UUID, rule: Filter | None, points: int) -> ClientQd:
        """See :meth:`velocity_domain.intel.ports.QdReader.read`."""
        connection = self._tx.connection
        schema = self._tx.store.schema
        params: dict[str, Any] = {"client": person_id, "limit": points + 1}
        seen = None
        if rule is not None:
            seen, bound = seen_select(rule, schema, connection.dialect)
            params.update(bound)
        with self._tx.translating():
            found = connection.exec_driver_sql(_statement(schema, seen), params).first()
        if found is None:
            return ClientQd(False, None, False, (), (), False)
        survivor, seen_client, seen_survivor, scores, newest = found
        kept = _POINTS.many(newest)
        return ClientQd(
            bool(seen_client),
            survivor,
            bool(seen_survivor),
            _SCORES.many(scores),
            kept[:points],
            len(kept) > points,
        )


#: The steps this module does its own way, by port.
EXTENSIONS: dict[type[Any], Callable[[PostgresTransaction], Any]] = {
    QdReader: PostgresQdReader,
}
