"""The composition root: ``Velocity`` is the one object a host constructs.

A host works through the services on it, always naming a principal:

>>> from velocity_domain import Principal, Velocity
>>> velocity = Velocity.in_memory()
>>> office = Principal.system("front-office")  # every permission; audited by name
>>> asha = velocity.contacts.create(office, full_name="Asha Rao", primary_phone="098300 12345")
>>> asha.primary_phone
'+919830012345'
>>> [p.full_name for p in velocity.contacts.list(office, search="asha")]
['Asha Rao']

The store, the unit of work and the repositories are the library's own
machinery; tests seed data through :mod:`velocity_domain.testing`.
"""

from __future__ import annotations

import os
import threading
from types import TracebackType

from velocity_domain.access.catalogue import seed_rows
from velocity_domain.client_graph.client360 import ClientGraphService
from velocity_domain.errors import NotConfigured
from velocity_domain.governance.agents import AgentRunService
from velocity_domain.governance.appliers import Appliers, Route
from velocity_domain.governance.engine import Governance
from velocity_domain.governance.writebacks import WritebackService
from velocity_domain.imports import gateway
from velocity_domain.imports.gateway import ImportGateway
from velocity_domain.imports.price_sheets import PriceSheetService
from velocity_domain.intel.blobs import BlobStore
from velocity_domain.kernel.clock import Clock, SystemClock
from velocity_domain.kernel.pagination import CursorCodec
from velocity_domain.kernel.repository import Store
from velocity_domain.services.crm import accounts, contacts, leads, merges, merging, opportunities
from velocity_domain.services.crm import property_interests as interests
from velocity_domain.services.crm.accounts import AccountService
from velocity_domain.services.crm.contacts import ContactService
from velocity_domain.services.crm.duplicate_scan import DuplicateScanService
from velocity_domain.services.crm.leads import LeadService
from velocity_domain.services.crm.merges import MergeService
from velocity_domain.services.crm.opportunities import OpportunityService
from velocity_domain.services.crm.property_interests import PropertyInterestService
from velocity_domain.services.crm.relationships import RelationshipService
from velocity_domain.services.identity.audit_trail import AuditService
from velocity_domain.services.identity.idempotency import IdempotencyService
from velocity_domain.services.identity.sessions import SessionService
from velocity_domain.services.identity.users import RoleService, UserService
from velocity_domain.services.intel import qd, tasks
from velocity_domain.services.intel.artifacts import ArtifactService
from velocity_domain.services.intel.interactions import InteractionService
from velocity_domain.services.intel.qd import QdService
from velocity_domain.services.intel.tasks import TaskService
from velocity_domain.services.inventory import catalogue, unit_status
from velocity_domain.services.inventory.catalogue import InventoryService
from velocity_domain.uow import ENTITY_CLASSES, UnitOfWork
from velocity_domain.workflow.entities import ChangeKind

__all__ = ["BLOB_ROOT_VAR", "Velocity", "governed_operations"]

#: The environment variable naming the blob folder of a PostgreSQL-backed Velocity.
BLOB_ROOT_VAR = "VELOCITY_BLOB_ROOT"


class Velocity:
    """The canonical CRM model over one store (in memory or PostgreSQL)."""

    def __init__(
        self, store: Store, *, clock: Clock | None = None, blob_store: BlobStore | None = None
    ) -> None:
        self._store = store
        self.clock = clock or SystemClock()
        self._active = threading.local()
        #: The writeback policy (``velocity.governance.policy``) and governed operations.
        self.governance = Governance()
        self.users = UserService(self._unit_of_work, self.clock, self.governance)
        """Users and their roles (``identity.users.manage``)."""
        self.roles = RoleService(self._unit_of_work, self.clock, self.governance)
        """Roles and what they allow (``identity.users.manage``)."""
        self.sessions = SessionService(self._unit_of_work, self.clock, self.governance)
        """Session tokens: issue, authenticate, revoke."""
        self.audit = AuditService(self._unit_of_work, self.clock, self.governance)
        """The audit trail (``audit.read``)."""
        #: Idempotency keys behind HTTP ``Idempotency-Key``: claim, finish, replay, purge.
        self.idempotency = IdempotencyService(self._unit_of_work, self.clock, self.governance)
        self.contacts = ContactService(self._unit_of_work, self.clock, self.governance)
        """The contacts route family."""
        self.interactions = InteractionService(self._unit_of_work, self.clock, self.governance)
        """The interactions route family."""
        self.artifacts = ArtifactService(
            self._unit_of_work, self.clock, self.governance, blobs=_blob_store(blob_store)
        )
        """The artifact query, evidence attached to interactions and blob reads."""
        self.qd = QdService(self._unit_of_work, self.clock, self.governance)
        """QD (``/api/crm/qd``): signal points, the summary they keep, the QD query."""
        self.accounts = AccountService(self._unit_of_work, self.clock, self.governance)
        """The accounts route family."""
        self.relationships = RelationshipService(self._unit_of_work, self.clock, self.governance)
        """Households and relationships between people."""
        self.merges = MergeService(self._unit_of_work, self.clock, self.governance)
        """Merging duplicate people into a survivor: preview, proposal, undo."""
        self.duplicates = DuplicateScanService(
            self._unit_of_work, self.clock, self.governance, merges=self.merges
        )
        """The duplicate scan: clusters of duplicate people filed as merge proposals."""
        self.leads = LeadService(self._unit_of_work, self.clock, self.governance)
        """Leads and their conversion."""
        self.opportunities = OpportunityService(self._unit_of_work, self.clock, self.governance)
        """The opportunities route family and the stage pipeline."""
        self.tasks = TaskService(self._unit_of_work, self.clock, self.governance)
        """The tasks route family."""
        self.property_interests = PropertyInterestService(
            self._unit_of_work, self.clock, self.governance
        )
        """Property interests."""
        self.inventory = InventoryService(self._unit_of_work, self.clock, self.governance)
        """The inventory route family."""
        self.writebacks = WritebackService(self._unit_of_work, self.clock, self.governance)
        """The writeback release flow: proposals, approvals, execution, the operator inbox."""
        self.agents = AgentRunService(self._unit_of_work, self.clock, self.governance)
        """Agent runs, their branches and proposed steps, and the choice of a branch."""
        self.imports = ImportGateway(
            self._unit_of_work, self.clock, self.governance, writebacks=self.writebacks
        )
        """The import gateway: files in, mapped, matched, reviewed, committed and undone."""
        self.client_graph = ClientGraphService(self._unit_of_work, self.clock, self.governance)
        """The client graph: client 360, derived from the canonical tables at read time."""
        self.price_sheets = PriceSheetService(
            self._unit_of_work, self.clock, self.governance, inventory=self.inventory
        )
        """Developer price sheets into a project's units (``inventory_import_jobs``)."""
        self.governance.appliers = Appliers(governed_operations(self))

    @classmethod
    def in_memory(
        cls,
        *,
        clock: Clock | None = None,
        cursor_key: bytes | None = None,
        blob_store: BlobStore | None = None,
    ) -> Velocity:
        """Return a Velocity over a fresh in-memory store (the embedded default).

        Evidence bytes go to ``blob_store`` (by default a fresh
        ``MemoryBlobStore``, gone with the process like the rows).
        """
        from velocity_domain.adapters.blobs import MemoryBlobStore  # noqa: PLC0415
        from velocity_domain.adapters.memory.store import MemoryStore  # noqa: PLC0415

        clock = clock or SystemClock()
        codec = CursorCodec(cursor_key) if cursor_key else None
        velocity = cls(
            MemoryStore(ENTITY_CLASSES, clock=clock, cursor_codec=codec),
            clock=clock,
            blob_store=blob_store or MemoryBlobStore(),
        )
        # What migration 0002 seeds into PostgreSQL, seeded here with the same ids.
        with velocity._unit_of_work() as uow:
            for row in seed_rows():
                uow.table(type(row)).add(row)
            uow.commit()
        return velocity

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        schema: str | None = None,
        pool_size: int = 5,
        max_overflow: int = 10,
        pre_ping: bool = False,
        clock: Clock | None = None,
        cursor_key: bytes | str | None = None,
        blob_store: BlobStore | None = None,
    ) -> Velocity:
        """Return a Velocity over the PostgreSQL database at ``url``.

        The database must already be migrated (``velocity-domain db upgrade``);
        if it is not, or is at another revision, ``SchemaNotReady`` says so.
        ``cursor_key`` signs pagination cursors: a secret of at least 16 bytes,
        the same in every process of the host; without it the key is read from
        ``$VELOCITY_CURSOR_KEY``, and with neither ``NotConfigured`` names both.
        ``pre_ping`` tests each pooled connection before a unit of work uses
        it (one more round trip each time; off by default). Needs the
        ``postgres`` extra (``NotConfigured`` says so when it is missing).
        Evidence bytes go to ``blob_store`` (never into PostgreSQL): without
        it, a ``LocalBlobStore`` in the folder ``$VELOCITY_BLOB_ROOT``; with
        neither, attaching or reading bytes is ``NotConfigured`` naming both
        (everything else works).
        """
        try:
            from velocity_domain.adapters.postgres.engine import (  # noqa: PLC0415
                check_revision,
                create_engine,
            )
            from velocity_domain.adapters.postgres.store import PostgresStore  # noqa: PLC0415
        except ImportError as exc:
            raise NotConfigured(
                f"the PostgreSQL store is not installed ({exc})",
                'pip install "velocity-domain[postgres]"',
            ) from None
        codec = CursorCodec.from_host(cursor_key)
        engine = create_engine(
            url, schema=schema, pool_size=pool_size, max_overflow=max_overflow, pre_ping=pre_ping
        )
        try:
            check_revision(engine, url, schema)
        except BaseException:
            engine.dispose()
            raise
        clock = clock or SystemClock()
        store = PostgresStore(engine, ENTITY_CLASSES, clock=clock, cursor_codec=codec)
        return cls(store, clock=clock, blob_store=blob_store)

    def _unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work over the store: the services' machinery, not a host API.

        A ``read_only`` one refuses writes and, on PostgreSQL, runs without
        BEGIN and ROLLBACK round trips (each read sees what is committed then).
        Tests reach it through :func:`velocity_domain.testing.unit_of_work`.
        """
        return UnitOfWork(self._store, self._active, read_only=read_only)

    def close(self) -> None:
        """Release the store (connection pool)."""
        self._store.close()

    def __enter__(self) -> Velocity:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _blob_store(given: BlobStore | None) -> BlobStore:
    """``given``, or the folder ``$VELOCITY_BLOB_ROOT``, or a store saying it is not configured."""
    from velocity_domain.adapters.blobs import LocalBlobStore, UnconfiguredBlobStore  # noqa: PLC0415

    if given is not None:
        return given
    root = os.environ.get(BLOB_ROOT_VAR)
    return LocalBlobStore(root) if root else UnconfiguredBlobStore(BLOB_ROOT_VAR)


def governed_operations(velocity: Velocity) -> tuple[Route, ...]:
    """Every governed operation of ``velocity``: the change it writes and the method applying it.

    This is the one table the writeback executor consults; an approved
    writeback is applied by the method its operation names here, with the
    same rules as the direct service call.
    """
    create, update, merge = ChangeKind.CREATE, ChangeKind.UPDATE, ChangeKind.MERGE
    people, accounts_, deals = "crm_people", "crm_accounts", "crm_opportunities"
    c, a, le, o = velocity.contacts, velocity.accounts, velocity.leads, velocity.opportunities
    pi, t, inv = velocity.property_interests, velocity.tasks, velocity.inventory
    imports, batches = velocity.imports, "crm_import_batches"
    m = velocity.merges
    return (
        Route(contacts.CREATE.name, people, create, c._apply_create),
        Route(gateway.COMMIT.name, batches, update, imports._apply_commit, ("status",), False),
        Route(gateway.UNDO.name, batches, ChangeKind.DELETE, imports._apply_undo, (), False),
        Route(contacts.UPDATE.name, people, update, c._apply_update, contacts.UPDATABLE),
        Route(merges.MERGE.name, people, merge, m._apply_merge, merging.MERGEABLE, False),
        Route(merges.UNDO.name, people, merge, m._apply_undo, (), False),
        Route(accounts.CREATE.name, accounts_, create, a._apply_create),
        Route(accounts.UPDATE.name, accounts_, update, a._apply_update, accounts.UPDATABLE),
        Route(leads.CREATE.name, "crm_leads", create, le._apply_create),
        Route(leads.ASSIGN.name, "crm_leads", update, le._apply_assign, ("assigned_user_id",)),
        Route(leads.CONVERT.name, "crm_leads", update, le._apply_convert, ("status",), False),
        Route(opportunities.CREATE.name, deals, create, o._apply_create),
        Route(opportunities.UPDATE.name, deals, update, o._apply_update, opportunities.DETAILS),
        Route(
            opportunities.MOVE_STAGE.name, deals, update, o._apply_move, ("stage", "lost_reason")
        ),
        Route(interests.RECORD.name, "crm_property_interests", create, pi._apply_record),
        Route(
            interests.UPDATE.name,
            "crm_property_interests",
            update,
            pi._apply_update,
            interests.DETAILS,
        ),
        Route(interests.CLOSE.name, "crm_property_interests", update, pi._apply_close, ("status",)),
        Route(tasks.CREATE.name, "intel_reminders", create, t._apply_create),
        Route(qd.RECORD.name, "intel_qd_timeseries", create, velocity.qd._apply_record),
        Route(tasks.ASSIGN.name, "intel_reminders", update, t._apply_assign, ("assigned_user_id",)),
        Route(tasks.UPDATE.name, "intel_reminders", update, t._apply_update, tasks.DETAILS),
        Route(
            catalogue.CREATE_PROJECT.name, "inventory_projects", create, inv._apply_create_project
        ),
        Route(
            catalogue.UPDATE_PROJECT.name,
            "inventory_projects",
            update,
            inv._apply_update_project,
            catalogue.PROJECT_DETAILS,
        ),
        Route(catalogue.ADD_UNIT.name, "inventory_units", create, inv._apply_add_unit),
        Route(
            catalogue.UPDATE_UNIT.name,
            "inventory_units",
            update,
            inv._apply_update_unit,
            catalogue.UNIT_DETAILS,
        ),
        Route(
            unit_status.CHANGE_PRICE.name,
            "inventory_units",
            update,
            inv._apply_price,
            unit_status.PRICE_FIELDS,
        ),
    )
