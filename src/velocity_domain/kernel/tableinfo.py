"""What a store needs to know about an entity class, read once from its declarations.

>>> from velocity_domain.crm.entities import Person
>>> info = table_info(Person)
>>> info.name, info.key_field, info.versioned
('crm_people', 'person_id', True)
>>> [u.name_for(info.name) for u in info.uniques]
['uq_crm_people_source_system_source_ref']
"""

from __future__ import annotations

from typing import Any

import attrs

from velocity_domain.kernel.constraints import CompositeRef, Unique
from velocity_domain.kernel.model import Entity, FieldSpec, VersionedEntity, field_spec

__all__ = ["Reference", "TableInfo", "row_values", "table_info"]


@attrs.frozen
class Reference:
    """A single-column reference: ``field`` holds the key of a row of ``table``."""

    field: str
    table: str
    column: str


@attrs.frozen
class TableInfo:
    """The storage-relevant facts of one entity class."""

    cls: type[Entity]
    name: str
    key_field: str
    columns: tuple[str, ...]
    init_fields: tuple[str, ...]
    optional: dict[str, bool]
    specs: dict[str, FieldSpec]
    references: tuple[Reference, ...]
    uniques: tuple[Unique, ...]
    composite_refs: tuple[CompositeRef, ...]
    versioned: bool
    deletable: bool
    has_mutable_values: bool

    def fk_name(self, field: str) -> str:
        """Return the schema's name of the foreign key on ``field``."""
        return f"fk_{self.name}_{field}"


_CACHE: dict[type[Entity], TableInfo] = {}


def table_info(cls: type[Entity]) -> TableInfo:
    """Return the :class:`TableInfo` of an entity class (computed once per class)."""
    info = _CACHE.get(cls)
    if info is None:
        info = _CACHE[cls] = _read(cls)
    return info


def _read(cls: type[Entity]) -> TableInfo:
    fields = attrs.fields(cls)
    specs: dict[str, FieldSpec] = {}
    optional: dict[str, bool] = {}
    references: list[Reference] = []
    for f in fields:
        if not f.init:
            optional[f.name] = False
            continue
        spec = field_spec(f)
        specs[f.name] = spec
        optional[f.name] = spec.optional
        if spec.kind == "ref" and spec.references:
            table, column = spec.references.split(".")
            references.append(Reference(f.name, table, column))
    names = [f.name for f in fields]
    uniques: list[Unique] = list(getattr(cls, "unique_keys", ()))
    if "source_system" in names and "source_ref" in names:
        uniques.insert(0, Unique(("source_system", "source_ref")))
    mutable = any(spec.kind == "json" for spec in specs.values())
    return TableInfo(
        cls=cls,
        name=cls.table_name,
        key_field=cls.key_field,
        columns=tuple(names),
        init_fields=tuple(f.name for f in fields if f.init),
        optional=optional,
        specs=specs,
        references=tuple(references),
        uniques=tuple(uniques),
        composite_refs=tuple(getattr(cls, "composite_refs", ())),
        versioned=issubclass(cls, VersionedEntity),
        deletable=bool(getattr(cls, "deletable", False)),
        has_mutable_values=mutable,
    )


def row_values(entity: Entity, info: TableInfo) -> dict[str, Any]:
    """Return an entity's column values as a store keeps them (enum values, lists)."""
    values: dict[str, Any] = {}
    for name in info.columns:
        value = getattr(entity, name)
        member_value = getattr(value, "value", None)
        if member_value is not None and hasattr(value, "name"):
            value = member_value
        elif isinstance(value, tuple):
            value = list(value)
        values[name] = value
    return values
