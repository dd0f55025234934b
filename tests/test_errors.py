from __future__ import annotations

import inspect
import json
import uuid

import pytest

from velocity_domain import errors
from velocity_domain.errors import (
    AlreadyExists,
    ApprovalRequired,
    ConcurrencyConflict,
    IdempotencyConflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    VelocityError,
)


def test_every_public_error_is_a_velocity_error_with_its_own_code() -> None:
    classes = [obj for name in errors.__all__ if inspect.isclass(obj := getattr(errors, name))]
    assert all(issubclass(c, VelocityError) for c in classes)
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(
    ("error", "facts"),
    [
        (NotFound("crm_people", "p1"), {"entity": "crm_people", "key": "p1"}),
        (
            ValidationFailed("probability", "must be between 0 and 1", entity="crm_opportunities"),
            {"field": "probability", "entity": "crm_opportunities"},
        ),
        (
            ConcurrencyConflict("crm_leads", "l1", expected_version=2, actual_version=3),
            {"expected_version": 2, "actual_version": 3},
        ),
        (
            PermissionDenied("user:1", "crm.contacts.write"),
            {"permission": "crm.contacts.write"},
        ),
        (ApprovalRequired("w1", "stage move to won"), {"proposal_id": "w1"}),
        (IdempotencyConflict("k", "payload differs"), {"key": "k"}),
        (
            AlreadyExists(
                "crm_people", "uq_people_source", {"source_system": "a", "source_ref": "1"}
            ),
            {"key": {"source_system": "a", "source_ref": "1"}},
        ),
        (InvalidTransition("writeback", "executed", "draft", []), {"allowed": []}),
    ],
)
def test_errors_carry_structured_json_safe_facts(
    error: VelocityError, facts: dict[str, object]
) -> None:
    body = error.to_dict()
    json.dumps(body)
    assert body["code"] == error.code
    assert body["message"] == str(error)
    for key, value in facts.items():
        assert body[key] == value


def test_uuid_and_set_facts_are_rendered_as_text() -> None:
    key = uuid.uuid4()
    assert NotFound("crm_people", key).to_dict()["key"] == str(key)


def test_validation_failed_lists_several_problems() -> None:
    err = ValidationFailed("a", "bad", problems=[("a", "bad"), ("b", "worse")])
    assert err.problems == (("a", "bad"), ("b", "worse"))
    assert err.to_dict()["problems"][1] == {"field": "b", "reason": "worse"}
