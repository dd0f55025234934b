"""The route modules of the root API, one per route family, with no web framework.

Each module declares one :class:`~velocity_domain.api.routing.Family`: its
path prefix, the domain that owns it, and its routes with their operation
(hence permission), parameters, request and response types and errors.
:data:`FAMILIES` lists them all; ``velocity_domain.asgi.create_app`` serves
them over HTTP and the docs' route table is generated from them.
"""

from __future__ import annotations

# The services register their operations on import; routes name them.
import velocity_domain.velocity  # noqa: F401
from velocity_domain.api import (
    accounts,
    admin_audit,
    admin_roles,
    admin_sessions,
    admin_users,
    client_360,
    client_summaries,
    contacts,
    imports,
    interactions,
    merges,
    opportunities,
    qd,
    tasks,
    writebacks,
)
from velocity_domain.api.problems import MEDIA_TYPE, Problem, ProblemDocument, problem_for
from velocity_domain.api.routing import REQUIRED, Call, Created, Family, Param, Route

__all__ = [
    "FAMILIES",
    "MEDIA_TYPE",
    "REQUIRED",
    "Call",
    "Created",
    "Family",
    "Param",
    "Problem",
    "ProblemDocument",
    "Route",
    "problem_for",
]

#: Every route family the HTTP layer serves, in the order the docs list them.
#: The ``/api/oracle/*`` families join this list with the Oracle issue.
FAMILIES: tuple[Family, ...] = (
    contacts.FAMILY,
    accounts.FAMILY,
    opportunities.FAMILY,
    tasks.FAMILY,
    interactions.FAMILY,
    imports.FAMILY,
    client_360.FAMILY,
    client_summaries.FAMILY,
    qd.FAMILY,
    merges.FAMILY,
    writebacks.FAMILY,
    admin_users.FAMILY,
    admin_roles.FAMILY,
    admin_sessions.FAMILY,
    admin_audit.FAMILY,
)
