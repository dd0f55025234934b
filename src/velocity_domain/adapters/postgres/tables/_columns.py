"""Column builders shared by the table modules, so every table spells a kind of column one way.

Names follow the spec; constraints are named by ``NAMING_CONVENTION`` so that
migrations and error translation can refer to them.
"""

from __future__ import annotations

import enum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

__all__ = [
    "CODE_POINT",
    "MONEY",
    "NAMING_CONVENTION",
    "RATIO",
    "TRIGRAMS_FUNCTION",
    "boolean",
    "choice",
    "created_at",
    "currency",
    "fk",
    "jsonb",
    "labels",
    "metadata",
    "money",
    "pk",
    "ratio",
    "source_key",
    "text",
    "trigram_index",
    "versioned",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

#: The one MetaData holding every canonical table.
metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

#: Every text column compares and sorts by code point, as the in-memory store does, so
#: queries need no ``COLLATE`` wrapper and every index serves them (revision 0005).
CODE_POINT = "C"

MONEY = sa.Numeric(18, 2)
RATIO = sa.Numeric(6, 5)


def pk(name: str) -> sa.Column[object]:
    """A UUID primary key (values are UUIDv7, made by the library)."""
    return sa.Column(name, sa.Uuid, primary_key=True)


def fk(
    name: str,
    target: str,
    *,
    nullable: bool = True,
    ondelete: str = "RESTRICT",
    use_alter: bool = False,
) -> sa.Column[object]:
    """A UUID column referencing ``target`` (``"table.column"``).

    ``RESTRICT`` by default: nothing, and above all no evidence, is deleted by
    cascade. ``use_alter`` marks one edge of a reference cycle, added after both
    tables exist.
    """
    return sa.Column(
        name,
        sa.Uuid,
        sa.ForeignKey(target, ondelete=ondelete, use_alter=use_alter),
        nullable=nullable,
    )


def text(name: str, length: int | None, *, nullable: bool = True) -> sa.Column[object]:
    """A ``varchar(length)`` column, or ``text`` when ``length`` is ``None``."""
    kind = sa.String(length, collation=CODE_POINT) if length else sa.Text(collation=CODE_POINT)
    return sa.Column(name, kind, nullable=nullable)


def choice(
    name: str,
    values: type[enum.Enum],
    *,
    nullable: bool = False,
    default: enum.Enum | None = None,
) -> sa.Column[object]:
    """A status/stage column constrained by a CHECK to the enum's values."""
    allowed = ", ".join(f"'{m.value}'" for m in values)
    return sa.Column(
        name,
        sa.String(32, collation=CODE_POINT),
        sa.CheckConstraint(f"{name} IN ({allowed})", name=f"{name}_allowed"),
        nullable=nullable,
        server_default=None if default is None else str(default.value),
    )


def money(name: str) -> sa.Column[object]:
    """A non-negative amount of money, ``numeric(18, 2)``; its currency is a separate column."""
    return sa.Column(
        name,
        MONEY,
        sa.CheckConstraint(f"{name} >= 0", name=f"{name}_non_negative"),
        nullable=True,
    )


def currency(name: str = "currency") -> sa.Column[object]:
    """An ISO 4217 currency code, ``INR`` by default."""
    return sa.Column(
        name,
        sa.String(3, collation=CODE_POINT),
        sa.CheckConstraint(f"{name} ~ '^[A-Z]{{3}}$'", name=f"{name}_iso4217"),
        nullable=False,
        server_default="INR",
    )


def ratio(name: str, *, nullable: bool = True) -> sa.Column[object]:
    """A number between 0 and 1 (probability, confidence)."""
    return sa.Column(
        name,
        RATIO,
        sa.CheckConstraint(f"{name} BETWEEN 0 AND 1", name=f"{name}_between_0_and_1"),
        nullable=nullable,
    )


def jsonb(name: str, *, nullable: bool = False) -> sa.Column[object]:
    """A ``jsonb`` document column (``*_json``), ``{}`` by default."""
    return sa.Column(
        name,
        pg.JSONB,
        nullable=nullable,
        server_default=None if nullable else sa.text("'{}'::jsonb"),
    )


def labels(name: str, length: int = 64) -> sa.Column[object]:
    """An array of short labels, empty by default."""
    return sa.Column(
        name,
        pg.ARRAY(sa.String(length)),
        nullable=False,
        server_default=sa.text("'{}'"),
    )


def boolean(name: str, *, default: bool = False) -> sa.Column[object]:
    """A non-null boolean."""
    return sa.Column(
        name, sa.Boolean, nullable=False, server_default=sa.true() if default else sa.false()
    )


def created_at(name: str = "created_at") -> sa.Column[object]:
    """A non-null ``timestamptz`` (set by the library from its clock)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


#: The SQL function (migration 0005) whose pieces the trigram indexes hold.
TRIGRAMS_FUNCTION = "velocity_trigrams"


def trigram_index(table: sa.Table, column: str) -> sa.Index:
    """A GIN index over the three-character pieces of ``lower(column)``: substring search.

    The pieces are held as a ``tsvector`` (built into PostgreSQL: no extension
    is needed); :class:`~velocity_domain.adapters.postgres.store.PostgresTable`
    searches every column that has one through it.
    """
    pieces = getattr(sa.func, TRIGRAMS_FUNCTION)(sa.func.lower(table.c[column]))
    return sa.Index(
        f"ix_{table.name}_trigrams_{column}",
        sa.func.array_to_tsvector(pieces),
        postgresql_using="gin",
        info={"trigrams": column},
    )


def versioned() -> list[sa.Column[object]]:
    """``version`` (optimistic concurrency), ``created_at`` and ``updated_at``."""
    return [
        sa.Column(
            "version",
            sa.Integer,
            sa.CheckConstraint("version >= 1", name="version_positive"),
            nullable=False,
            server_default="1",
        ),
        created_at("created_at"),
        created_at("updated_at"),
    ]


def source_key(*, required_system: bool = False) -> list[sa.Column[object] | sa.Constraint]:
    """``source_system`` + ``source_ref`` and their unique constraint (idempotent re-imports)."""
    return [
        sa.Column(
            "source_system", sa.String(64, collation=CODE_POINT), nullable=not required_system
        ),
        sa.Column("source_ref", sa.String(200, collation=CODE_POINT), nullable=True),
        sa.UniqueConstraint("source_system", "source_ref"),
    ]
