"""The permission matrix: for every public service operation, which default roles may call it.

Kept here, checked by ``test_permission_matrix.py`` against both stores, and
printed in the documentation. Every new service operation adds its row; an
operation missing from this table fails the test.
"""

from __future__ import annotations

ALL_ROLES = frozenset(
    {"admin", "sales_manager", "sales_agent", "operator", "analyst", "oracle_agent"}
)
ADMIN_ONLY = frozenset({"admin"})

MATRIX: dict[str, frozenset[str]] = {
    "identity.users.create": ADMIN_ONLY,
    "identity.users.deactivate": ADMIN_ONLY,
    "identity.users.get": ADMIN_ONLY,
    "identity.users.list": ADMIN_ONLY,
    "identity.roles.assign": ADMIN_ONLY,
    "identity.roles.revoke": ADMIN_ONLY,
    "identity.roles.list": ADMIN_ONLY,
    "identity.roles.set_permissions": ADMIN_ONLY,
    "identity.sessions.issue": ADMIN_ONLY,
    "identity.sessions.revoke": ADMIN_ONLY,
    "identity.sessions.revoke_all": ADMIN_ONLY,
    "audit.events.list": ADMIN_ONLY,
    "crm.contacts.get": ALL_ROLES,
    "crm.contacts.list": ALL_ROLES,
    "crm.interactions.timeline": ALL_ROLES,
    "crm.interactions.get": ALL_ROLES,
}
"""Operation name -> the default roles allowed to call it (everyone else is denied)."""

NOTES: dict[str, str] = {
    "identity.sessions.revoke": "anyone may also revoke their own sessions",
    "identity.sessions.revoke_all": "anyone may also revoke all of their own sessions",
    "crm.contacts.get": "a sales_agent sees only their own clients (others are not found)",
    "crm.contacts.list": "a sales_agent lists only their own clients",
    "crm.interactions.timeline": "within the same visibility as contacts",
    "crm.interactions.get": "sensitive content only with intel.artifacts.read_sensitive",
}
