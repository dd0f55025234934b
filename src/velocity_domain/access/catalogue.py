"""The permission catalogue and the default roles, as data.

The same data is seeded into ``core_permissions`` and ``core_roles`` by the
migration ``0002`` and into every in-memory store, with the same ids, so both
stores start identical. Roles are editable by an admin afterwards.

>>> "crm.contacts.read_all" in PERMISSION_NAMES
True
>>> sorted(DEFAULT_ROLES)
['admin', 'analyst', 'operator', 'oracle_agent', 'sales_agent', 'sales_manager']
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import attrs

from velocity_domain.identity.entities import Permission, Role

__all__ = [
    "CATALOGUE_NAMESPACE",
    "DEFAULT_ROLES",
    "PERMISSIONS",
    "PERMISSION_NAMES",
    "SEEDED_AT",
    "PermissionSpec",
    "RoleSpec",
    "seed_id",
    "seed_rows",
]

#: Seeded rows take ``uuid5(CATALOGUE_NAMESPACE, name)`` as their id, so every store agrees.
CATALOGUE_NAMESPACE = uuid.UUID("8f0c2a4e-5d1b-4c8e-9a57-0d3b6f1e2c90")
#: The creation time every seeded row carries.
SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)


@attrs.frozen
class PermissionSpec:
    """One permission: route family, action, what it allows, and whether it opens sensitive data."""

    route_family: str
    action: str
    description: str
    sensitive: bool = False

    @property
    def name(self) -> str:
        """The permission's name, ``route_family.action``."""
        return f"{self.route_family}.{self.action}"


PERMISSIONS: tuple[PermissionSpec, ...] = (
    PermissionSpec(
        "crm.contacts", "read", "see contacts (only one's own clients without read_all)"
    ),
    PermissionSpec("crm.contacts", "read_all", "see every contact, not only one's own clients"),
    PermissionSpec(
        "crm.contacts", "write", "create and change contacts, households, relationships"
    ),
    PermissionSpec("crm.accounts", "read", "see accounts"),
    PermissionSpec("crm.accounts", "write", "create and change accounts"),
    PermissionSpec("crm.leads", "read", "see leads"),
    PermissionSpec("crm.leads", "write", "create, assign and convert leads"),
    PermissionSpec("crm.opportunities", "read", "see opportunities and the pipeline"),
    PermissionSpec("crm.opportunities", "write", "create opportunities and move their stages"),
    PermissionSpec("crm.tasks", "read", "see tasks and reminders"),
    PermissionSpec("crm.tasks", "write", "create, assign, snooze and complete tasks"),
    PermissionSpec("crm.interactions", "read", "see the interaction timeline (metadata)"),
    PermissionSpec("crm.interactions", "write", "log interactions"),
    PermissionSpec("crm.qd", "read", "see QD scores and their history"),
    PermissionSpec("crm.qd", "write", "record QD signal points"),
    PermissionSpec(
        "intel.artifacts",
        "read_sensitive",
        "read message texts, email bodies, recordings, transcripts and CCTV evidence",
        sensitive=True,
    ),
    PermissionSpec("inventory", "read", "see projects, units, prices and availability"),
    PermissionSpec("inventory", "write", "change inventory, prices and holds"),
    PermissionSpec("crm.imports", "submit", "submit import batches"),
    PermissionSpec("crm.imports", "review", "review import batches and their proposals"),
    PermissionSpec(
        "crm.merges",
        "propose",
        "find duplicate people and propose merging them, or undoing a merge",
    ),
    PermissionSpec("workflow.writebacks", "propose", "propose changes for approval"),
    PermissionSpec("workflow.writebacks", "approve", "approve or reject proposed changes"),
    PermissionSpec("oracle.templates", "read", "see Oracle component templates"),
    PermissionSpec("oracle.templates", "write", "create and change Oracle component templates"),
    PermissionSpec("identity.users", "manage", "create and deactivate users, assign roles"),
    PermissionSpec("audit", "read", "read the audit trail", sensitive=True),
)

PERMISSION_NAMES: frozenset[str] = frozenset(p.name for p in PERMISSIONS)

_READ = (
    "crm.contacts.read",
    "crm.accounts.read",
    "crm.leads.read",
    "crm.opportunities.read",
    "crm.tasks.read",
    "crm.interactions.read",
    "crm.qd.read",
    "inventory.read",
    "oracle.templates.read",
)
_SALES_WRITE = (
    "crm.contacts.write",
    "crm.accounts.write",
    "crm.leads.write",
    "crm.opportunities.write",
    "crm.tasks.write",
    "crm.interactions.write",
    "crm.qd.write",
)


@attrs.frozen
class RoleSpec:
    """A default role: what it is for and what it may do."""

    description: str
    permissions: tuple[str, ...]


DEFAULT_ROLES: dict[str, RoleSpec] = {
    "admin": RoleSpec(
        "everything, including users, roles and the audit trail", tuple(sorted(PERMISSION_NAMES))
    ),
    "sales_manager": RoleSpec(
        "runs the sales team: sees every client and the pipeline, reads sensitive artifacts",
        (
            *_READ,
            *_SALES_WRITE,
            "crm.contacts.read_all",
            "intel.artifacts.read_sensitive",
            "crm.imports.submit",
            "crm.merges.propose",
            "workflow.writebacks.propose",
        ),
    ),
    "sales_agent": RoleSpec(
        "works their own clients: sees only people whose leads or opportunities they hold",
        (*_READ, *_SALES_WRITE, "intel.artifacts.read_sensitive", "workflow.writebacks.propose"),
    ),
    "operator": RoleSpec(
        "reviews imports and approves writebacks",
        (
            *_READ,
            "crm.contacts.read_all",
            "crm.imports.submit",
            "crm.imports.review",
            "crm.merges.propose",
            "workflow.writebacks.propose",
            "workflow.writebacks.approve",
            "inventory.write",
        ),
    ),
    "analyst": RoleSpec(
        "reads everything except sensitive artifacts; changes nothing",
        (*_READ, "crm.contacts.read_all"),
    ),
    "oracle_agent": RoleSpec(
        "the automated Oracle agent: may read and propose, never approve or write directly",
        (
            *_READ,
            "crm.contacts.read_all",
            "intel.artifacts.read_sensitive",
            "workflow.writebacks.propose",
            "oracle.templates.write",
        ),
    ),
}


def seed_id(kind: str, name: str) -> uuid.UUID:
    """Return the fixed id of a seeded permission or role."""
    return uuid.uuid5(CATALOGUE_NAMESPACE, f"{kind}:{name}")


def seed_rows() -> list[Permission | Role]:
    """Return the catalogue as entities: every permission, then every default role."""
    rows: list[Permission | Role] = [
        Permission(
            permission_id=seed_id("permission", p.name),
            route_family=p.route_family,
            action=p.action,
            description=p.description,
            is_sensitive=p.sensitive,
            created_at=SEEDED_AT,
            updated_at=SEEDED_AT,
        )
        for p in PERMISSIONS
    ]
    for name, spec in DEFAULT_ROLES.items():
        unknown = set(spec.permissions) - PERMISSION_NAMES
        assert not unknown, f"role {name} names unknown permissions {unknown}"
        rows.append(
            Role(
                role_id=seed_id("role", name),
                role_name=name,
                description=spec.description,
                is_system=True,
                permission_names=tuple(sorted(set(spec.permissions))),
                created_at=SEEDED_AT,
                updated_at=SEEDED_AT,
            )
        )
    return rows
