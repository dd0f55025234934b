"""Every entity validates its fields and round-trips through the one cattrs converter."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.support.model_catalog import SPEC_TABLES, entity_classes, entity_strategy
from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.convert import from_dict, to_dict
from velocity_domain.kernel.fields import field_spec
from velocity_domain.kernel.model import Entity

ALL = entity_classes()


def test_every_table_has_exactly_one_entity() -> None:
    tables = sorted(cls.table_name for cls in ALL)
    expected = sorted(t for group in SPEC_TABLES.values() for t in group)
    assert tables == expected
    assert len(expected) == 51


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.table_name)
def test_every_field_is_specified_and_the_key_exists(cls: type[Entity]) -> None:
    names = [f.name for f in attrs.fields(cls)]
    assert cls.key_field in names
    assert field_spec(attrs.fields_dict(cls)[cls.key_field]).kind == "id"
    for f in attrs.fields(cls):
        if f.init:
            field_spec(f)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.table_name)
@settings(
    max_examples=40, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)
@given(data=st.data())
def test_round_trip_through_json_safe_dicts(cls: type[Entity], data: st.DataObject) -> None:
    kwargs: dict[str, Any] = data.draw(entity_strategy(cls))
    try:
        entity = cls(**kwargs)
    except ValidationFailed as err:
        # Random fields may break a cross-field rule; the error must still name a real field.
        assert err.field in attrs.fields_dict(cls)
        assert err.entity == cls.table_name
        assume(False)
        return
    document = to_dict(entity)
    assert from_dict(json.loads(json.dumps(document)), cls) == entity
