"""Turning what a host passes (a URL, a schema name) into SQLAlchemy objects."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from velocity_domain.errors import ValidationFailed

__all__ = ["check_schema_name", "engine_url"]

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def engine_url(url: str | URL) -> URL:
    """Return ``url`` as a SQLAlchemy URL that uses psycopg 3.

    ``postgresql://`` and ``postgres://`` URLs (as libpq and most hosts write
    them) are given the ``+psycopg`` driver; other drivers are refused.
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except sa.exc.ArgumentError as exc:
        raise ValidationFailed("url", f"is not a database URL ({exc})") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend not in ("postgresql", "postgres"):
        raise ValidationFailed("url", f"must be a postgresql:// URL, not {backend}://")
    if driver not in ("", "psycopg"):
        raise ValidationFailed("url", f"uses driver {driver!r}; velocity_domain needs psycopg 3")
    return parsed.set(drivername="postgresql+psycopg")


def check_schema_name(schema: str | None) -> str | None:
    """Refuse a schema name that is not a plain lower-case SQL identifier."""
    if schema is None:
        return None
    if not isinstance(schema, str) or not _SCHEMA_RE.match(schema):
        raise ValidationFailed(
            "schema", "must be a lower-case identifier: letters, digits and _, at most 63"
        )
    return schema
