"""The inventory repository.

Projects, units, pricing history, availability, media, locations and import jobs.
"""

from velocity_domain.inventory.entities import (
    Availability,
    ImportJob,
    LocationIndex,
    Media,
    PricingHistory,
    Project,
    Unit,
)
from velocity_domain.kernel.repository import AppendTable, MutableTable, StoreTransaction

__all__ = ["InventoryRepository"]


class InventoryRepository:
    """The ``inventory_*`` tables inside one unit of work."""

    def __init__(self, tx: StoreTransaction) -> None:
        self.projects: MutableTable[Project] = tx.mutable(Project)
        self.units: MutableTable[Unit] = tx.mutable(Unit)
        self.pricing_history: AppendTable[PricingHistory] = tx.table(PricingHistory)
        self.availability: AppendTable[Availability] = tx.table(Availability)
        self.media: MutableTable[Media] = tx.mutable(Media)
        self.locations: MutableTable[LocationIndex] = tx.mutable(LocationIndex)
        self.import_jobs: MutableTable[ImportJob] = tx.mutable(ImportJob)
