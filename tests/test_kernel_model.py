"""The field helpers store values exactly as the PostgreSQL columns hold them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from velocity_domain.crm.entities import Opportunity
from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.ids import new_id


def test_money_and_ratios_get_the_column_scale() -> None:
    deal = Opportunity(person_id=new_id(), value=5, probability=Decimal("0.4"))
    assert str(deal.value) == "5.00"
    assert str(deal.probability) == "0.40000"
    assert deal == Opportunity(
        opportunity_id=deal.opportunity_id,
        person_id=deal.person_id,
        value=Decimal("5.00"),
        probability=Decimal("0.40000"),
        created_at=deal.created_at,
        updated_at=deal.updated_at,
    )


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("value", Decimal("1.005"), "more than 2 decimal places"),
        ("value", 5.5, "floats lose precision"),
        ("value", Decimal("-1"), "between 0 and"),
        ("value", Decimal("10000000000000000"), "between 0 and"),
        ("value", Decimal("NaN"), "finite"),
        ("probability", Decimal("0.123456"), "more than 5 decimal places"),
        ("probability", Decimal("1.5"), "between 0 and 1"),
        ("probability", True, "must be a Decimal"),
    ],
)
def test_bad_numbers_are_refused_not_rounded(field: str, value: object, reason: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        Opportunity(person_id=new_id(), **{field: value})  # type: ignore[arg-type]
    assert err.value.field == field
    assert reason in err.value.reason
