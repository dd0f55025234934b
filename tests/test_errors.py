from __future__ import annotations

import inspect
import json
import uuid

import pytest

from velocity_domain import errors
from velocity_domain.errors import (
    AlreadyExists,
    ApprovalRequired,
    ClientError,
    ConcurrencyConflict,
    Conflict,
    IdempotencyConflict,
    IdempotencyInProgress,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Retryable,
    SerializationFailure,
    StorageUnavailable,
    ValidationFailed,
    VelocityError,
)

#: The family of every public error, written out here from the errors page.
FAMILIES: dict[str, str] = {
    "NotFound": "client",
    "ValidationFailed": "client",
    "InvalidCursor": "client",
    "UnreadableImport": "client",
    "PermissionDenied": "client",
    "AuthenticationFailed": "client",
    "ApprovalRefused": "client",
    "PolicyDenied": "client",
    "IdempotencyConflict": "client",
    "UnitOfWorkError": "client",
    "ConcurrencyConflict": "conflict",
    "ConstraintViolation": "conflict",
    "AlreadyExists": "conflict",
    "DuplicateSuspected": "conflict",
    "InvalidTransition": "conflict",
    "WritebackFailed": "conflict",
    "MergedRecord": "conflict",
    "UndoBlocked": "conflict",
    "IdempotencyInProgress": "conflict",
    "SerializationFailure": "retryable",
    "StorageUnavailable": "retryable",
    "ApprovalRequired": "none",
    "SchemaNotReady": "none",
    "NotConfigured": "none",
    "BlobTampered": "none",
}
_BASES = {"client": ClientError, "conflict": Conflict, "retryable": Retryable}


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
        (IdempotencyInProgress("k", 2.5), {"key": "k", "waited": 2.5}),
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


def test_every_error_belongs_to_its_one_family() -> None:
    bases = {"VelocityError", *(b.__name__ for b in _BASES.values())}
    assert set(FAMILIES) == set(errors.__all__) - bases
    for name, family in FAMILIES.items():
        cls = getattr(errors, name)
        found = [f for f, base in _BASES.items() if issubclass(cls, base)]
        assert found == ([] if family == "none" else [family]), name


def test_a_host_catches_a_family_in_one_clause() -> None:
    def outcome(error: VelocityError) -> str:
        try:
            raise error
        except ClientError:
            return "fix the input"
        except Conflict:
            return "reload and decide again"
        except Retryable:
            return "retry the call"

    assert outcome(NotFound("crm_people", 1)) == "fix the input"
    assert outcome(AlreadyExists("crm_people", "pk", {"person_id": 1})) == "reload and decide again"
    assert (
        outcome(InvalidTransition("unit status", "sold", "held", [])) == "reload and decide again"
    )
    assert outcome(SerializationFailure("deadlock")) == "retry the call"
    assert outcome(StorageUnavailable("gone")) == "retry the call"


def test_an_invalid_transition_may_say_why() -> None:
    err = InvalidTransition(
        "unit status", "held", "booked", ["available"], reason="held for another"
    )
    assert str(err) == (
        "unit status: cannot move from held to booked (held for another); allowed: available"
    )
    assert err.to_dict()["reason"] == "held for another"
