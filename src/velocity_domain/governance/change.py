"""A proposed change to one canonical row, as the policy and the executor see it.

Values are kept in their JSON-safe form (the converter's: UUIDs, dates and
Decimals as strings, enums as values), exactly as they are stored in
``workflow_writebacks.change_json``, so a rule sees the same change whether it
is judged when proposed or read back later.

>>> from uuid import UUID
>>> change = ProposedChange(
...     operation="crm.opportunities.update",
...     target_table="crm_opportunities",
...     change_kind=ChangeKind.UPDATE,
...     target_ref=UUID(int=7),
...     base_version=3,
...     fields={"value": "9000000.00"},
...     current={"value": "8500000.00"},
... )
>>> (change.target_domain, change.changed)
(<TargetDomain.CRM: 'crm'>, frozenset({'value'}))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.convert import converter, from_dict, to_dict
from velocity_domain.kernel.fields import choice, count, field_spec
from velocity_domain.kernel.model import Entity
from velocity_domain.uow import ENTITY_CLASSES
from velocity_domain.workflow.entities import ChangeKind, TargetDomain, Writeback

__all__ = ["ProposedChange", "entity_class", "plain_values"]

_DOMAIN_OF_PREFIX = {
    "crm": TargetDomain.CRM,
    "intel": TargetDomain.INTEL,
    "inventory": TargetDomain.INVENTORY,
    "oracle": TargetDomain.ORACLE,
    "core": TargetDomain.IDENTITY,
}
_CLASSES = {cls.table_name: cls for cls in ENTITY_CLASSES}


def entity_class(table: str) -> type[Entity]:
    """Return the entity class of a canonical (non-governance) table, or refuse it clearly."""
    if not isinstance(table, str):
        raise ValidationFailed("target_table", "must be a table name", value=table)
    cls = _CLASSES.get(table)
    if cls is None or table.startswith("workflow_"):
        raise ValidationFailed("target_table", "is not a canonical table", value=table)
    return cls


def plain_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``values`` in their JSON-safe form (UUIDs, Decimals, dates as strings)."""
    return {str(name): converter.unstructure(value) for name, value in values.items()}


def _mapping(field: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationFailed(field, "must be a mapping of names to values")
    return dict(value)


def _fields(value: Any) -> dict[str, Any]:
    return _mapping("fields", value)


def _current(value: Any) -> dict[str, Any]:
    return _mapping("current", value)


def _context(value: Any) -> dict[str, Any]:
    return _mapping("context", value)


def _name(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationFailed(field.name, "must be a non-empty string", value=value)


@attrs.frozen(kw_only=True)
class ProposedChange:
    """What a write would do: which operation, which row, which fields, from which version.

    ``fields`` holds the new values and ``current`` the target's values of the
    same fields when the change was proposed (empty for a create). ``context``
    carries what the operation needs besides fields (a stage move's reason).
    ``bulk_size`` is how many changes were proposed together;
    ``request_digest`` recognises the request again under its idempotency key.
    """

    operation: str = attrs.field(validator=_name)
    target_table: str = attrs.field(validator=_name)
    change_kind: ChangeKind = choice(ChangeKind)
    target_ref: UUID | None = None
    base_version: int | None = count(minimum=1, optional=True)
    fields: Mapping[str, Any] = attrs.field(factory=dict, converter=_fields)
    current: Mapping[str, Any] = attrs.field(factory=dict, converter=_current)
    context: Mapping[str, Any] = attrs.field(factory=dict, converter=_context)
    bulk_size: int = count(minimum=1, default=1)
    request_digest: str | None = None

    @property
    def target_domain(self) -> TargetDomain:
        """The canonical domain of the target table (``core_*`` is identity)."""
        domain = _DOMAIN_OF_PREFIX.get(self.target_table.split("_", 1)[0])
        if domain is None:
            raise ValidationFailed(
                "target_table", "is not a canonical table", value=self.target_table
            )
        return domain

    @property
    def changed(self) -> frozenset[str]:
        """The fields whose proposed value differs from the current one."""
        return frozenset(
            name
            for name, value in self.fields.items()
            if name not in self.current or self.current[name] != value
        )

    def field_kinds(self) -> dict[str, str]:
        """The kind of each proposed field (``money``, ``ref``, ``email`` ...), from the entity."""
        cls = entity_class(self.target_table)
        specs = {f.name: field_spec(f).kind for f in attrs.fields(cls) if f.init}
        return {name: specs.get(name, "unknown") for name in self.fields}

    def to_json(self) -> dict[str, Any]:
        """The document stored in ``workflow_writebacks.change_json``."""
        return {
            "operation": self.operation,
            "fields": dict(self.fields),
            "current": dict(self.current),
            "context": dict(self.context),
            "bulk_size": self.bulk_size,
            "request_digest": self.request_digest,
        }

    @classmethod
    def of(cls, writeback: Writeback) -> ProposedChange:
        """Read the change a stored writeback proposes."""
        doc = writeback.change_json
        return cls(
            operation=str(doc["operation"]),
            target_table=writeback.target_table,
            change_kind=writeback.change_kind,
            target_ref=writeback.target_entity_ref
            if writeback.change_kind is not ChangeKind.CREATE
            else None,
            base_version=writeback.base_version,
            fields=doc.get("fields", {}),
            current=doc.get("current", {}),
            context=doc.get("context", {}),
            bulk_size=int(doc.get("bulk_size", 1)),
            request_digest=doc.get("request_digest"),
        )

    @staticmethod
    def key_field_of(table: str) -> str:
        """The primary-key field of ``table``'s entity."""
        return entity_class(table).key_field

    def build(self) -> Entity:
        """The row a create proposes, built and validated from its fields."""
        cls = entity_class(self.target_table)
        self._check_names(cls)
        return from_dict(dict(self.fields), cls)

    def _check_names(self, cls: type[Entity]) -> None:
        known = {f.name for f in attrs.fields(cls) if f.init}
        for name in self.fields:
            if name not in known:
                raise ValidationFailed(
                    name, f"is not a field of {self.target_table}", entity=self.target_table
                )

    def typed_fields(self, current: Entity | None = None) -> dict[str, Any]:
        """The proposed values as the entity's own types, validated against the entity.

        For an update, ``current`` is the target row: the values are laid over
        it and the whole row is checked, so a value that is wrong on its own
        or together with the rest raises ``ValidationFailed`` naming the field.
        """
        cls = entity_class(self.target_table)
        self._check_names(cls)
        base = to_dict(current) if current is not None else {}
        built = from_dict({**base, **self.fields}, cls)
        return {name: getattr(built, name) for name in self.fields}
