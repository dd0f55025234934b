"""Matrix rows of the identity, session, audit, contacts and interactions reads (issue 5)."""

from __future__ import annotations

import itertools
from typing import Any

from tests.support.matrix import ADMIN_ONLY, ALL_ROLES, Row

_serial = itertools.count()


def _user(v: Any, w: Any) -> Any:
    return v.users.create(w.admin, email=f"m{next(_serial)}@velocity.example", display_name="M")


def _analyst_permissions(v: Any, w: Any) -> Any:
    return next(r for r in v.roles.list(w.admin) if r.role_name == "analyst").permission_names


ROWS: dict[str, Row] = {
    "identity.users.create": Row(
        ADMIN_ONLY,
        lambda v, w, p: v.users.create(
            p, email=f"c{next(_serial)}@velocity.example", display_name="C"
        ),
    ),
    "identity.users.deactivate": Row(
        ADMIN_ONLY, lambda v, w, p: v.users.deactivate(p, _user(v, w).key)
    ),
    "identity.users.get": Row(ADMIN_ONLY, lambda v, w, p: v.users.get(p, w.agent_b.user_id)),
    "identity.users.list": Row(ADMIN_ONLY, lambda v, w, p: v.users.list(p)),
    "identity.roles.assign": Row(
        ADMIN_ONLY, lambda v, w, p: v.users.assign_role(p, _user(v, w).key, "analyst")
    ),
    "identity.roles.revoke": Row(
        ADMIN_ONLY,
        lambda v, w, p: v.users.revoke_role(
            p, v.users.assign_role(w.admin, _user(v, w).key, "analyst").key
        ),
    ),
    "identity.roles.list_assignments": Row(
        ADMIN_ONLY, lambda v, w, p: v.users.role_assignments(p, w.agent_b.user_id)
    ),
    "identity.roles.list": Row(ADMIN_ONLY, lambda v, w, p: v.roles.list(p)),
    "identity.roles.set_permissions": Row(
        ADMIN_ONLY,
        lambda v, w, p: v.roles.set_permissions(p, "analyst", _analyst_permissions(v, w)),
    ),
    "identity.sessions.issue": Row(
        ADMIN_ONLY, lambda v, w, p: v.sessions.issue(p, w.agent_b.user_id)
    ),
    "identity.sessions.revoke": Row(
        ADMIN_ONLY,
        lambda v, w, p: v.sessions.revoke(
            p, v.sessions.issue(w.admin, w.agent_b.user_id).session.key
        ),
        "anyone may also revoke their own sessions",
    ),
    "identity.sessions.revoke_all": Row(
        ADMIN_ONLY,
        lambda v, w, p: v.sessions.revoke_all(p, w.agent_b.user_id),
        "anyone may also revoke all of their own sessions",
    ),
    "audit.events.list": Row(ADMIN_ONLY, lambda v, w, p: v.audit.list(p)),
    "crm.contacts.get": Row(
        ALL_ROLES,
        lambda v, w, p: v.contacts.get(p, w.client_a.key),
        "a sales_agent sees only their own clients: those they own (created) or hold a lead or"
        " deal of (others are not found)",
    ),
    "crm.contacts.list": Row(
        ALL_ROLES,
        lambda v, w, p: v.contacts.list(p),
        "a sales_agent lists only their own clients (owned or held)",
    ),
    "crm.interactions.timeline": Row(
        ALL_ROLES,
        lambda v, w, p: v.interactions.timeline(p, w.client_a.key),
        "within the same visibility as contacts",
    ),
    "crm.interactions.get": Row(
        ALL_ROLES,
        lambda v, w, p: v.interactions.get(p, w.chat.key),
        "sensitive content only with intel.artifacts.read_sensitive",
    ),
}
