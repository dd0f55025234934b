"""What a store needs to know about an entity class, read once from its declarations.

>>> from velocity_domain.crm.entities import Person
>>> info = table_info(Person)
>>> info.name, info.key_field, info.versioned
('crm_people', 'person_id', True)
>>> [u.name_for(info.name) for u in info.uniques]
['uq_crm_people_source_system_source_ref']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import attrs

from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.constraints import CompositeRef, Unique
from velocity_domain.kernel.fields import FieldSpec, field_spec
from velocity_domain.kernel.model import Entity, VersionedEntity

__all__ = [
    "Reference",
    "TableInfo",
    "row_values",
    "table_info",
    "trusted_builder",
    "trusted_entity",
]


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
    #: Builds an entity from a stored row without validating it again (see :func:`trusted_builder`).
    build: Callable[[Mapping[str, Any]], Entity]

    def fk_name(self, field: str) -> str:
        """Return the schema's name of the foreign key on ``field``."""
        return f"fk_{self.name}_{field}"

    def check_settable(self, values: Mapping[str, Any]) -> None:
        """Refuse a compare-and-set (``update_if``) this table cannot take: the stores' one rule.

        Only versioned tables without derived fields (a normalised name is
        recomputed only by ``update``) take it, and never on the key, the
        version or the creation time.
        """
        if not self.versioned or len(self.init_fields) != len(self.columns):
            raise ValidationFailed("entity", f"{self.name} rows are changed with update()")
        for name in values:
            if name not in self.specs or name in (self.key_field, "version", "created_at"):
                raise ValidationFailed(name, f"{self.name}.{name} cannot be set here")

    def check_relinkable(self, field: str) -> None:
        """Refuse a :meth:`relink` of a field that holds no reference (an id of another row)."""
        spec = self.specs.get(field)
        if spec is None or spec.kind != "ref" or field == self.key_field:
            raise ValidationFailed(field, f"{self.name}.{field} is no reference to relink")

    def check_bulk_settable(self, names: Iterable[str]) -> None:
        """Refuse an ``update_many`` this table cannot take: only columns, never the fixed ones.

        A derived column (a normalised name) may be set, by a caller that sets
        it together with the field it derives from.
        """
        if not self.versioned:
            raise ValidationFailed("entity", f"{self.name} rows are never updated")
        for name in names:
            if name not in self.columns or name in (self.key_field, "version", "created_at"):
                raise ValidationFailed(name, f"{self.name}.{name} cannot be set here")


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
        build=trusted_builder(cls),
    )


def _as_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not UTC:
        return value.astimezone(UTC)
    return value


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _enum_of(spec: FieldSpec) -> Callable[[Any], Any]:
    assert spec.choices is not None
    members = {m.value: m for m in spec.choices}

    def convert(value: Any) -> Any:
        return value if value is None else members.get(value, value)

    return convert


def trusted_builder(cls: type[Entity]) -> Callable[[Mapping[str, Any]], Entity]:
    """Return a function that builds a ``cls`` from a stored row, trusting its values.

    A store only holds rows that were validated on their way in, so reading
    one back skips the validators, normalisers and cross-field checks (a phone
    is not parsed again): only the store's representation is turned back into
    the entity's (a status string into its enum member, an array into a
    tuple, a timestamp into UTC). Validation happens once, on input.
    """
    steps: list[tuple[str, Callable[[Any], Any] | None]] = []
    for f in attrs.fields(cls):
        spec = f.metadata.get("velocity")
        kind = spec.kind if isinstance(spec, FieldSpec) else None
        if kind == "choice":
            assert isinstance(spec, FieldSpec)
            steps.append((f.name, _enum_of(spec)))
        elif kind == "labels":
            steps.append((f.name, _as_tuple))
        elif kind == "datetime":
            steps.append((f.name, _as_utc))
        else:
            steps.append((f.name, None))
    new = object.__new__
    put = object.__setattr__

    def build(row: Mapping[str, Any]) -> Entity:
        entity = new(cls)
        for name, convert in steps:
            value = row[name]
            put(entity, name, value if convert is None else convert(value))
        return entity

    return build


E = TypeVar("E", bound=Entity)

_DEFAULTS: dict[type[Entity], tuple[tuple[str, Any, bool], ...]] = {}


def _defaults(cls: type[Entity]) -> tuple[tuple[str, Any, bool], ...]:
    """Each field of ``cls`` with its default: ``(name, value or factory, is a factory)``."""
    if cls not in _DEFAULTS:
        found = []
        for field in attrs.fields(cls):
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                factory = None if default.takes_self else default.factory
                found.append((field.name, factory, factory is not None))
            else:
                found.append((field.name, None if default is attrs.NOTHING else default, False))
        _DEFAULTS[cls] = tuple(found)
    return _DEFAULTS[cls]


def trusted_entity(cls: type[E], **values: Any) -> E:
    """A ``cls`` from values validated already, built as a store builds a row it reads back.

    For bulk writers that checked every value on the way in (the import
    pipeline checks a row when it maps it): fields left out take their
    defaults; a derived field (a normalised name) must be given with its
    source, since nothing is computed or checked again.
    """
    row = {
        name: values[name] if name in values else (default() if factory else default)
        for name, default, factory in _defaults(cls)
    }
    return cast("E", table_info(cls).build(row))


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
