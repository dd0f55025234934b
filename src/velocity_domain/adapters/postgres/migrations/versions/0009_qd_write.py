"""QD points are recorded through a service: the permission ``crm.qd.write``.

The permission ``crm.qd.write`` ("record QD signal points") is added to the
catalogue and to the admin, sales manager and sales agent roles. The tables
``intel_qd_timeseries`` and ``intel_qd_scores`` are unchanged: the index on a
person's history, newest first, already serves the QD query.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:30:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)
PERMISSION = (
    UUID("6eff6377-0432-5eca-acfa-9aa0910ecb0d"),
    "crm.qd",
    "write",
    "record QD signal points",
)
ROLES = ("admin", "sales_agent", "sales_manager")


def upgrade() -> None:
    """Apply this revision."""
    pid, family, action, description = PERMISSION
    op.execute(
        sa.text(
            "INSERT INTO core_permissions (permission_id, route_family, action, permission_name,"
            " description, is_sensitive, version, created_at, updated_at)"
            " VALUES (:pid, :family, :action, :name, :description, false, 1, :at, :at)"
        ).bindparams(
            pid=pid,
            family=family,
            action=action,
            name=f"{family}.{action}",
            description=description,
            at=SEEDED_AT,
        )
    )
    roles = ", ".join(f"'{role}'" for role in ROLES)
    # Constants of this file only, written out so that `db upgrade --sql` prints them.
    op.execute(
        "UPDATE core_roles SET permission_names = ARRAY(SELECT DISTINCT unnest("  # noqa: S608
        f"array_append(permission_names, '{family}.{action}'::varchar)) ORDER BY 1)"
        f" WHERE role_name IN ({roles}) AND is_system"
    )


def downgrade() -> None:
    """Revert this revision."""
    name = f"{PERMISSION[1]}.{PERMISSION[2]}"
    op.execute(
        "UPDATE core_roles SET permission_names"  # noqa: S608
        f" = array_remove(permission_names, '{name}'::varchar)"
    )
    op.execute(
        sa.text("DELETE FROM core_permissions WHERE permission_id = :pid").bindparams(
            pid=PERMISSION[0]
        )
    )
