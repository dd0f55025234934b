"""Import rows carry what matching needs and decides.

``crm_import_rows`` gains the matching keys of its mapped row
(``match_email``, ``match_phone``, ``match_name``), its source reference
(``source_key``: the file's own id, or a fingerprint), the ``outcome`` of
matching (new, update, unchanged, duplicate, invalid) with the person it
matched, the field-level ``changes_json`` an update makes (what undo
restores), the ``evidence_json`` of the decision and the ``writeback_id`` of
the proposal that carries the row. The index ``(import_batch_id, outcome,
row_number)`` serves reading a batch's rows of one outcome in file order.
The matching keys have no index of their own: on PostgreSQL a batch is
matched by one set-based statement that partitions the batch's rows by them,
and every index on this table costs each of the writes every row goes
through.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "crm_import_rows"
_OUTCOMES = ("new", "update", "unchanged", "duplicate", "invalid")
_TEXTS = (("match_email", 254), ("match_phone", 32), ("match_name", 200), ("source_key", 200))


def upgrade() -> None:
    """Apply this revision."""
    for name, length in _TEXTS:
        op.add_column(_TABLE, sa.Column(name, sa.String(length, collation="C"), nullable=True))
    op.add_column(_TABLE, sa.Column("outcome", sa.String(32, collation="C"), nullable=True))
    allowed = ", ".join(f"'{value}'" for value in _OUTCOMES)
    op.create_check_constraint(
        "ck_crm_import_rows_outcome_allowed", _TABLE, f"outcome IN ({allowed})"
    )
    op.add_column(_TABLE, sa.Column("matched_person_id", sa.Uuid, nullable=True))
    for name in ("changes_json", "evidence_json"):
        op.add_column(
            _TABLE,
            sa.Column(name, pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        )
    op.add_column(_TABLE, sa.Column("writeback_id", sa.Uuid, nullable=True))
    op.create_index(
        "ix_crm_import_rows_import_batch_id_outcome_row_number",
        _TABLE,
        ["import_batch_id", "outcome", "row_number"],
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_crm_import_rows_import_batch_id_outcome_row_number", table_name=_TABLE)
    for name in ("writeback_id", "evidence_json", "changes_json", "matched_person_id"):
        op.drop_column(_TABLE, name)
    op.drop_constraint("ck_crm_import_rows_outcome_allowed", _TABLE, type_="check")
    op.drop_column(_TABLE, "outcome")
    for name, _ in reversed(_TEXTS):
        op.drop_column(_TABLE, name)
