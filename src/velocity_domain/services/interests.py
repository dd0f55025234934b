"""Property interests: what a client is looking for."""

from __future__ import annotations

from velocity_domain.services.base import Service

__all__ = ["PropertyInterestService"]


class PropertyInterestService(Service):
    """Property interests: what a client is looking for."""
