"""The writeback policy never raises KeyError or ValueError: every bad input is ValidationFailed.

Bad rule configuration (names, outcomes, thresholds), rules that cannot
judge a change (a field missing, of another type), odd changes (unknown
operations and tables, values of any JSON type) and bad arguments each give
``ValidationFailed`` naming the field; a property test feeds the default
rules random changes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from velocity_domain.access.principal import Principal, PrincipalKind
from velocity_domain.errors import ValidationFailed, VelocityError
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.policy import FieldRule, Policy, Verdict, bulk_rule
from velocity_domain.workflow.entities import PolicyOutcome, RiskLevel

HOST = Principal.system("host")
AGENT = Principal(UUID(int=9), PrincipalKind.AGENT, "bot", frozenset(), frozenset())


def _change(**overrides: Any) -> ProposedChange:
    values: dict[str, Any] = {
        "operation": "crm.opportunities.update",
        "target_table": "crm_opportunities",
        "change_kind": "update",
        "target_ref": UUID(int=1),
        "base_version": 1,
        "fields": {"next_action": "call back"},
        "current": {"next_action": None},
    }
    return ProposedChange(**{**values, **overrides})


def _never(change: ProposedChange, proposer: Principal) -> str | None:
    return None


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Policy(rules=5), "rules"),  # type: ignore[arg-type]
        (lambda: Policy().add(FieldRule("merge", _never)), "rule"),
        (lambda: Policy().add(object()), "rule"),  # type: ignore[arg-type]
        (lambda: Policy().replace(FieldRule("no_such_rule", _never)), "rule"),
        (lambda: Policy().remove("no_such_rule"), "name"),
        (lambda: Policy().remove(7), "name"),  # type: ignore[arg-type]
        (lambda: FieldRule("", _never), "name"),
        (lambda: FieldRule("x", "not callable"), "test"),  # type: ignore[arg-type]
        (lambda: FieldRule("x", _never, outcome="maybe"), "outcome"),
        (lambda: FieldRule("x", _never, risk="extreme"), "risk"),
        (lambda: FieldRule("x", _never, required_approvals=0), "required_approvals"),
        (lambda: FieldRule("x", _never, required_approvals="two"), "required_approvals"),
        (lambda: Verdict("maybe", RiskLevel.LOW, "r", "why"), "outcome"),
        (lambda: Verdict(PolicyOutcome.DENY, RiskLevel.LOW, "r", "why", 0), "required_approvals"),
        (lambda: Verdict(PolicyOutcome.DENY, RiskLevel.LOW, "", "why"), "rule"),
        (lambda: bulk_rule(0), "threshold"),
        (lambda: bulk_rule("25"), "threshold"),  # type: ignore[arg-type]
        (lambda: bulk_rule(True), "threshold"),
        (lambda: _change(change_kind="rename"), "change_kind"),
        (lambda: _change(bulk_size=0), "bulk_size"),
        (lambda: _change(fields=["stage"]), "fields"),
        (lambda: Policy().classify("a change", HOST), "change"),  # type: ignore[arg-type]
        (lambda: Policy().classify(_change(), "me"), "proposer"),  # type: ignore[arg-type]
        (lambda: Policy().classify(_change(target_table="nonsense"), AGENT), "target_table"),
    ],
)
def test_bad_configuration_and_arguments_name_the_field(build: Any, field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        build()
    assert err.value.field == field


def test_a_rule_that_cannot_judge_a_change_is_named() -> None:
    policy = Policy()
    policy.add(FieldRule("big_deals", lambda c, p: "big" if c.fields["value"] > 10 else None))
    with pytest.raises(ValidationFailed) as err:
        policy.classify(_change(), HOST)  # no value among the fields
    assert err.value.field == "value"
    assert "big_deals" in err.value.reason
    policy.replace(FieldRule("big_deals", lambda c, p: str(Decimal(c.fields["next_action"]))))
    with pytest.raises(ValidationFailed) as err:
        policy.classify(_change(), HOST)  # Decimal("call back")
    assert err.value.field == "change"
    policy.replace(FieldRule("big_deals", lambda c, p: c.fields["next_action"] > 10))
    with pytest.raises(ValidationFailed):
        policy.classify(_change(), HOST)  # str > int


def test_a_rule_returning_something_else_than_a_verdict_is_refused() -> None:
    class Sloppy:
        name = "sloppy"

        def __call__(self, change: ProposedChange, proposer: Principal) -> Any:
            return "approve"

    policy = Policy([Sloppy()])
    with pytest.raises(ValidationFailed) as err:
        policy.classify(_change(), HOST)
    assert (err.value.field, "sloppy" in err.value.reason) == ("rule", True)


def test_the_bulk_threshold_is_configurable() -> None:
    policy = Policy()
    policy.replace(bulk_rule(2))
    assert policy.classify(_change(bulk_size=3), HOST).rule == "bulk"
    assert policy.classify(_change(bulk_size=2), HOST).rule == "default"


def test_unknown_operations_and_odd_values_get_a_verdict() -> None:
    policy = Policy()
    odd = _change(operation="no.such.operation", fields={"stage": ["won"]}, current={})
    assert policy.classify(odd, HOST).outcome is PolicyOutcome.AUTO_APPROVE
    assert policy.classify(odd, AGENT).outcome is PolicyOutcome.REVIEW_REQUIRED


SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6)
)
JSON = (
    SCALARS
    | st.lists(SCALARS, max_size=3)
    | st.dictionaries(st.text(max_size=4), SCALARS, max_size=2)
)
TABLES = ["crm_people", "crm_opportunities", "inventory_units", "core_users", "intel_reminders"]
NAMES = ["stage", "value", "price_current", "assigned_user_id", "full_name", "currency", "x"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table=st.sampled_from(TABLES),
    kind=st.sampled_from(["create", "update", "merge", "delete"]),
    fields=st.dictionaries(st.sampled_from(NAMES), JSON, max_size=4),
    current=st.dictionaries(st.sampled_from(NAMES), JSON, max_size=4),
    bulk=st.integers(min_value=1, max_value=100),
    agent=st.booleans(),
)
def test_the_default_rules_judge_any_change_without_a_python_error(
    table: str, kind: str, fields: dict[str, Any], current: dict[str, Any], bulk: int, agent: bool
) -> None:
    change = _change(
        target_table=table, change_kind=kind, fields=fields, current=current, bulk_size=bulk
    )
    try:
        verdict = Policy().classify(change, AGENT if agent else HOST)
    except VelocityError:
        return
    assert isinstance(verdict, Verdict)
