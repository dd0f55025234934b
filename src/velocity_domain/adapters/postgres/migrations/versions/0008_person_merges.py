"""People can be merged: the merged record points to its survivor; merges are recorded.

``crm_people`` gains ``merged_into_person_id`` (the survivor a record was
merged into; the record is kept) and ``merged_at``, set together. The new
table ``crm_person_merges`` holds each merge: the survivor, the people merged
into it, the cluster's key (so a duplicate scan never proposes the same
people twice), the proposal that carries it, its evidence, and at execution
exactly what it changed, which undo reads back. The permission
``crm.merges.propose`` is added to the catalogue and to the operator, sales
manager and admin roles. Import rows get indexes on the person they matched
and the record they wrote, and households one on their head, so a merge finds
every row naming a person through an index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 08:30:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_C = "C"
SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)
PERMISSION = (
    UUID("b6d03116-898a-5e86-a182-4347089ef020"),
    "crm.merges",
    "propose",
    "find duplicate people and propose merging them, or undoing a merge",
)
ROLES = ("admin", "operator", "sales_manager")


def _timestamp(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("crm_people", sa.Column("merged_into_person_id", sa.Uuid, nullable=True))
    op.add_column("crm_people", _timestamp("merged_at"))
    op.create_foreign_key(
        "fk_crm_people_merged_into_person_id",
        "crm_people",
        "crm_people",
        ["merged_into_person_id"],
        ["person_id"],
        ondelete="RESTRICT",
    )
    op.create_check_constraint(
        "ck_crm_people_not_merged_into_self", "crm_people", "merged_into_person_id <> person_id"
    )
    op.create_check_constraint(
        "ck_crm_people_merged_at_iff_merged",
        "crm_people",
        "(merged_into_person_id IS NULL) = (merged_at IS NULL)",
    )
    # Partial: merged records are few, and a query for the live ones (IS NULL) must
    # never be steered to this index by the statistics of a young table.
    op.create_index(
        "ix_crm_people_merged_into_person_id",
        "crm_people",
        ["merged_into_person_id"],
        postgresql_where=sa.text("merged_into_person_id IS NOT NULL"),
    )
    op.create_table(
        "crm_person_merges",
        sa.Column("merge_id", sa.Uuid, nullable=False),
        sa.Column("survivor_person_id", sa.Uuid, nullable=False),
        sa.Column(
            "merged_person_ids",
            pg.ARRAY(sa.String(36)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("cluster_key", sa.String(64, collation=_C), nullable=False),
        sa.Column(
            "status",
            sa.String(32, collation=_C),
            sa.CheckConstraint(
                "status IN ('proposed', 'executed', 'undone')",
                name="ck_crm_person_merges_status_allowed",
            ),
            nullable=False,
            server_default="proposed",
        ),
        sa.Column("writeback_id", sa.Uuid, nullable=True),
        sa.Column("undo_writeback_id", sa.Uuid, nullable=True),
        sa.Column("origin", sa.String(32, collation=_C), nullable=False),
        sa.Column("evidence_json", pg.JSONB, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("changes_json", pg.JSONB, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("proposed_by_user_id", sa.Uuid, nullable=True),
        _timestamp("executed_at"),
        _timestamp("undone_at"),
        sa.Column(
            "version",
            sa.Integer,
            sa.CheckConstraint("version >= 1", name="ck_crm_person_merges_version_positive"),
            server_default="1",
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["survivor_person_id"],
            ["crm_people.person_id"],
            name="fk_crm_person_merges_survivor_person_id",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["writeback_id"],
            ["workflow_writebacks.writeback_id"],
            name="fk_crm_person_merges_writeback_id",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["undo_writeback_id"],
            ["workflow_writebacks.writeback_id"],
            name="fk_crm_person_merges_undo_writeback_id",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_user_id"],
            ["core_users.user_id"],
            name="fk_crm_person_merges_proposed_by_user_id",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("merge_id", name="pk_crm_person_merges"),
    )
    for column in ("cluster_key", "survivor_person_id", "writeback_id"):
        op.create_index(f"ix_crm_person_merges_{column}", "crm_person_merges", [column])
    op.create_index(
        "ix_crm_person_merges_merged_person_ids",
        "crm_person_merges",
        ["merged_person_ids"],
        postgresql_using="gin",
    )
    for column in ("matched_person_id", "target_entity_ref"):
        op.create_index(f"ix_crm_import_rows_{column}", "crm_import_rows", [column])
    op.create_index("ix_crm_households_head_person_id", "crm_households", ["head_person_id"])
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
    op.drop_index("ix_crm_households_head_person_id", table_name="crm_households")
    op.drop_table("crm_person_merges")
    for column in ("matched_person_id", "target_entity_ref"):
        op.drop_index(f"ix_crm_import_rows_{column}", table_name="crm_import_rows")
    op.drop_index("ix_crm_people_merged_into_person_id", table_name="crm_people")
    op.drop_constraint("ck_crm_people_merged_at_iff_merged", "crm_people", type_="check")
    op.drop_constraint("ck_crm_people_not_merged_into_self", "crm_people", type_="check")
    op.drop_constraint("fk_crm_people_merged_into_person_id", "crm_people", type_="foreignkey")
    op.drop_column("crm_people", "merged_at")
    op.drop_column("crm_people", "merged_into_person_id")
