"""A currency is half of an amount: changing it is reviewed like changing the amount."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.governance import release, reviewed
from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.errors import ValidationFailed


def _rules(v: Velocity, w: World, proposal: object) -> list[str]:
    review = v.writebacks.get(w.by_role["operator"], proposal)  # type: ignore[arg-type]
    return [d.rule_name for d in review.decisions]


def test_a_deals_currency_change_is_reviewed_like_its_value(world: World) -> None:
    v, w = world.velocity, world
    deal = v.opportunities.create(
        w.agent_a, person_id=w.client_a.key, value=Decimal("12000000"), currency="INR"
    )
    proposal = reviewed(
        lambda: v.opportunities.update(w.agent_a, deal.key, expected_version=1, currency="USD")
    )
    assert _rules(v, w, proposal) == ["price_or_value"]
    assert v.opportunities.get(w.agent_a, deal.key) == deal  # nothing written yet
    # The same currency again is no change of money: it goes straight on.
    same = v.opportunities.update(
        w.agent_a, deal.key, expected_version=1, currency="INR", next_action="call back"
    )
    assert (same.version, same.currency) == (2, "INR")
    changed = release(
        v,
        w.by_role["operator"],
        lambda: v.opportunities.update(w.agent_a, deal.key, expected_version=2, currency="USD"),
    )
    assert (changed.currency, changed.value) == ("USD", Decimal("12000000.00"))


def test_an_interests_budget_currency_change_is_reviewed(world: World) -> None:
    v, w = world.velocity, world
    interest = v.property_interests.record(
        w.agent_a, person_id=w.client_a.key, budget_max=Decimal("9000000")
    )
    proposal = reviewed(
        lambda: v.property_interests.update(
            w.agent_a, interest.key, expected_version=1, currency="AED"
        )
    )
    assert _rules(v, w, proposal) == ["price_or_value"]
    (unchanged,) = v.property_interests.of_client(w.agent_a, w.client_a.key)
    assert unchanged.currency == "INR"


def test_a_units_currency_changes_by_no_direct_update(world: World) -> None:
    v, w = world.velocity, world
    project = v.inventory.create_project(w.admin, project_name="Skyline Towers", city="Pune")
    unit = v.inventory.add_unit(w.admin, project.key, unit_label="A-1", area_sqft=1250)
    with pytest.raises(ValidationFailed) as err:
        v.inventory.update_unit(w.admin, unit.key, expected_version=1, currency="USD")
    assert err.value.field == "currency"
    assert v.inventory.get_unit(w.admin, unit.key).currency == "INR"
