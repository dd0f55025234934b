"""Authenticating a token on PostgreSQL: the session, its user and their grants in one statement.

The statement finds the session by its token's SHA-256 (the unique index
on ``token_sha256``), joins its user, and sends the user's live role
assignments with their roles as one JSON array: the first
:data:`~velocity_domain.identity.ports.ASSIGNMENTS_READ` unrevoked ones in
``granted_at`` order (the index on ``user_id``), less those expired at the
time asked about, exactly as the table-by-table reads choose them. Rows
travel as JSON arrays of their columns and are built back as a table read
builds them (:class:`~.jsonrows.JsonRows`).

The statement's text depends only on the schema, so it is built once per
schema; psycopg prepares it on a connection once it has run there a few
times, and every call binds only the digest, the time and the limit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from velocity_domain.adapters.postgres.jsonrows import JsonRows, table_sql
from velocity_domain.identity.entities import Role, RoleAssignment, Session, User
from velocity_domain.identity.ports import (
    ASSIGNMENTS_READ,
    FoundSession,
    Grant,
    SessionPrincipals,
)

if TYPE_CHECKING:
    from velocity_domain.adapters.postgres.store import PostgresTransaction

__all__ = ["EXTENSIONS", "PostgresSessionPrincipals"]

_SESSIONS = JsonRows(Session)
_USERS = JsonRows(User)
_ASSIGNMENTS = JsonRows(RoleAssignment)
_ROLES = JsonRows(Role)

_STATEMENT = """SELECT {session_row}, {user_row},
       (SELECT json_agg(json_build_array({assignment_row}, {role_row})
                        ORDER BY a.granted_at, a.role_assignment_id)
          FROM (SELECT * FROM {assignments} AS x
                 WHERE x.user_id = s.user_id AND x.revoked_at IS NULL
                 ORDER BY x.granted_at, x.role_assignment_id
                 LIMIT %(limit)s) AS a
          JOIN {roles} AS r ON r.role_id = a.role_id
         WHERE a.expires_at IS NULL OR a.expires_at > %(now)s) AS grants
FROM {sessions} AS s
JOIN {users} AS u ON u.user_id = s.user_id
WHERE s.token_sha256 = %(digest)s"""


@functools.lru_cache(maxsize=16)
def _statement(schema: str | None) -> str:
    """The statement for the tables in ``schema`` (``None``: the search path's)."""
    return _STATEMENT.format(
        session_row=_SESSIONS.json("s"),
        user_row=_USERS.json("u"),
        assignment_row=_ASSIGNMENTS.json("a"),
        role_row=_ROLES.json("r"),
        sessions=table_sql(Session.table_name, schema),
        users=table_sql(User.table_name, schema),
        assignments=table_sql(RoleAssignment.table_name, schema),
        roles=table_sql(Role.table_name, schema),
    )


class PostgresSessionPrincipals:
    """What a token stands for, in one statement (see ``SessionPrincipals``)."""

    def __init__(self, tx: PostgresTransaction) -> None:
        self._tx = tx

    def find(self, token_sha256: str, now: datetime) -> FoundSession | None:
        """See :meth:`velocity_domain.identity.ports.SessionPrincipals.find`."""
        connection = self._tx.connection
        params = {"digest": token_sha256, "now": now, "limit": ASSIGNMENTS_READ}
        with self._tx.translating():
            found = connection.exec_driver_sql(_statement(self._tx.store.schema), params).first()
        if found is None:
            return None
        session, user, grants = found
        return FoundSession(
            _SESSIONS.one(session),
            _USERS.one(user),
            tuple(Grant(_ASSIGNMENTS.one(a), _ROLES.one(r)) for a, r in grants or ()),
        )


#: The steps this module does its own way, by port.
EXTENSIONS: dict[type[Any], Callable[[PostgresTransaction], Any]] = {
    SessionPrincipals: PostgresSessionPrincipals,
}
