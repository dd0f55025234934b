"""Tables of the HTTP way in: operational records kept beside the canonical data.

Not part of the canonical model (they are none of the spec's tables and no
entity describes them): they keep what the API needs to behave well, and
expire. ``api_idempotency_keys`` holds one row per owner (a user's id, or
``system:<name>``) and ``Idempotency-Key`` (revision 0011): the request's
fingerprint, whether its work is ``pending`` or ``done``, and, once done,
the response to replay. Its primary key is the claim (``INSERT ... ON
CONFLICT DO NOTHING``); the index on ``claimed_at`` serves the purge of
expired keys. See :mod:`velocity_domain.identity.idempotency`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from velocity_domain.adapters.postgres.tables._columns import (
    CODE_POINT,
    choice,
    created_at,
    metadata,
    text,
)
from velocity_domain.identity.idempotency import IDEMPOTENCY_TABLE, IdempotencyState

__all__ = ["API_TABLES", "api_idempotency_keys"]

_TIMESTAMPTZ = sa.DateTime(timezone=True)

api_idempotency_keys = sa.Table(
    IDEMPOTENCY_TABLE,
    metadata,
    sa.Column("owner", sa.Text(collation=CODE_POINT), primary_key=True),
    sa.Column("key", sa.String(255, collation=CODE_POINT), primary_key=True),
    text("fingerprint", 128, nullable=False),
    choice("state", IdempotencyState),
    created_at("claimed_at"),
    sa.Column("completed_at", _TIMESTAMPTZ, nullable=True),
    sa.Column("status", sa.Integer, nullable=True),
    text("media_type", 255),
    sa.Column("headers", pg.JSONB, nullable=True),
    sa.Column("body", sa.LargeBinary, nullable=True),
    sa.CheckConstraint(
        "(state = 'pending' AND completed_at IS NULL AND status IS NULL AND media_type IS NULL"
        " AND headers IS NULL AND body IS NULL)"
        " OR (state = 'done' AND completed_at IS NOT NULL AND status BETWEEN 100 AND 599"
        " AND media_type IS NOT NULL AND headers IS NOT NULL AND body IS NOT NULL)",
        name="response_iff_done",
    ),
    sa.Index(None, "claimed_at"),
)

#: The tables of the HTTP way in, by name.
API_TABLES = frozenset({api_idempotency_keys.name})
