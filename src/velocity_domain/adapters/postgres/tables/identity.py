"""The ``core_*`` tables (spec section 4, identity and access domain).

Users are never deleted (they are deactivated), so every reference to a user is
``RESTRICT``: no assignment, session or audit event is ever cascaded away. The
same holds for roles: a role with assignments, even revoked ones, stays.
"""

from __future__ import annotations

import sqlalchemy as sa

from velocity_domain.adapters.postgres.tables._columns import (
    boolean,
    choice,
    created_at,
    fk,
    jsonb,
    labels,
    metadata,
    pk,
    source_key,
    text,
    versioned,
)
from velocity_domain.identity.entities import ActorKind, ScopeType, UserKind, UserStatus

__all__ = [
    "core_audit_events",
    "core_permissions",
    "core_role_assignments",
    "core_roles",
    "core_sessions",
    "core_users",
]

_TIMESTAMPTZ = sa.DateTime(timezone=True)

core_users = sa.Table(
    "core_users",
    metadata,
    pk("user_id"),
    text("email", 254, nullable=False),
    text("display_name", 200, nullable=False),
    choice("user_kind", UserKind, default=UserKind.HUMAN),
    choice("status", UserStatus, default=UserStatus.ACTIVE),
    sa.Column("deactivated_at", _TIMESTAMPTZ, nullable=True),
    sa.Column("last_login_at", _TIMESTAMPTZ, nullable=True),
    text("phone", 16),
    *source_key(),
    *versioned(),
    sa.UniqueConstraint("email"),
    sa.CheckConstraint(
        "(status = 'deactivated') = (deactivated_at IS NOT NULL)",
        name="deactivated_at_iff_deactivated",
    ),
)

core_roles = sa.Table(
    "core_roles",
    metadata,
    pk("role_id"),
    text("role_name", 64, nullable=False),
    text("description", 500),
    boolean("is_system"),
    labels("permission_names", 128),
    *versioned(),
    sa.UniqueConstraint("role_name"),
    sa.CheckConstraint("role_name ~ '^[a-z0-9][a-z0-9_]*$'", name="role_name_slug"),
)

core_permissions = sa.Table(
    "core_permissions",
    metadata,
    pk("permission_id"),
    text("route_family", 64, nullable=False),
    text("action", 63, nullable=False),
    text("permission_name", 128, nullable=False),
    text("description", 500),
    boolean("is_sensitive"),
    *versioned(),
    sa.UniqueConstraint("permission_name"),
    sa.CheckConstraint(
        "permission_name = route_family || '.' || action", name="name_is_family_dot_action"
    ),
)

core_role_assignments = sa.Table(
    "core_role_assignments",
    metadata,
    pk("role_assignment_id"),
    fk("user_id", "core_users.user_id", nullable=False),
    fk("role_id", "core_roles.role_id", nullable=False),
    choice("scope_type", ScopeType, default=ScopeType.GLOBAL),
    # The account or project id; no foreign key, as it points at one of two tables.
    sa.Column("scope_ref", sa.Uuid, nullable=True),
    fk("granted_by_user_id", "core_users.user_id"),
    created_at("granted_at"),
    sa.Column("expires_at", _TIMESTAMPTZ, nullable=True),
    sa.Column("revoked_at", _TIMESTAMPTZ, nullable=True),
    fk("revoked_by_user_id", "core_users.user_id"),
    *versioned(),
    sa.CheckConstraint(
        "(scope_type = 'global') = (scope_ref IS NULL)", name="scope_ref_iff_scoped"
    ),
    sa.CheckConstraint("expires_at > granted_at", name="expires_after_granted"),
    sa.CheckConstraint("revoked_at >= granted_at", name="revoked_after_granted"),
    sa.CheckConstraint(
        "revoked_by_user_id IS NULL OR revoked_at IS NOT NULL", name="revoked_by_needs_revoked_at"
    ),
    sa.Index(None, "user_id"),
    sa.Index(None, "role_id"),
    sa.Index(None, "scope_type", "scope_ref"),
)

core_sessions = sa.Table(
    "core_sessions",
    metadata,
    pk("session_id"),
    fk("user_id", "core_users.user_id", nullable=False),
    text("token_sha256", 64, nullable=False),
    created_at("issued_at"),
    created_at("expires_at"),
    sa.Column("last_seen_at", _TIMESTAMPTZ, nullable=True),
    sa.Column("revoked_at", _TIMESTAMPTZ, nullable=True),
    text("revoked_reason", 200),
    text("user_agent", 500),
    text("ip_address", 45),
    *versioned(),
    sa.UniqueConstraint("token_sha256"),
    sa.CheckConstraint("token_sha256 ~ '^[0-9a-f]{64}$'", name="token_sha256_hex"),
    sa.CheckConstraint("expires_at > issued_at", name="expires_after_issued"),
    sa.CheckConstraint("last_seen_at >= issued_at", name="last_seen_after_issued"),
    sa.CheckConstraint("revoked_at >= issued_at", name="revoked_after_issued"),
    sa.CheckConstraint(
        "revoked_reason IS NULL OR revoked_at IS NOT NULL", name="reason_needs_revoked_at"
    ),
    sa.Index(None, "user_id"),
    sa.Index(None, "expires_at"),
)

core_audit_events = sa.Table(
    "core_audit_events",
    metadata,
    pk("audit_event_id"),
    created_at("occurred_at"),
    fk("actor_user_id", "core_users.user_id"),
    choice("actor_kind", ActorKind),
    text("action", 128, nullable=False),
    text("target_domain", 64, nullable=False),
    text("target_ref", 200),
    jsonb("before_json"),
    jsonb("after_json"),
    text("reason", 500),
    text("correlation_id", 128),
    jsonb("details_json"),
    sa.CheckConstraint(
        "(actor_kind = 'system') = (actor_user_id IS NULL)", name="actor_user_iff_not_system"
    ),
    sa.Index(None, "target_domain", "target_ref", "occurred_at"),
    sa.Index(None, "actor_user_id", "occurred_at"),
    sa.Index(None, "occurred_at"),
    sa.Index(None, "correlation_id"),
)
