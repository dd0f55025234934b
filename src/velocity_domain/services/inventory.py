"""The inventory route family: projects, units, holds, prices, availability, media, locations."""

from __future__ import annotations

from velocity_domain.services.base import Service

__all__ = ["InventoryService"]


class InventoryService(Service):
    """Projects, units, holds, prices, availability, media and locations."""
