"""The opportunities route family (``/api/crm/opportunities``): the deal pipeline."""

from __future__ import annotations

from velocity_domain.services.base import Service

__all__ = ["OpportunityService"]


class OpportunityService(Service):
    """The opportunities route family (``/api/crm/opportunities``): the deal pipeline."""
