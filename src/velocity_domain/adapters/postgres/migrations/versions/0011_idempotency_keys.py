"""Idempotency keys of the HTTP way in: ``api_idempotency_keys``.

One row per owner (a user's id, or ``system:<name>``) and ``Idempotency-Key``
a request carried: the fingerprint of the first request (its method, path
and body, hashed by the caller), ``pending`` while its work runs and
``done`` with the response to replay once it finished. The primary key
``(owner, key)`` is the claim: of several requests inserting the same key
with ``ON CONFLICT DO NOTHING`` exactly one gets the row. A check keeps the
response columns set exactly when the key is done. The index on
``claimed_at`` serves the purge of keys past their retention. Not a
canonical table: it expires, carries no version and is not audited.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_C = "C"
# Check constraints get the metadata's convention (ck_<table>_<name>), as declared.
TABLE = "api_idempotency_keys"
RESPONSE_IFF_DONE = (
    "(state = 'pending' AND completed_at IS NULL AND status IS NULL AND media_type IS NULL"
    " AND headers IS NULL AND body IS NULL)"
    " OR (state = 'done' AND completed_at IS NOT NULL AND status BETWEEN 100 AND 599"
    " AND media_type IS NOT NULL AND headers IS NOT NULL AND body IS NOT NULL)"
)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        TABLE,
        sa.Column("owner", sa.Text(collation=_C), nullable=False),
        sa.Column("key", sa.String(255, collation=_C), nullable=False),
        sa.Column("fingerprint", sa.String(128, collation=_C), nullable=False),
        sa.Column(
            "state",
            sa.String(32, collation=_C),
            sa.CheckConstraint("state IN ('pending', 'done')", name="state_allowed"),
            nullable=False,
        ),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("media_type", sa.String(255, collation=_C), nullable=True),
        sa.Column("headers", pg.JSONB, nullable=True),
        sa.Column("body", sa.LargeBinary, nullable=True),
        sa.CheckConstraint(RESPONSE_IFF_DONE, name="response_iff_done"),
        sa.PrimaryKeyConstraint("owner", "key", name=f"pk_{TABLE}"),
    )
    op.create_index(f"ix_{TABLE}_claimed_at", TABLE, ["claimed_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(f"ix_{TABLE}_claimed_at", table_name=TABLE)
    op.drop_table(TABLE)
