"""The composition root: ``Velocity`` is the one object a host constructs.

>>> from velocity_domain import Velocity
>>> velocity = Velocity.in_memory()
>>> with velocity.unit_of_work() as uow:
...     uow.crm.people.count()
0
"""

from __future__ import annotations

import threading
from types import TracebackType

from velocity_domain.errors import SchemaNotReady
from velocity_domain.kernel.clock import Clock, SystemClock
from velocity_domain.kernel.pagination import CursorCodec
from velocity_domain.kernel.repository import Store
from velocity_domain.uow import ENTITY_CLASSES, UnitOfWork

__all__ = ["Velocity"]


class Velocity:
    """The canonical CRM model over one store (in memory or PostgreSQL)."""

    def __init__(self, store: Store, *, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self._active = threading.local()

    @classmethod
    def in_memory(cls, *, clock: Clock | None = None, cursor_key: bytes | None = None) -> Velocity:
        """Return a Velocity over a fresh in-memory store (the embedded default)."""
        from velocity_domain.adapters.memory.store import MemoryStore  # noqa: PLC0415

        clock = clock or SystemClock()
        codec = CursorCodec(cursor_key) if cursor_key else None
        return cls(MemoryStore(ENTITY_CLASSES, clock=clock, cursor_codec=codec), clock=clock)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        schema: str | None = None,
        pool_size: int = 5,
        max_overflow: int = 10,
        clock: Clock | None = None,
        cursor_key: bytes | None = None,
    ) -> Velocity:
        """Return a Velocity over the PostgreSQL database at ``url``.

        The database must already be migrated (``velocity-domain db upgrade``);
        if it is not, or is at another revision, ``SchemaNotReady`` says so.
        Needs the ``postgres`` extra.
        """
        try:
            from velocity_domain.adapters.postgres.engine import (  # noqa: PLC0415
                check_revision,
                create_engine,
            )
            from velocity_domain.adapters.postgres.store import PostgresStore  # noqa: PLC0415
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise SchemaNotReady(
                f"the PostgreSQL store is not installed ({exc});"
                ' pip install "velocity-domain[postgres]"'
            ) from exc
        engine = create_engine(url, schema=schema, pool_size=pool_size, max_overflow=max_overflow)
        try:
            check_revision(engine, url, schema)
        except BaseException:
            engine.dispose()
            raise
        clock = clock or SystemClock()
        codec = CursorCodec(cursor_key) if cursor_key else None
        store = PostgresStore(engine, ENTITY_CLASSES, clock=clock, cursor_codec=codec)
        return cls(store, clock=clock)

    def unit_of_work(self) -> UnitOfWork:
        """Return a new unit of work; use it as ``with velocity.unit_of_work() as uow:``."""
        return UnitOfWork(self.store, self._active)

    def close(self) -> None:
        """Release the store (connection pool)."""
        self.store.close()

    def __enter__(self) -> Velocity:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
