"""Identity and access: users, roles, permissions, role assignments, sessions and the audit trail (the ``core_*`` tables)."""
