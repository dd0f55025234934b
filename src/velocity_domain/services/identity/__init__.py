"""The identity route families: users and roles, sessions, the audit trail, idempotency keys."""
