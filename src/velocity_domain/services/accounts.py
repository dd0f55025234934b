"""The accounts route family (``/api/crm/accounts``): accounts and their hierarchy."""

from __future__ import annotations

from velocity_domain.services.base import Service

__all__ = ["AccountService"]


class AccountService(Service):
    """The accounts route family (``/api/crm/accounts``): accounts and their hierarchy."""
