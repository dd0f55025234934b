"""Idempotency keys on PostgreSQL: one statement per step on ``api_idempotency_keys``.

A claim is ``INSERT ... ON CONFLICT DO NOTHING`` on the primary key
``(owner, key)``: a concurrent claim of the same key waits for the first
inserter's transaction and then inserts nothing. Re-claiming a lapsed or
expired key, finishing and abandoning are conditional ``UPDATE`` and
``DELETE`` statements whose ``WHERE`` holds the condition, so PostgreSQL
re-checks it on the row another transaction just changed and of racing
callers exactly one wins. Headers are stored as a JSON array of pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from velocity_domain.adapters.postgres.tables.api import api_idempotency_keys as t
from velocity_domain.identity.idempotency import (
    IdempotencyKeys,
    IdempotencyRecord,
    IdempotencyState,
    StoredResponse,
)

if TYPE_CHECKING:
    from velocity_domain.adapters.postgres.store import PostgresTransaction

__all__ = ["EXTENSIONS", "PostgresIdempotencyKeys"]

_PENDING, _DONE = IdempotencyState.PENDING.value, IdempotencyState.DONE.value
#: The response columns, emptied when a key is claimed again (SQL NULL: not JSON ``null``).
_NO_RESPONSE = {
    "completed_at": sa.null(),
    "status": sa.null(),
    "media_type": sa.null(),
    "headers": sa.null(),
    "body": sa.null(),
}


def _this(owner: str, key: str) -> sa.ColumnElement[bool]:
    return sa.and_(t.c.owner == owner, t.c.key == key)


def _record(row: sa.Row[Any]) -> IdempotencyRecord:
    """A stored row as a record (trusted: the library wrote it)."""
    response = None
    if row.state == _DONE:
        headers = tuple((str(name), str(value)) for name, value in row.headers)
        response = StoredResponse(row.status, headers, bytes(row.body), row.media_type)
    return IdempotencyRecord(
        owner=row.owner,
        key=row.key,
        fingerprint=row.fingerprint,
        state=IdempotencyState(row.state),
        claimed_at=row.claimed_at,
        completed_at=row.completed_at,
        response=response,
    )


class PostgresIdempotencyKeys:
    """The idempotency keys of a PostgreSQL store, inside one transaction."""

    def __init__(self, tx: PostgresTransaction) -> None:
        self._tx = tx

    def _write(self, statement: sa.Executable) -> sa.CursorResult[Any]:
        connection = self._tx.writing()
        with self._tx.translating():
            return connection.execute(statement)

    def claim(self, owner: str, key: str, fingerprint: str, at: datetime) -> bool:
        """See :meth:`IdempotencyKeys.claim`."""
        statement = (
            pg.insert(t)
            .values(owner=owner, key=key, fingerprint=fingerprint, state=_PENDING, claimed_at=at)
            .on_conflict_do_nothing(index_elements=[t.c.owner, t.c.key])
            .returning(t.c.owner)
        )
        return self._write(statement).first() is not None

    def find(self, owner: str, key: str) -> IdempotencyRecord | None:
        """See :meth:`IdempotencyKeys.find`."""
        connection = self._tx.connection
        with self._tx.translating():
            row = connection.execute(sa.select(t).where(_this(owner, key))).first()
        return None if row is None else _record(row)

    def reclaim(
        self,
        owner: str,
        key: str,
        fingerprint: str,
        at: datetime,
        *,
        claimed_before: datetime,
        pending_only: bool,
    ) -> bool:
        """See :meth:`IdempotencyKeys.reclaim`."""
        where = [_this(owner, key), t.c.claimed_at < claimed_before]
        if pending_only:
            where.append(t.c.state == _PENDING)
        statement = (
            sa.update(t)
            .where(*where)
            .values(fingerprint=fingerprint, state=_PENDING, claimed_at=at, **_NO_RESPONSE)
            .returning(t.c.owner)
        )
        return self._write(statement).first() is not None

    def complete(self, owner: str, key: str, response: StoredResponse, at: datetime) -> bool:
        """See :meth:`IdempotencyKeys.complete`."""
        statement = (
            sa.update(t)
            .where(_this(owner, key), t.c.state == _PENDING)
            .values(
                state=_DONE,
                completed_at=at,
                status=response.status,
                media_type=response.media_type,
                headers=[list(pair) for pair in response.headers],
                body=response.body,
            )
            .returning(t.c.owner)
        )
        return self._write(statement).first() is not None

    def release(self, owner: str, key: str) -> bool:
        """See :meth:`IdempotencyKeys.release`."""
        statement = (
            sa.delete(t).where(_this(owner, key), t.c.state == _PENDING).returning(t.c.owner)
        )
        return self._write(statement).first() is not None

    def purge(self, claimed_before: datetime) -> int:
        """See :meth:`IdempotencyKeys.purge` (one statement, served by the ``claimed_at`` index)."""
        return int(self._write(sa.delete(t).where(t.c.claimed_at < claimed_before)).rowcount)


#: The ports this module answers, by port.
EXTENSIONS: dict[type[Any], Callable[[PostgresTransaction], Any]] = {
    IdempotencyKeys: PostgresIdempotencyKeys,
}
