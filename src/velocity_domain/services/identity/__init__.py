"""The identity route families: users and roles, sessions, and the audit trail."""
