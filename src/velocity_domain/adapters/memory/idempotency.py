"""Idempotency keys in memory: a dictionary by (owner, key), written through the undo log.

The store's one lock serialises transactions, so each conditional write here
is as atomic as PostgreSQL's ``INSERT ... ON CONFLICT DO NOTHING`` or
conditional ``UPDATE``; a rollback restores the records as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from velocity_domain.identity.idempotency import (
    IdempotencyKeys,
    IdempotencyRecord,
    IdempotencyState,
    StoredResponse,
)

if TYPE_CHECKING:
    from velocity_domain.adapters.memory.store import MemoryTransaction

__all__ = ["EXTENSIONS", "MemoryIdempotencyKeys"]


class MemoryIdempotencyKeys:
    """The idempotency keys of a :class:`MemoryStore`, inside one transaction."""

    def __init__(self, tx: MemoryTransaction) -> None:
        self._tx = tx

    def _records(self) -> dict[tuple[str, str], IdempotencyRecord]:
        self._tx.check_open()
        return self._tx.idempotency_records

    def claim(self, owner: str, key: str, fingerprint: str, at: datetime) -> bool:
        """See :meth:`IdempotencyKeys.claim`."""
        if (owner, key) in self._records():
            return False
        record = IdempotencyRecord(owner, key, fingerprint, IdempotencyState.PENDING, at)
        self._tx.put_idempotency_record((owner, key), record)
        return True

    def find(self, owner: str, key: str) -> IdempotencyRecord | None:
        """See :meth:`IdempotencyKeys.find`."""
        return self._records().get((owner, key))

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
        current = self._records().get((owner, key))
        if current is None or current.claimed_at >= claimed_before:
            return False
        if pending_only and current.state is not IdempotencyState.PENDING:
            return False
        record = IdempotencyRecord(owner, key, fingerprint, IdempotencyState.PENDING, at)
        self._tx.put_idempotency_record((owner, key), record)
        return True

    def complete(self, owner: str, key: str, response: StoredResponse, at: datetime) -> bool:
        """See :meth:`IdempotencyKeys.complete`."""
        current = self._records().get((owner, key))
        if current is None or current.state is not IdempotencyState.PENDING:
            return False
        done = attrs.evolve(
            current, state=IdempotencyState.DONE, completed_at=at, response=response
        )
        self._tx.put_idempotency_record((owner, key), done)
        return True

    def release(self, owner: str, key: str) -> bool:
        """See :meth:`IdempotencyKeys.release`."""
        current = self._records().get((owner, key))
        if current is None or current.state is not IdempotencyState.PENDING:
            return False
        self._tx.put_idempotency_record((owner, key), None)
        return True

    def purge(self, claimed_before: datetime) -> int:
        """See :meth:`IdempotencyKeys.purge` (a scan: purging is a rare, periodic job)."""
        old = [k for k, r in self._records().items() if r.claimed_at < claimed_before]
        for ident in old:
            self._tx.put_idempotency_record(ident, None)
        return len(old)


#: The ports this module answers, by port.
EXTENSIONS: dict[type[Any], Callable[[MemoryTransaction], Any]] = {
    IdempotencyKeys: MemoryIdempotencyKeys,
}
