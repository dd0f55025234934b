"""The tasks route family (``/api/crm/tasks``): reminders and follow-ups in ``intel_reminders``."""

from __future__ import annotations

from velocity_domain.services.base import Service

__all__ = ["TaskService"]


class TaskService(Service):
    """Tasks: reminders and follow-ups, stored in ``intel_reminders``."""
