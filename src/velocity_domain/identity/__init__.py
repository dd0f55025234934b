"""Identity and access.

Users, roles, permissions, role assignments, sessions and the audit trail (the
``core_*`` tables).
"""
