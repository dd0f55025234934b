"""Households and typed relationships between people."""

from __future__ import annotations

from velocity_domain.services.base import Service

__all__ = ["RelationshipService"]


class RelationshipService(Service):
    """Households and typed relationships between people."""
