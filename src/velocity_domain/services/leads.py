"""Leads: creation, assignment and conversion into opportunities."""

from __future__ import annotations

from velocity_domain.services.base import Service

__all__ = ["LeadService"]


class LeadService(Service):
    """Leads: creation, assignment and conversion into opportunities."""
