"""The one error hierarchy of velocity_domain.

Every error the library raises on purpose is a :class:`VelocityError`. Each
carries its facts as attributes (``err.field``, ``err.expected_version``, ...)
so a host can map it to an HTTP status or a retry without parsing messages,
and :meth:`VelocityError.to_dict` gives those facts as JSON-safe data.

>>> try:
...     raise ValidationFailed("primary_email", "is not an email address", value="nope")
... except VelocityError as err:
...     (err.field, err.reason, err.code)
('primary_email', 'is not an email address', 'validation_failed')

The errors come in three families a host can catch, each saying what to do:

* :class:`ClientError` -- the call itself is wrong (a bad value, an unknown
  or invisible record, a missing permission or credential): fix the input;
  the same call fails the same way every time.
* :class:`Conflict` -- the call is well formed but collides with the stored
  state (a stale version, a duplicate, a move the lifecycle does not allow):
  reload what changed and decide again.
* :class:`Retryable` -- the store failed for a passing reason: retry the
  same call. :class:`SerializationFailure` (a concurrent transaction won, a
  deadlock) and :class:`StorageUnavailable` (the connection was lost or could
  not be had) are its two members.

Four errors belong to none: :class:`ApprovalRequired` (the write was stored
as a proposal for review; nothing is wrong), :class:`SchemaNotReady` (the
database must be migrated), :class:`NotConfigured` (an extra is not
installed or a setting is missing) and :class:`BlobTampered` (stored evidence
no longer matches its hash); the last three are an operator's task, not the
caller's.

>>> isinstance(NotFound("crm_people", 1), ClientError)
True
>>> issubclass(InvalidTransition, Conflict), issubclass(StorageUnavailable, Retryable)
(True, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

__all__ = [
    "AlreadyExists",
    "ApprovalRefused",
    "ApprovalRequired",
    "AuthenticationFailed",
    "BlobTampered",
    "ClientError",
    "ConcurrencyConflict",
    "Conflict",
    "ConstraintViolation",
    "DuplicateSuspected",
    "IdempotencyConflict",
    "IdempotencyInProgress",
    "InvalidCursor",
    "InvalidTransition",
    "MergedRecord",
    "NotConfigured",
    "NotFound",
    "PermissionDenied",
    "PolicyDenied",
    "Retryable",
    "SchemaNotReady",
    "SerializationFailure",
    "StorageUnavailable",
    "UndoBlocked",
    "UnitOfWorkError",
    "UnreadableImport",
    "ValidationFailed",
    "VelocityError",
    "WritebackFailed",
]


def _safe(value: object) -> object:
    """Render an attribute value as JSON-safe data for :meth:`VelocityError.to_dict`."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_safe(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if hasattr(value, "value") and hasattr(value, "name"):  # an enum member
        return _safe(value.value)
    return str(value)


class VelocityError(Exception):
    """Base of every error raised by velocity_domain.

    ``code`` is a stable machine-readable name; ``details()`` the structured
    facts. Catch this to handle any library error in one place.
    """

    code: ClassVar[str] = "velocity_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, Any]:
        """Return the structured facts of this error (override in subclasses)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"code", "message", **details}`` as JSON-safe data."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        body.update({k: _safe(v) for k, v in self.details().items()})
        return body


class ClientError(VelocityError):
    """The call is wrong: a bad value, an unknown record, missing rights or credentials.

    Retrying the same call fails the same way; the caller must change it
    (HTTP 4xx: 400, 401, 403, 404, 422).
    """

    code = "client_error"


class Conflict(VelocityError):
    """The call collides with the stored state: a stale version, a duplicate, an illegal move.

    Reload the record (or read what changed), decide again and send a new
    call based on what is stored now (HTTP 409).
    """

    code = "conflict"


class Retryable(VelocityError):
    """The store failed for a passing reason; the same call may succeed when retried.

    The unit of work was rolled back, so retrying the whole call (with a
    short, growing pause) is safe, except when the connection was lost while
    committing: the commit may then have happened, which the message says
    (HTTP 503).
    """

    code = "retryable"


class NotFound(ClientError):
    """The record does not exist, or the caller may not know that it exists."""

    code = "not_found"

    def __init__(self, entity: str, key: object) -> None:
        super().__init__(f"{entity} {key} not found")
        self.entity = entity
        self.key = key

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {"entity": self.entity, "key": self.key}


class ValidationFailed(ClientError):
    """A value was refused; ``field`` names where and ``reason`` why.

    ``problems`` lists every ``(field, reason)`` found when several fields were
    checked at once; the first one is also ``field``/``reason``.
    """

    code = "validation_failed"

    def __init__(
        self,
        field: str,
        reason: str,
        *,
        value: object = None,
        entity: str | None = None,
        problems: Iterable[tuple[str, str]] = (),
    ) -> None:
        where = f"{entity}.{field}" if entity else field
        super().__init__(f"{where}: {reason}")
        self.field = field
        self.reason = reason
        self.value = value
        self.entity = entity
        self.problems: tuple[tuple[str, str], ...] = tuple(problems) or ((field, reason),)

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {
            "field": self.field,
            "reason": self.reason,
            "entity": self.entity,
            "problems": [{"field": f, "reason": r} for f, r in self.problems],
        }


class InvalidCursor(ValidationFailed):
    """A pagination cursor was tampered with, truncated, or made for another listing."""

    code = "invalid_cursor"

    def __init__(self, reason: str) -> None:
        super().__init__("cursor", reason)


class UnreadableImport(ValidationFailed):
    """An import file cannot be read at all: empty, binary, no header row, wrong encoding.

    ``field`` is ``"file"`` (or the option at fault, such as ``"encoding"``)
    and ``reason`` says what was found and what to do. A file that can be read
    but has bad rows is not refused: each bad row is kept with its reason.
    """

    code = "unreadable_import"

    def __init__(self, reason: str, *, field: str = "file", value: object = None) -> None:
        super().__init__(field, reason, value=value)


class InvalidTransition(Conflict):
    """A lifecycle was asked to move along an edge its transition table lacks.

    ``allowed`` lists the moves open from ``current`` now; ``reason`` says,
    when the table alone does not, why this move is not one of them (a unit
    held for another buyer).
    """

    code = "invalid_transition"

    def __init__(
        self,
        lifecycle: str,
        current: object,
        target: object,
        allowed: Iterable[object],
        *,
        reason: str | None = None,
    ) -> None:
        allowed_values = sorted(str(getattr(a, "value", a)) for a in allowed)
        cur = getattr(current, "value", current)
        tgt = getattr(target, "value", target)
        options = ", ".join(allowed_values) if allowed_values else "none (terminal state)"
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"{lifecycle}: cannot move from {cur!s} to {tgt!s}{why}; allowed: {options}"
        )
        self.lifecycle = lifecycle
        self.current = current
        self.target = target
        self.allowed: tuple[str, ...] = tuple(allowed_values)
        self.reason = reason

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {
            "lifecycle": self.lifecycle,
            "current": self.current,
            "target": self.target,
            "allowed": list(self.allowed),
            "reason": self.reason,
        }


class PermissionDenied(ClientError):
    """The principal lacks the permission the operation needs."""

    code = "permission_denied"

    def __init__(self, principal: object, permission: str, operation: str | None = None) -> None:
        what = f" for {operation}" if operation else ""
        super().__init__(f"principal {principal} lacks permission {permission!r}{what}")
        self.principal = principal
        self.permission = permission
        self.operation = operation

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {
            "principal": self.principal,
            "permission": self.permission,
            "operation": self.operation,
        }


class AuthenticationFailed(ClientError):
    """A token or credential was unknown, expired or revoked (deliberately not said which)."""

    code = "authentication_failed"

    def __init__(self) -> None:
        super().__init__("authentication failed")


class MergedRecord(Conflict):
    """The record was merged into another (its survivor); work with the survivor instead.

    A merged record is kept, never deleted, but it changes no more: reads
    answer with the survivor, and writes naming the merged record are
    refused with this error, which names the survivor.
    """

    code = "merged_record"

    def __init__(self, entity: str, key: object, survivor: object) -> None:
        super().__init__(f"{entity} {key} was merged into {survivor}; use that record instead")
        self.entity = entity
        self.key = key
        self.survivor = survivor

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {"entity": self.entity, "key": self.key, "survivor": self.survivor}


class UndoBlocked(Conflict):
    """An undo cannot restore things exactly: ``blockers`` names each later change in the way.

    Nothing was undone. Resolve what the blockers name (or leave the change
    in place) before asking again.
    """

    code = "undo_blocked"

    def __init__(self, what: str, blockers: Iterable[str]) -> None:
        self.blockers = tuple(blockers)
        shown = "; ".join(self.blockers[:10])
        more = f" (and {len(self.blockers) - 10} more)" if len(self.blockers) > 10 else ""
        super().__init__(f"{what} cannot be undone cleanly: {shown}{more}")
        self.what = what

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {"what": self.what, "blockers": list(self.blockers)}


class ConcurrencyConflict(Conflict):
    """An update was based on a version of the row that is no longer current."""

    code = "concurrency_conflict"

    def __init__(
        self, entity: str, key: object, expected_version: int, actual_version: int | None
    ) -> None:
        actual = "deleted" if actual_version is None else f"version {actual_version}"
        super().__init__(
            f"{entity} {key}: expected version {expected_version} but the stored row is {actual};"
            " reload it and apply the change again"
        )
        self.entity = entity
        self.key = key
        self.expected_version = expected_version
        self.actual_version = actual_version

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {
            "entity": self.entity,
            "key": self.key,
            "expected_version": self.expected_version,
            "actual_version": self.actual_version,
        }


class ConstraintViolation(Conflict):
    """A write broke a storage rule (a reference to a missing row, a check)."""

    code = "constraint_violation"

    def __init__(self, entity: str, constraint: str, reason: str) -> None:
        super().__init__(f"{entity}: {reason} (constraint {constraint})")
        self.entity = entity
        self.constraint = constraint
        self.reason = reason

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {"entity": self.entity, "constraint": self.constraint, "reason": self.reason}


class AlreadyExists(ConstraintViolation):
    """A write would duplicate a unique key (an id, or ``source_system`` + ``source_ref``)."""

    code = "already_exists"

    def __init__(self, entity: str, constraint: str, key: Mapping[str, object]) -> None:
        shown = ", ".join(f"{k}={v!s}" for k, v in key.items())
        super().__init__(entity, constraint, f"a row with {shown} already exists")
        self.key = dict(key)

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {**super().details(), "key": self.key}


class DuplicateSuspected(Conflict):
    """A new record looks like existing ones; ``existing_ids`` says which.

    ``rule`` and ``confidence`` name the strongest duplicate rule that
    matched (see ``velocity_domain.crm.duplicates``), when a rule decided.
    """

    code = "duplicate_suspected"

    def __init__(
        self,
        entity: str,
        existing_ids: Iterable[object],
        matched_on: str,
        *,
        count: int | None = None,
        rule: str | None = None,
        confidence: float | None = None,
    ) -> None:
        """``count`` records match; ``existing_ids`` are those the caller may see (maybe none).

        The message names no record, so that it may be shown or stored where
        others read it (a failed writeback's reason).
        """
        ids = tuple(existing_ids)
        total = len(ids) if count is None else count
        by_rule = "" if rule is None else f" by rule {rule} (confidence {confidence})"
        super().__init__(
            f"{entity} looks like {total} existing record(s) (same {matched_on}){by_rule};"
            " pass allow_duplicate=True to create it anyway"
        )
        self.entity = entity
        self.existing_ids = ids
        self.matched_on = matched_on
        self.count = total
        self.rule = rule
        self.confidence = confidence

    def details(self) -> dict[str, Any]:  # noqa: D102
        found: dict[str, Any] = {
            "entity": self.entity,
            "existing_ids": list(self.existing_ids),
            "matched_on": self.matched_on,
            "count": self.count,
        }
        if self.rule is not None:
            found |= {"rule": self.rule, "confidence": self.confidence}
        return found


class ApprovalRequired(VelocityError):
    """The write is high-risk: it was stored as a proposal that an operator must approve."""

    code = "approval_required"

    def __init__(self, proposal_id: object, reason: str, rule: str | None = None) -> None:
        super().__init__(f"approval required ({reason}); proposal {proposal_id} awaits review")
        self.proposal_id = proposal_id
        self.reason = reason
        self.rule = rule

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {"proposal_id": self.proposal_id, "reason": self.reason, "rule": self.rule}


class PolicyDenied(ClientError):
    """The writeback policy refuses the change outright (no approval can allow it)."""

    code = "policy_denied"

    def __init__(self, rule: str, reason: str, proposal_id: object | None = None) -> None:
        super().__init__(f"refused by policy rule {rule!r}: {reason}")
        self.rule = rule
        self.reason = reason
        self.proposal_id = proposal_id

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {"rule": self.rule, "reason": self.reason, "proposal_id": self.proposal_id}


class ApprovalRefused(ClientError):
    """This principal may not decide this proposal (four-eyes, agents, a second vote)."""

    code = "approval_refused"

    def __init__(self, proposal_id: object, principal: object, reason: str) -> None:
        super().__init__(f"{principal} may not decide proposal {proposal_id}: {reason}")
        self.proposal_id = proposal_id
        self.principal = principal
        self.reason = reason

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {"proposal_id": self.proposal_id, "principal": self.principal, "reason": self.reason}


class WritebackFailed(Conflict):
    """An approved writeback met a conflict when executed; it is now ``failed``, nothing applied."""

    code = "writeback_failed"

    def __init__(self, proposal_id: object, reason: str) -> None:
        super().__init__(f"writeback {proposal_id} failed and was not applied: {reason}")
        self.proposal_id = proposal_id
        self.reason = reason

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {"proposal_id": self.proposal_id, "reason": self.reason}


class IdempotencyConflict(ClientError):
    """An idempotency key was reused for a request that differs from the first one."""

    code = "idempotency_conflict"

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"idempotency key {key!r}: {reason}")
        self.key = key
        self.reason = reason

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {"key": self.key, "reason": self.reason}


class IdempotencyInProgress(Conflict):
    """The first request with this idempotency key is still being worked on.

    A retry waited ``waited`` seconds for it to finish, in vain. Try again
    later: once the first request finishes, the retry gets its response; if
    it died, its claim lapses after a lease and a retry does the work.
    """

    code = "idempotency_in_progress"

    def __init__(self, key: str, waited: float) -> None:
        super().__init__(
            f"idempotency key {key!r}: the first request with this key is still in progress"
            f" (waited {waited:g} s); retry later"
        )
        self.key = key
        self.waited = waited

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {"key": self.key, "waited": self.waited}


class UnitOfWorkError(ClientError):
    """A unit of work was misused: nested, reused after exit, or committed twice.

    Also raised for any use of a unit of work after one of its writes broke a
    storage rule: PostgreSQL aborts such a transaction, and the in-memory
    store does the same so that both behave alike.
    """

    code = "unit_of_work_error"

    @classmethod
    def after_failure(cls, failure: VelocityError) -> UnitOfWorkError:
        """Return the error for using a transaction after ``failure`` broke a storage rule."""
        return cls(
            f"an earlier write in this unit of work broke a storage rule ({failure});"
            " leave the block to roll it back and start a new unit of work"
        )


class SchemaNotReady(VelocityError):
    """The database has not been migrated to the schema this library needs."""

    code = "schema_not_ready"

    def __init__(self, reason: str, url_hint: str = "URL") -> None:
        super().__init__(
            f"{reason}; run `velocity-domain db upgrade --url {url_hint}` to create or update it"
        )
        self.reason = reason

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {"reason": self.reason}


class NotConfigured(VelocityError):
    """The host has not set up what this call needs: an installed extra or a setting.

    Raised when a store is opened: ``Velocity.from_url`` without the
    ``postgres`` extra installed, or without a cursor signing key. The
    message says the one thing to do.
    """

    code = "not_configured"

    def __init__(self, missing: str, remedy: str) -> None:
        super().__init__(f"{missing}: {remedy}")
        self.missing = missing
        self.remedy = remedy

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {"missing": self.missing, "remedy": self.remedy}


class BlobTampered(VelocityError):
    """A stored blob's bytes no longer match the SHA-256 they are filed under.

    Evidence is content-addressed: its address is the hash of its bytes, so
    bytes that hash (or measure) otherwise were altered or damaged where they
    are stored. No content is returned as the blob's. Neither the caller nor
    a retry can mend it: an operator restores the blob from a copy (putting
    the original bytes again heals a local store) and looks into how it
    changed, so it belongs to no family (HTTP 500).
    """

    code = "blob_tampered"

    def __init__(self, sha256: str, reason: str) -> None:
        super().__init__(f"blob {sha256} was altered in storage: {reason}")
        self.sha256 = sha256
        self.reason = reason

    def details(self) -> dict[str, Any]:  # noqa: D102
        return {"sha256": self.sha256, "reason": self.reason}


class StorageUnavailable(Retryable):
    """The connection to the store was lost, or none could be had in time; retry the call.

    Raised when the server cannot be reached, closes the connection (a
    restart, an administrator ending the session) or the connection pool
    has none free within its timeout. Retry after a pause; a connection
    lost while committing leaves the commit's outcome unknown, and the
    message says so.
    """

    code = "storage_unavailable"


class SerializationFailure(Retryable):
    """A concurrent transaction won (a serialization failure or a deadlock); retry the call.

    The store rolled this transaction back so that the other could go on;
    nothing of it was committed. Running the whole call again reads the
    data as it is now and usually succeeds.
    """

    code = "serialization_failure"
