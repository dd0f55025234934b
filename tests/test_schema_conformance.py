"""Every entity field has its column (name, type, nullability, reference), and back."""

from __future__ import annotations

import re

import attrs
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from tests.support.model_catalog import SPEC_TABLES, entity_classes
from velocity_domain.adapters.postgres.tables import (
    API_TABLES,
    DOMAIN_MODULES,
    NON_CANONICAL,
    PROJECTION_TABLES,
    metadata,
)
from velocity_domain.kernel.fields import FieldSpec, field_spec
from velocity_domain.kernel.model import Entity, VersionedEntity
from velocity_domain.kernel.tableinfo import table_info

ALL = entity_classes()


def _type_problem(spec: FieldSpec, column: sa.Column[object]) -> str | None:
    t = column.type
    kind = spec.kind
    if kind in ("id", "ref"):
        ok = isinstance(t, sa.Uuid)
    elif kind in ("text", "email", "phone", "url", "currency"):
        ok = isinstance(t, sa.String) and not isinstance(t, sa.Text) and t.length == spec.max_length
    elif kind == "long_text":
        ok = isinstance(t, sa.Text)
    elif kind == "choice":
        ok = isinstance(t, sa.String)
    elif kind == "int":
        ok = isinstance(t, sa.Integer)
    elif kind == "money":
        ok = isinstance(t, sa.Numeric) and (t.precision, t.scale) == (18, 2)
    elif kind == "ratio":
        ok = isinstance(t, sa.Numeric) and (t.precision, t.scale) == (6, 5)
    elif kind == "decimal":
        ok = isinstance(t, sa.Numeric) and not isinstance(t, sa.Float)
    elif kind == "datetime":
        ok = isinstance(t, sa.DateTime) and t.timezone
    elif kind == "date":
        ok = isinstance(t, sa.Date) and not isinstance(t, sa.DateTime)
    elif kind == "bool":
        ok = isinstance(t, sa.Boolean)
    elif kind == "json":
        ok = isinstance(t, pg.JSONB)
    elif kind == "labels":
        ok = isinstance(t, pg.ARRAY)
    else:
        return f"unknown field kind {kind}"
    return None if ok else f"{kind} field stored as {t!r}"


def _allowed_values(table: sa.Table, column: str) -> set[str] | None:
    for constraint in table.constraints | {c for col in table.columns for c in col.constraints}:
        if isinstance(constraint, sa.CheckConstraint):
            sql = str(constraint.sqltext)
            match = re.fullmatch(rf"{column} IN \((.*)\)", sql)
            if match:
                return set(re.findall(r"'([^']*)'", match.group(1)))
    return None


def test_the_metadata_holds_exactly_the_fifty_tables_and_the_non_canonical_ones() -> None:
    expected = {t for group in SPEC_TABLES.values() for t in group}
    assert set(metadata.tables) == expected | NON_CANONICAL
    assert (
        NON_CANONICAL
        == PROJECTION_TABLES | API_TABLES
        == {
            "crm_client_summaries",
            "crm_client_summary_tags",
            "api_idempotency_keys",
        }
    )
    assert not expected & NON_CANONICAL


@pytest.mark.parametrize("domain", list(SPEC_TABLES))
def test_each_domain_module_declares_its_own_tables(domain: str) -> None:
    module = DOMAIN_MODULES[domain]
    declared = {
        getattr(module, name).name
        for name in module.__all__
        if isinstance(getattr(module, name), sa.Table)
    }
    assert declared == set(SPEC_TABLES[domain])


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.table_name)
def test_fields_and_columns_match(cls: type[Entity]) -> None:
    table = metadata.tables[cls.table_name]
    fields = {f.name: f for f in attrs.fields(cls)}
    assert set(fields) == set(table.columns.keys()), "fields and columns differ"
    problems: list[str] = []
    for name, field in fields.items():
        column = table.columns[name]
        spec = field_spec(field) if field.init else FieldSpec("text", max_length=column.type.length)  # type: ignore[attr-defined]
        problem = _type_problem(spec, column)
        if problem:
            problems.append(f"{name}: {problem}")
        if column.nullable != spec.optional and not column.primary_key:
            problems.append(f"{name}: nullable={column.nullable} but optional={spec.optional}")
        if spec.kind == "id" and not column.primary_key:
            problems.append(f"{name}: the id field is not the primary key")
        if spec.references:
            targets = {fk.target_fullname for fk in column.foreign_keys}
            if spec.references not in targets:
                problems.append(f"{name}: should reference {spec.references}, has {targets}")
        if spec.kind == "choice":
            assert spec.choices is not None
            allowed = _allowed_values(table, name)
            if allowed != {m.value for m in spec.choices}:
                problems.append(f"{name}: CHECK allows {allowed}, enum has {list(spec.choices)}")
    assert not problems, problems


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.table_name)
def test_mutable_rows_carry_version_and_timestamps(cls: type[Entity]) -> None:
    if issubclass(cls, VersionedEntity):
        table = metadata.tables[cls.table_name]
        assert {"version", "created_at", "updated_at"} <= set(table.columns.keys())


def _table_uniques(table: sa.Table) -> dict[str, tuple[tuple[str, ...], str | None]]:
    found: dict[str, tuple[tuple[str, ...], str | None]] = {}
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint):
            found[str(constraint.name)] = (tuple(c.name for c in constraint.columns), None)
    for index in table.indexes:
        if index.unique:
            where = index.dialect_options["postgresql"].get("where")
            found[str(index.name)] = (
                tuple(c.name for c in index.columns),
                None if where is None else str(where),
            )
    return found


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.table_name)
def test_declared_unique_keys_match_the_table(cls: type[Entity]) -> None:
    info = table_info(cls)
    table = metadata.tables[cls.table_name]
    declared = {u.name_for(info.name): (u.fields, bool(u.where)) for u in info.uniques}
    actual = {
        name: (cols, where is not None) for name, (cols, where) in _table_uniques(table).items()
    }
    assert declared == actual


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.table_name)
def test_declared_composite_references_match_the_table(cls: type[Entity]) -> None:
    info = table_info(cls)
    table = metadata.tables[cls.table_name]
    declared = {c.name_for(info.name): (c.fields, c.table, c.columns) for c in info.composite_refs}
    actual = {
        str(fk.name): (
            tuple(c.name for c in fk.columns),
            fk.referred_table.name,
            tuple(e.column.name for e in fk.elements),
        )
        for fk in table.foreign_key_constraints
        if len(fk.columns) > 1
    }
    assert declared == actual


def test_deletable_rows_are_referenced_by_nothing() -> None:
    deletable = {cls.table_name for cls in ALL if table_info(cls).deletable}
    assert deletable == {"crm_relationships", "oracle_component_tags", "oracle_component_lineage"}
    for table in metadata.tables.values():
        for fk in table.foreign_keys:
            assert fk.column.table.name not in deletable, (
                f"{table.name} refers to {fk.column.table.name}"
            )
