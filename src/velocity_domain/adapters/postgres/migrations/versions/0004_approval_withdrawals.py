"""An approver may withdraw their approval: one approval and one rejection per approver.

``workflow_approvals`` was unique on (writeback, approver), so an approver who
approved could not record the rejection that withdraws an approved writeback
not yet executed. The key becomes (writeback, approver, decision).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 01:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "uq_workflow_approvals_writeback_id_approver_user_id"
NEW = "uq_workflow_approvals_writeback_id_approver_user_id_decision"


def upgrade() -> None:
    """Apply this revision."""
    op.drop_constraint(op.f(OLD), "workflow_approvals", type_="unique")
    op.create_unique_constraint(
        op.f(NEW), "workflow_approvals", ["writeback_id", "approver_user_id", "decision"]
    )


def downgrade() -> None:
    """Revert this revision (fails while an approver has both approved and rejected one)."""
    op.drop_constraint(op.f(NEW), "workflow_approvals", type_="unique")
    op.create_unique_constraint(
        op.f(OLD), "workflow_approvals", ["writeback_id", "approver_user_id"]
    )
