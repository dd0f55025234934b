"""The duplicate scan's blocks on PostgreSQL: the live people grouped by blocking key, in SQL.

One statement groups the people who are not merged into another by each
blocking key the scan asks for (the email, the phone, and the name key: the
normalised name's words in code point order, as
:func:`velocity_domain.crm.duplicates.name_key` makes it), keeps the groups
of two or more, and returns their members with what the rules compare, the
accounts of their leads and deals included. The rows are read through a
server-side cursor, a chunk at a time, so the table never sits in Python
whole.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from velocity_domain.adapters.postgres.bulk import qualified
from velocity_domain.adapters.postgres.tables import metadata
from velocity_domain.crm.duplicates import Block
from velocity_domain.crm.ports import BlockMember, DuplicateBlocks

if TYPE_CHECKING:
    from velocity_domain.adapters.postgres.store import PostgresTransaction

__all__ = ["EXTENSIONS", "PostgresDuplicateBlocks"]


#: The name key of ``n``: its words in code point order (two words, the most, without a subquery).
_NAME_KEY = """CASE
    WHEN strpos(p.normalized_name, ' ') > 0
         AND strpos(substr(p.normalized_name, strpos(p.normalized_name, ' ') + 1), ' ') = 0
    THEN least(split_part(p.normalized_name, ' ', 1) COLLATE "C",
               split_part(p.normalized_name, ' ', 2) COLLATE "C")
         || ' ' || greatest(split_part(p.normalized_name, ' ', 1) COLLATE "C",
                            split_part(p.normalized_name, ' ', 2) COLLATE "C")
    ELSE (SELECT string_agg(w, ' ' ORDER BY w COLLATE "C")
            FROM unnest(string_to_array(p.normalized_name, ' ')) AS w WHERE w <> '')
END"""

#: The key of each block kind, as an expression over ``live``.
_KEYS = {
    Block.EMAIL: "primary_email",
    Block.PHONE: "primary_phone",
    Block.NAME: "name_key",
}

_MEMBERS = """
WITH accounts AS (
    SELECT person_id, array_agg(DISTINCT account_id ORDER BY account_id) AS ids
    FROM (SELECT person_id, account_id FROM {leads} WHERE account_id IS NOT NULL
          UNION ALL
          SELECT person_id, account_id FROM {opportunities} WHERE account_id IS NOT NULL) AS a
    GROUP BY person_id
), live AS MATERIALIZED (
    SELECT p.person_id, p.full_name, p.normalized_name AS n, p.primary_email, p.primary_phone,
           p.household_id, p.source_ref, p.created_at, a.ids, {name_key} AS name_key
    FROM {people} AS p
    LEFT JOIN accounts AS a ON a.person_id = p.person_id
    WHERE p.merged_into_person_id IS NULL
), keyed AS (
    {keyed}
), sized AS (
    SELECT keyed.*, count(*) OVER (PARTITION BY block, key) AS size
    FROM keyed
)
SELECT block, key, size, person_id, full_name, n, primary_email, primary_phone, household_id,
       source_ref, created_at, ids
FROM sized
WHERE size > 1
ORDER BY block, key, person_id
"""

_KEYED = 'SELECT \'{block}\'::text COLLATE "C" AS block, {key} COLLATE "C" AS key, live.*'
_KEYED += " FROM live WHERE {key} IS NOT NULL"

#: At a million people JIT compiling the statement costs more than it saves (0.6 s of 18).
_SETTINGS = ("SET LOCAL jit = off",)

#: The tables the statement names, by their placeholder.
_TABLES = {
    "people": "crm_people",
    "leads": "crm_leads",
    "opportunities": "crm_opportunities",
}


def members_sql(blocks: Collection[Block]) -> str:
    """The statement that returns the members of the blocks of the kinds ``blocks``.

    Its table placeholders (``{people}``, ``{leads}``, ``{opportunities}``)
    are left for the caller to fill with the store's qualified names.
    """
    chosen = sorted({Block(b) for b in blocks})
    keyed = "\n    UNION ALL\n    ".join(_KEYED.format(block=b.value, key=_KEYS[b]) for b in chosen)
    return _MEMBERS.replace("{keyed}", keyed).replace("{name_key}", _NAME_KEY)


class PostgresDuplicateBlocks:
    """The scan's blocks as one statement, streamed (see ``DuplicateBlocks``)."""

    def __init__(self, tx: PostgresTransaction) -> None:
        self._tx = tx

    def members(self, blocks: Collection[Block], *, chunk: int) -> Iterator[BlockMember]:
        """Every member of every block of 2+ live people, ``chunk`` rows per fetch.

        Read through a server-side cursor, so the unit of work must be one
        that may write (a transaction, not autocommit); nothing is written.
        """
        if not blocks:
            return
        connection = self._tx.connection
        names = {key: qualified(connection, metadata.tables[t]) for key, t in _TABLES.items()}
        statement = sa.text(members_sql(blocks).format(**names))
        with self._tx.translating():
            for setting in _SETTINGS:
                connection.execute(sa.text(setting))
            result = connection.execution_options(
                stream_results=True, max_row_buffer=chunk
            ).execute(statement)
            try:
                for rows in result.partitions(chunk):
                    for row in rows:
                        yield BlockMember(
                            Block(row[0]),
                            row[1],
                            int(row[2]),
                            row[3],
                            row[4],
                            row[5],
                            row[6],
                            row[7],
                            row[8],
                            row[9],
                            row[10],
                            tuple(row[11] or ()),
                        )
            finally:
                result.close()


#: The bulk steps this store does its own way, by port.
EXTENSIONS: dict[type[Any], Callable[[PostgresTransaction], Any]] = {
    DuplicateBlocks: PostgresDuplicateBlocks,
}
