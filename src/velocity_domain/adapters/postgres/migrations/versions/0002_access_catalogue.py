"""Seed the permission catalogue and the default roles; make the audit trail append-only.

The rows are written out here, not read from the library, so this revision
always does what it did the day it was written. Their ids are
``uuid5(CATALOGUE_NAMESPACE, ...)``, the same ids the in-memory store seeds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 22:50:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)

# (permission_id, route_family, action, description, is_sensitive)
PERMISSIONS = [
    (
        "20948926-77a0-56fa-9d79-e0bcf503686d",
        "crm.contacts",
        "read",
        "see contacts (only one's own clients without read_all)",
        False,
    ),
    (
        "29f16aa8-2c1d-5570-a3fe-0e79eb9f21ec",
        "crm.contacts",
        "read_all",
        "see every contact, not only one's own clients",
        False,
    ),
    (
        "d1cc5978-4676-5a79-b121-6d1cf2c21765",
        "crm.contacts",
        "write",
        "create and change contacts, households, relationships",
        False,
    ),
    ("526f34de-2f5b-5806-af73-dec34f98257c", "crm.accounts", "read", "see accounts", False),
    (
        "a1d4c6a8-9e32-5c1b-87a7-10b4aac98c51",
        "crm.accounts",
        "write",
        "create and change accounts",
        False,
    ),
    ("bfd3abc5-ae9a-5af3-a786-b7e5645ebb18", "crm.leads", "read", "see leads", False),
    (
        "cc13c14f-bf56-5557-b2ad-a4fd9f127daa",
        "crm.leads",
        "write",
        "create, assign and convert leads",
        False,
    ),
    (
        "9fd6713a-5038-543c-9fca-246b3f67ed65",
        "crm.opportunities",
        "read",
        "see opportunities and the pipeline",
        False,
    ),
    (
        "c241e9eb-66c9-5672-88a6-0b2af775ea2b",
        "crm.opportunities",
        "write",
        "create opportunities and move their stages",
        False,
    ),
    ("1cf8f726-9a97-5bd2-b6c7-20ff825dfffb", "crm.tasks", "read", "see tasks and reminders", False),
    (
        "55f5b4d3-e158-5f47-8903-04c35fd92e3c",
        "crm.tasks",
        "write",
        "create, assign, snooze and complete tasks",
        False,
    ),
    (
        "cc65438d-58be-5d66-b84a-0d1cdf5f4659",
        "crm.interactions",
        "read",
        "see the interaction timeline (metadata)",
        False,
    ),
    (
        "e3112f08-0d4c-5e5d-af29-c627a45c64e9",
        "crm.interactions",
        "write",
        "log interactions",
        False,
    ),
    (
        "ccc73a8e-5796-5650-b81d-321aa5d6588d",
        "crm.qd",
        "read",
        "see QD scores and their history",
        False,
    ),
    (
        "75e90fad-8308-537d-a35d-b81260aaec9b",
        "intel.artifacts",
        "read_sensitive",
        "read message texts, email bodies, recordings, transcripts and CCTV evidence",
        True,
    ),
    (
        "e07ed93f-11ac-5f50-8f95-67e634abec9c",
        "inventory",
        "read",
        "see projects, units, prices and availability",
        False,
    ),
    (
        "51762d11-3c2f-59a4-b255-4db40772e77f",
        "inventory",
        "write",
        "change inventory, prices and holds",
        False,
    ),
    (
        "da2881a5-0173-56f7-84e9-c9833945d1e7",
        "crm.imports",
        "submit",
        "submit import batches",
        False,
    ),
    (
        "5c8eddc0-14d8-5e18-a9c4-317b4dafc7da",
        "crm.imports",
        "review",
        "review import batches and their proposals",
        False,
    ),
    (
        "3ee9df67-502b-5638-a9d0-a6e278aaaedb",
        "workflow.writebacks",
        "propose",
        "propose changes for approval",
        False,
    ),
    (
        "937fd070-729d-5712-83aa-04ad316363dc",
        "workflow.writebacks",
        "approve",
        "approve or reject proposed changes",
        False,
    ),
    (
        "2dad82b4-c04b-5d36-b49f-91f414d4e4aa",
        "oracle.templates",
        "read",
        "see Oracle component templates",
        False,
    ),
    (
        "dd6e93a9-73b5-5af7-a841-25b065480254",
        "oracle.templates",
        "write",
        "create and change Oracle component templates",
        False,
    ),
    (
        "174ad8d0-4b61-537e-b26b-b2fc10004181",
        "identity.users",
        "manage",
        "create and deactivate users, assign roles",
        False,
    ),
    ("701c3942-3343-5f9f-8888-15f746f8ba54", "audit", "read", "read the audit trail", True),
]

# (role_id, role_name, description, permission_names)
ROLES = [
    (
        "76c74337-ef89-5c45-8e8d-332a3a3f62fc",
        "admin",
        "everything, including users, roles and the audit trail",
        [
            "audit.read",
            "crm.accounts.read",
            "crm.accounts.write",
            "crm.contacts.read",
            "crm.contacts.read_all",
            "crm.contacts.write",
            "crm.imports.review",
            "crm.imports.submit",
            "crm.interactions.read",
            "crm.interactions.write",
            "crm.leads.read",
            "crm.leads.write",
            "crm.opportunities.read",
            "crm.opportunities.write",
            "crm.qd.read",
            "crm.tasks.read",
            "crm.tasks.write",
            "identity.users.manage",
            "intel.artifacts.read_sensitive",
            "inventory.read",
            "inventory.write",
            "oracle.templates.read",
            "oracle.templates.write",
            "workflow.writebacks.approve",
            "workflow.writebacks.propose",
        ],
    ),
    (
        "07d20a6d-193d-5844-be86-fcbdccd97546",
        "sales_manager",
        "runs the sales team: sees every client and the pipeline, reads sensitive artifacts",
        [
            "crm.accounts.read",
            "crm.accounts.write",
            "crm.contacts.read",
            "crm.contacts.read_all",
            "crm.contacts.write",
            "crm.imports.submit",
            "crm.interactions.read",
            "crm.interactions.write",
            "crm.leads.read",
            "crm.leads.write",
            "crm.opportunities.read",
            "crm.opportunities.write",
            "crm.qd.read",
            "crm.tasks.read",
            "crm.tasks.write",
            "intel.artifacts.read_sensitive",
            "inventory.read",
            "oracle.templates.read",
            "workflow.writebacks.propose",
        ],
    ),
    (
        "c99e1904-60b7-5b94-948b-e2ad660d4b14",
        "sales_agent",
        "works their own clients: sees only people whose leads or opportunities they hold",
        [
            "crm.accounts.read",
            "crm.accounts.write",
            "crm.contacts.read",
            "crm.contacts.write",
            "crm.interactions.read",
            "crm.interactions.write",
            "crm.leads.read",
            "crm.leads.write",
            "crm.opportunities.read",
            "crm.opportunities.write",
            "crm.qd.read",
            "crm.tasks.read",
            "crm.tasks.write",
            "intel.artifacts.read_sensitive",
            "inventory.read",
            "oracle.templates.read",
            "workflow.writebacks.propose",
        ],
    ),
    (
        "7f883f50-3ff7-59ce-bfea-20c70b5b338a",
        "operator",
        "reviews imports and approves writebacks",
        [
            "crm.accounts.read",
            "crm.contacts.read",
            "crm.contacts.read_all",
            "crm.imports.review",
            "crm.imports.submit",
            "crm.interactions.read",
            "crm.leads.read",
            "crm.opportunities.read",
            "crm.qd.read",
            "crm.tasks.read",
            "inventory.read",
            "inventory.write",
            "oracle.templates.read",
            "workflow.writebacks.approve",
            "workflow.writebacks.propose",
        ],
    ),
    (
        "6584950a-0978-53e8-95f6-98b83e1f6b10",
        "analyst",
        "reads everything except sensitive artifacts; changes nothing",
        [
            "crm.accounts.read",
            "crm.contacts.read",
            "crm.contacts.read_all",
            "crm.interactions.read",
            "crm.leads.read",
            "crm.opportunities.read",
            "crm.qd.read",
            "crm.tasks.read",
            "inventory.read",
            "oracle.templates.read",
        ],
    ),
    (
        "dc295dbb-3cbe-5469-81a5-262f15bd17e0",
        "oracle_agent",
        "the automated Oracle agent: may read and propose, never approve or write directly",
        [
            "crm.accounts.read",
            "crm.contacts.read",
            "crm.contacts.read_all",
            "crm.interactions.read",
            "crm.leads.read",
            "crm.opportunities.read",
            "crm.qd.read",
            "crm.tasks.read",
            "intel.artifacts.read_sensitive",
            "inventory.read",
            "oracle.templates.read",
            "oracle.templates.write",
            "workflow.writebacks.propose",
        ],
    ),
]

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION core_audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'core_audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'check_violation', CONSTRAINT = 'core_audit_events_append_only';
END;
$$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER core_audit_events_append_only
BEFORE UPDATE OR DELETE ON core_audit_events
FOR EACH ROW EXECUTE FUNCTION core_audit_events_append_only()
"""


def upgrade() -> None:
    """Insert the catalogue and the default roles; refuse changes to audit events."""
    permissions = sa.table(
        "core_permissions",
        sa.column("permission_id", sa.Uuid),
        sa.column("route_family", sa.String),
        sa.column("action", sa.String),
        sa.column("permission_name", sa.String),
        sa.column("description", sa.String),
        sa.column("is_sensitive", sa.Boolean),
        sa.column("version", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    roles = sa.table(
        "core_roles",
        sa.column("role_id", sa.Uuid),
        sa.column("role_name", sa.String),
        sa.column("description", sa.String),
        sa.column("is_system", sa.Boolean),
        sa.column("permission_names", postgresql.ARRAY(sa.String)),
        sa.column("version", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    stamp = {"version": 1, "created_at": SEEDED_AT, "updated_at": SEEDED_AT}
    op.bulk_insert(
        permissions,
        [
            {
                "permission_id": UUID(pid),
                "route_family": family,
                "action": action,
                "permission_name": f"{family}.{action}",
                "description": description,
                "is_sensitive": sensitive,
                **stamp,
            }
            for pid, family, action, description, sensitive in PERMISSIONS
        ],
    )
    op.bulk_insert(
        roles,
        [
            {
                "role_id": UUID(rid),
                "role_name": name,
                "description": description,
                "is_system": True,
                "permission_names": names,
                **stamp,
            }
            for rid, name, description, names in ROLES
        ],
    )
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    """Remove the audit trigger and the seeded rows."""
    op.execute("DROP TRIGGER core_audit_events_append_only ON core_audit_events")
    op.execute("DROP FUNCTION core_audit_events_append_only()")
    roles = sa.table("core_roles", sa.column("role_id", sa.Uuid))
    permissions = sa.table("core_permissions", sa.column("permission_id", sa.Uuid))
    op.execute(roles.delete().where(roles.c.role_id.in_([UUID(r[0]) for r in ROLES])))
    op.execute(
        permissions.delete().where(
            permissions.c.permission_id.in_([UUID(p[0]) for p in PERMISSIONS])
        )
    )
