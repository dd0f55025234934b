"""The cross-field and format rules of the oracle entities name the field at fault."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.ids import new_id
from velocity_domain.oracle.entities import (
    ComponentChapter,
    ComponentExample,
    ComponentFamily,
    ComponentLineage,
    ComponentStatus,
    ComponentTag,
    ComponentTemplate,
    LineageRelation,
)

FAMILY = new_id()
TEMPLATE = new_id()


def _template(**kw: object) -> ComponentTemplate:
    fields: dict[str, object] = {"family_id": FAMILY, "template_key": "unit-card", "name": "Card"}
    fields.update(kw)
    return ComponentTemplate(**fields)  # type: ignore[arg-type]


BAD: list[tuple[str, Callable[[], object], str]] = [
    (
        "family key with a space",
        lambda: ComponentFamily(family_key="unit card", name="U"),
        "family_key",
    ),
    (
        "family key in capitals",
        lambda: ComponentFamily(family_key="Unit-Card", name="U"),
        "family_key",
    ),
    (
        "family key ends in a dash",
        lambda: ComponentFamily(family_key="unit-", name="U"),
        "family_key",
    ),
    (
        "unknown family status",
        lambda: ComponentFamily(family_key="u", name="U", status="live"),
        "status",
    ),
    (
        "chapter key with a dot",
        lambda: ComponentChapter(family_id=FAMILY, chapter_key="a.b", title="A"),
        "chapter_key",
    ),
    (
        "negative sort order",
        lambda: ComponentChapter(family_id=FAMILY, chapter_key="a", title="A", sort_order=-1),
        "sort_order",
    ),
    ("template key with a slash", lambda: _template(template_key="unit/card"), "template_key"),
    ("revision zero", lambda: _template(revision=0), "revision"),
    ("body not JSON", lambda: _template(body_json={"at": object()}), "body_json"),
    (
        "quality above one",
        lambda: ComponentExample(template_id=TEMPLATE, title="T", quality=Decimal("1.2")),
        "quality",
    ),
    ("tag on nothing", lambda: ComponentTag(tag="hero"), "template_id"),
    (
        "tag on both a family and a template",
        lambda: ComponentTag(family_id=FAMILY, template_id=TEMPLATE, tag="hero"),
        "template_id",
    ),
    (
        "template descends from itself",
        lambda: ComponentLineage(
            parent_template_id=TEMPLATE,
            child_template_id=TEMPLATE,
            relation=LineageRelation.REPLACES,
        ),
        "child_template_id",
    ),
    (
        "unknown lineage relation",
        lambda: ComponentLineage(
            parent_template_id=TEMPLATE, child_template_id=new_id(), relation="copied"
        ),
        "relation",
    ),
]


@pytest.mark.parametrize(("make", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_names_the_field(make: Callable[[], object], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        make()
    assert caught.value.field == field


def test_good_rows_build() -> None:
    family = ComponentFamily(family_key="unit_card-2", name="Unit card", status="active")
    assert family.status is ComponentStatus.ACTIVE
    chapter = ComponentChapter(family_id=family.family_id, chapter_key="pricing", title="Pricing")
    template = _template(chapter_id=chapter.chapter_id, revision=3, body_json={"type": "card"})
    assert (template.revision, template.status) == (3, ComponentStatus.DRAFT)
    ComponentExample(template_id=template.template_id, title="2BHK", quality=Decimal(1))
    ComponentTag(family_id=family.family_id, tag="Hero")
    ComponentTag(template_id=template.template_id, tag="hero")
    ComponentLineage(
        parent_template_id=TEMPLATE,
        child_template_id=template.template_id,
        relation=LineageRelation.FORKED_FROM,
    )
