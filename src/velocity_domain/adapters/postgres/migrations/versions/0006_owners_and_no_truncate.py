"""Record owners for people; the audit trail refuses ``TRUNCATE`` too.

- ``crm_people.owner_user_id``: the user who owns a contact (set when a
  principal who sees only their own clients creates one). Record visibility
  lets the owner see the person even before any lead or deal names them; the
  index ``(owner_user_id, person_id)`` serves that semi-join.
- A statement-level ``BEFORE TRUNCATE`` trigger on ``core_audit_events``,
  calling the append-only function of revision 0002: row triggers do not fire
  for ``TRUNCATE``, so until now it emptied the audit trail.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NO_TRUNCATE_TRIGGER = """
CREATE TRIGGER core_audit_events_no_truncate
BEFORE TRUNCATE ON core_audit_events
FOR EACH STATEMENT EXECUTE FUNCTION core_audit_events_append_only()
"""


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("crm_people", sa.Column("owner_user_id", sa.Uuid, nullable=True))
    op.create_foreign_key(
        "fk_crm_people_owner_user_id",
        "crm_people",
        "core_users",
        ["owner_user_id"],
        ["user_id"],
        ondelete="RESTRICT",
    )
    op.create_index(
        "ix_crm_people_owner_user_id_person_id", "crm_people", ["owner_user_id", "person_id"]
    )
    op.execute(NO_TRUNCATE_TRIGGER)


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DROP TRIGGER core_audit_events_no_truncate ON core_audit_events")
    op.drop_index("ix_crm_people_owner_user_id_person_id", table_name="crm_people")
    op.drop_constraint("fk_crm_people_owner_user_id", "crm_people", type_="foreignkey")
    op.drop_column("crm_people", "owner_user_id")
