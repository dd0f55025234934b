"""Oracle component/template entities: one attrs class per ``oracle_*`` table.

The Oracle AI renders its canvas from reusable UI components. A family groups
the components of one kind (say, a unit comparison card) and is split into
chapters; a template is one numbered revision of a component's body and input
schema; examples pair an input with the output it should produce; tags label
families and templates for search; lineage records which template was derived
from, replaces or was forked from which. Families and templates are drafted,
activated and deprecated (``/api/oracle/templates``).

>>> f = ComponentFamily(family_key="unit-card", name="Unit card")
>>> (f.family_key, f.status, f.version)
('unit-card', <ComponentStatus.DRAFT: 'draft'>, 1)
"""

import enum
import re
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

import attrs

from velocity_domain.kernel.constraints import CompositeRef, Unique
from velocity_domain.kernel.fields import (
    choice,
    count,
    id_field,
    invalid,
    json_field,
    long_text,
    ratio,
    ref,
    text,
    timestamp,
)
from velocity_domain.kernel.model import Entity, VersionedEntity
from velocity_domain.kernel.query import Eq

__all__ = [
    "KEY_PATTERN",
    "ComponentChapter",
    "ComponentExample",
    "ComponentFamily",
    "ComponentLineage",
    "ComponentStatus",
    "ComponentTag",
    "ComponentTemplate",
    "LineageRelation",
]

#: A family, chapter or template key: lower-case letters and digits, words joined by - or _.
KEY_PATTERN = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")


class ComponentStatus(enum.StrEnum):
    """Where a family or template stands: only ``active`` ones are offered to the Oracle."""

    DRAFT = "draft"
    ACTIVE = "active"
    DEPRECATED = "deprecated"


class LineageRelation(enum.StrEnum):
    """How a child template descends from its parent."""

    DERIVED_FROM = "derived_from"
    REPLACES = "replaces"
    FORKED_FROM = "forked_from"


def _key() -> Any:
    return text(
        max_length=64,
        pattern=KEY_PATTERN.pattern,
        pattern_hint="a key of lower-case letters and digits joined by - or _ (e.g. unit-card)",
    )


@attrs.frozen(kw_only=True)
class ComponentFamily(VersionedEntity):
    """A family of reusable Oracle components under a unique key (``oracle_component_families``)."""

    table_name: ClassVar[str] = "oracle_component_families"
    key_field: ClassVar[str] = "family_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (Unique(["family_key"]),)

    family_id: UUID = id_field()
    family_key: str = _key()
    name: str = text(max_length=200)
    description: str | None = long_text(max_length=10_000)
    status: ComponentStatus = choice(ComponentStatus, default=ComponentStatus.DRAFT)


@attrs.frozen(kw_only=True)
class ComponentChapter(VersionedEntity):
    """An ordered section of a family that groups its templates (``oracle_component_chapters``)."""

    table_name: ClassVar[str] = "oracle_component_chapters"
    key_field: ClassVar[str] = "chapter_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (
        Unique(["family_id", "chapter_key"]),
        Unique(["chapter_id", "family_id"]),
    )

    chapter_id: UUID = id_field()
    family_id: UUID = ref("oracle_component_families.family_id")
    chapter_key: str = _key()
    title: str = text(max_length=200)
    description: str | None = long_text(max_length=10_000)
    sort_order: int = count(default=0)


@attrs.frozen(kw_only=True)
class ComponentTemplate(VersionedEntity):
    """One revision of a component: its body and input schema (``oracle_component_templates``).

    A new revision is a new row with the same ``template_key`` and a higher
    ``revision``; at most one revision of a key is active at a time.
    """

    table_name: ClassVar[str] = "oracle_component_templates"
    key_field: ClassVar[str] = "template_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (
        Unique(["family_id", "template_key", "revision"]),
        Unique(
            ["family_id", "template_key"],
            where=[Eq("status", "active")],
            name="uq_oracle_component_templates_one_active_revision",
        ),
    )
    composite_refs: ClassVar[tuple[CompositeRef, ...]] = (
        CompositeRef(
            ["chapter_id", "family_id"], "oracle_component_chapters", ["chapter_id", "family_id"]
        ),
    )

    template_id: UUID = id_field()
    family_id: UUID = ref("oracle_component_families.family_id")
    chapter_id: UUID | None = ref("oracle_component_chapters.chapter_id", optional=True)
    template_key: str = _key()
    name: str = text(max_length=200)
    description: str | None = long_text(max_length=10_000)
    revision: int = count(minimum=1, default=1)
    status: ComponentStatus = choice(ComponentStatus, default=ComponentStatus.DRAFT)
    body_json: dict[str, Any] = json_field()
    schema_json: dict[str, Any] = json_field()
    created_by_user_id: UUID | None = ref("core_users.user_id", optional=True)


@attrs.frozen(kw_only=True)
class ComponentExample(VersionedEntity):
    """A worked input/output pair for a template, rated (``oracle_component_examples``)."""

    table_name: ClassVar[str] = "oracle_component_examples"
    key_field: ClassVar[str] = "example_id"

    example_id: UUID = id_field()
    template_id: UUID = ref("oracle_component_templates.template_id")
    title: str = text(max_length=200)
    input_json: dict[str, Any] = json_field()
    output_json: dict[str, Any] = json_field()
    quality: Decimal | None = ratio()
    notes: str | None = long_text(max_length=10_000)
    created_by_user_id: UUID | None = ref("core_users.user_id", optional=True)


@attrs.frozen(kw_only=True)
class ComponentTag(Entity):
    """A label on exactly one family or one template, for search (``oracle_component_tags``).

    Tags are added and removed, never edited, so the row has no version.
    """

    table_name: ClassVar[str] = "oracle_component_tags"
    key_field: ClassVar[str] = "tag_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (
        Unique(["family_id", "tag"]),
        Unique(["template_id", "tag"]),
    )
    deletable: ClassVar[bool] = True

    tag_id: UUID = id_field()
    family_id: UUID | None = ref("oracle_component_families.family_id", optional=True)
    template_id: UUID | None = ref("oracle_component_templates.template_id", optional=True)
    tag: str = text(max_length=64)
    created_at: datetime = timestamp(now=True)
    created_by_user_id: UUID | None = ref("core_users.user_id", optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        if (self.family_id is None) == (self.template_id is None):
            raise invalid(self, "template_id", "a tag is on exactly one of a family or a template")


@attrs.frozen(kw_only=True)
class ComponentLineage(Entity):
    """A recorded descent between two templates; append-only (``oracle_component_lineage``).

    Read "``child`` is ``relation`` ``parent``", e.g. the child replaces the parent.
    """

    table_name: ClassVar[str] = "oracle_component_lineage"
    key_field: ClassVar[str] = "lineage_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (
        Unique(
            ["parent_template_id", "child_template_id", "relation"],
            name="uq_oracle_component_lineage_link",
        ),
    )
    deletable: ClassVar[bool] = True

    lineage_id: UUID = id_field()
    parent_template_id: UUID = ref("oracle_component_templates.template_id")
    child_template_id: UUID = ref("oracle_component_templates.template_id")
    relation: LineageRelation = choice(LineageRelation)
    reason: str | None = text(max_length=500, optional=True)
    created_at: datetime = timestamp(now=True)
    created_by_user_id: UUID | None = ref("core_users.user_id", optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        if self.parent_template_id == self.child_template_id:
            raise invalid(self, "child_template_id", "a template cannot descend from itself")
