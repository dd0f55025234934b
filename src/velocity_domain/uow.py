"""The unit of work: one transaction, and every domain's repository inside it.

It is the services' machinery (and the seeding helpers' in
:mod:`velocity_domain.testing`), not a host API: it applies no permission,
policy or audit.

>>> from velocity_domain import Velocity
>>> from velocity_domain.crm.entities import Person
>>> from velocity_domain.testing import unit_of_work
>>> velocity = Velocity.in_memory()
>>> with unit_of_work(velocity) as uow:
...     _ = uow.crm.people.add(Person(full_name="Asha Rao"))
...     uow.commit()
>>> with unit_of_work(velocity) as uow:
...     [p.full_name for p in uow.crm.contact_list()]
['Asha Rao']

Leaving the block without ``commit()`` rolls everything back, in memory
exactly as in PostgreSQL. A unit of work is used once; opening a second one
in the same thread while the first is open is refused.
"""

from __future__ import annotations

import contextlib
import threading
from types import TracebackType
from typing import Any, TypeVar

from velocity_domain.crm import entities as crm_entities
from velocity_domain.crm.ports import CrmRepository
from velocity_domain.errors import UnitOfWorkError
from velocity_domain.identity import entities as identity_entities
from velocity_domain.identity.ports import IdentityRepository
from velocity_domain.intel import entities as intel_entities
from velocity_domain.intel.ports import IntelRepository
from velocity_domain.inventory import entities as inventory_entities
from velocity_domain.inventory.ports import InventoryRepository
from velocity_domain.kernel.model import Entity, VersionedEntity
from velocity_domain.kernel.pagination import CursorCodec
from velocity_domain.kernel.repository import AppendTable, MutableTable, Store, StoreTransaction
from velocity_domain.oracle import entities as oracle_entities
from velocity_domain.oracle.ports import OracleRepository
from velocity_domain.workflow import entities as workflow_entities
from velocity_domain.workflow.ports import WorkflowRepository

__all__ = ["ENTITY_CLASSES", "UnitOfWork"]

R = TypeVar("R")
E = TypeVar("E", bound=Entity)
V = TypeVar("V", bound=VersionedEntity)


def _entities(module: Any) -> list[type[Entity]]:
    found = []
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, type) and issubclass(obj, Entity) and "table_name" in vars(obj):
            found.append(obj)
    return found


#: Every canonical entity class, one per table, domain by domain.
ENTITY_CLASSES: tuple[type[Entity], ...] = tuple(
    cls
    for module in (
        crm_entities,
        intel_entities,
        inventory_entities,
        oracle_entities,
        identity_entities,
        workflow_entities,
    )
    for cls in _entities(module)
)


class UnitOfWork:
    """One transaction over the canonical store, with a repository per domain."""

    def __init__(self, store: Store, active: threading.local, *, read_only: bool = False) -> None:
        self._store = store
        self.read_only = read_only
        self._active = active
        self._tx: StoreTransaction | None = None
        self._state = "new"
        self._repositories: dict[type[Any], Any] = {}
        self._later: dict[type[Entity], list[Entity]] = {}

    def __enter__(self) -> UnitOfWork:
        if self._state != "new":
            raise UnitOfWorkError(f"this unit of work was already used ({self._state})")
        if getattr(self._active, "open", False):
            raise UnitOfWorkError(
                "a unit of work is already open in this thread; units of work do not nest"
            )
        self._tx = self._store.begin(read_only=self.read_only)
        self._active.open = True
        self._state = "open"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._state == "open" and self._tx is not None:
                self._tx.rollback()
                self._state = "rolled back"
        finally:
            self._active.open = False
            self._tx = None

    def _open_tx(self) -> StoreTransaction:
        if self._state != "open" or self._tx is None:
            hint = "use it inside its `with` block"
            if self._state != "new":
                hint = f"it is {self._state}; open a new one"
            raise UnitOfWorkError(f"this unit of work is not open ({hint})")
        return self._tx

    def _repository(self, cls: type[R]) -> R:
        tx = self._open_tx()
        if cls not in self._repositories:
            self._repositories[cls] = cls(tx)  # type: ignore[call-arg]
        result: R = self._repositories[cls]
        return result

    @property
    def crm(self) -> CrmRepository:
        """CRM core: people, accounts, households, relationships, leads, opportunities ..."""
        return self._repository(CrmRepository)

    @property
    def intel(self) -> IntelRepository:
        """Interactions and evidence: the timeline, QD scores, reminders, blobs ..."""
        return self._repository(IntelRepository)

    @property
    def inventory(self) -> InventoryRepository:
        """Inventory: projects, units, pricing history, availability ..."""
        return self._repository(InventoryRepository)

    @property
    def oracle(self) -> OracleRepository:
        """Oracle component templates."""
        return self._repository(OracleRepository)

    @property
    def identity(self) -> IdentityRepository:
        """Identity and access: users, roles, sessions, the audit trail."""
        return self._repository(IdentityRepository)

    @property
    def workflow(self) -> WorkflowRepository:
        """AI workflow and governance: agent runs, writebacks, approvals ..."""
        return self._repository(WorkflowRepository)

    def table(self, cls: type[E]) -> AppendTable[E]:
        """Return the table of any entity class (``uow.table(Person)``), for generic code."""
        return self._open_tx().table(cls)

    def mutable(self, cls: type[V]) -> MutableTable[V]:
        """Return the table of a versioned entity class, with updates, for generic code."""
        return self._open_tx().mutable(cls)

    @property
    def cursors(self) -> CursorCodec:
        """The store's cursor codec, for a listing a service pages itself."""
        return self._store.codec

    def extension(self, port: type[R]) -> R | None:
        """The store's own implementation of a bulk step ``port``, if it has one."""
        return self._open_tx().extension(port)

    def add_later(self, row: Entity) -> None:
        """Insert ``row`` when the unit of work commits, with the others of its table at once.

        For rows nothing reads back inside the same unit of work, such as
        audit events: a change and its events then cost one insert per table,
        however many events it records. Rolled back with everything else.
        """
        self._open_tx()
        if self.read_only:
            raise UnitOfWorkError("this unit of work only reads; open one that writes")
        self._later.setdefault(type(row), []).append(row)

    def _flush_later(self, tx: StoreTransaction) -> None:
        later, self._later = self._later, {}
        for cls, rows in later.items():
            tx.table(cls).add_many(rows)

    def commit(self) -> None:
        """Make every change permanent; the unit of work is finished afterwards.

        Rows given to :meth:`add_later` are inserted first. If the commit
        fails, everything is rolled back and the error raised.
        """
        tx = self._open_tx()
        try:
            self._flush_later(tx)
            tx.commit()
        except BaseException:
            self._state = "rolled back"
            with contextlib.suppress(UnitOfWorkError):
                tx.rollback()
            raise
        self._state = "committed"

    def rollback(self) -> None:
        """Undo every change now; the unit of work is finished afterwards."""
        tx = self._open_tx()
        self._state = "rolled back"
        self._later = {}
        tx.rollback()
