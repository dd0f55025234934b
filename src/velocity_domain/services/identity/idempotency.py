"""Idempotency keys: a retried request gets the first response instead of doing the work twice.

A host's HTTP layer calls :meth:`IdempotencyService.begin` with a request's
``Idempotency-Key`` and a fingerprint of the request (its hash of method,
path and body) before doing the work:

- ``claimed=True``: the caller owns the key; it does the work, then calls
  :meth:`~IdempotencyService.finish` with the response (or
  :meth:`~IdempotencyService.abandon` when the work failed in a way a retry
  may mend);
- ``replay``: the key was finished for the same request; answer with it;
- :class:`~velocity_domain.errors.IdempotencyConflict`: the key was used for
  another request;
- :class:`~velocity_domain.errors.IdempotencyInProgress`: the first request
  is still working after ``wait`` seconds.

Keys are scoped per principal (a user's id, or ``system:<name>``). Each claim
commits in a unit of work of its own, so a concurrent retry sees it at once.
A pending claim older than the lease (60 s: its request died) may be
claimed again by exactly one caller; a key older than the retention (24 h)
counts as absent. Time comes from the service's clock; the wait is real time.

>>> from velocity_domain import Principal, Velocity
>>> velocity = Velocity.in_memory()
>>> office = Principal.system("front-office")
>>> velocity.idempotency.begin(office, "order-17", "sha256:ab12").claimed
True
>>> created = StoredResponse(201, (), b'{"id": 1}', "application/json")
>>> velocity.idempotency.finish(office, "order-17", created)
>>> velocity.idempotency.begin(office, "order-17", "sha256:ab12").replay.body
b'{"id": 1}'
>>> velocity.idempotency.begin(office, "order-17", "sha256:ffff")
Traceback (most recent call last):
...
velocity_domain.errors.IdempotencyConflict: idempotency key 'order-17': was first used for ...
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta

import attrs

from velocity_domain.access.operations import authorize, register
from velocity_domain.access.principal import Principal
from velocity_domain.errors import (
    IdempotencyConflict,
    IdempotencyInProgress,
    NotConfigured,
    NotFound,
    ValidationFailed,
)
from velocity_domain.governance.service import Service, serves
from velocity_domain.identity.idempotency import (
    IDEMPOTENCY_TABLE,
    IdempotencyKeys,
    IdempotencyRecord,
    IdempotencyState,
    StoredResponse,
)
from velocity_domain.services.identity.users import MANAGE
from velocity_domain.uow import UnitOfWork

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "KEY_FIELD",
    "MAX_WAIT",
    "IdempotencyClaim",
    "IdempotencyService",
    "StoredResponse",
    "idempotency_key",
    "owner_of",
]

#: How long a key is kept and answered with its response.
DEFAULT_RETENTION = timedelta(hours=24)
#: How long a pending claim is trusted to belong to a live request.
DEFAULT_LEASE = timedelta(seconds=60)
#: The longest ``wait`` a retry may ask for, in seconds.
MAX_WAIT = 300.0
#: The name errors give the key: the HTTP header it comes from.
KEY_FIELD = "Idempotency-Key"
#: The longest key and fingerprint taken.
MAX_KEY, MAX_FINGERPRINT = 255, 128
#: The pauses between two looks at a pending key: from the first, doubling up to the last.
FIRST_PAUSE, LAST_PAUSE = 0.025, 0.2

BEGIN = register(
    "identity.idempotency.begin", None, "claim an idempotency key, or get its first response"
)
FINISH = register(
    "identity.idempotency.finish", None, "store the response of one's claimed idempotency key"
)
ABANDON = register(
    "identity.idempotency.abandon", None, "give up one's claimed idempotency key for a retry"
)
PURGE = register(
    "identity.idempotency.purge", MANAGE, "delete idempotency keys older than the retention"
)


@attrs.frozen
class IdempotencyClaim:
    """What :meth:`IdempotencyService.begin` found: a claim to work on, or a response to replay."""

    #: The caller now owns the key: it must do the work, then ``finish`` or ``abandon``.
    claimed: bool
    #: The first response, when the key was already finished for the same request.
    replay: StoredResponse | None = None


_CLAIMED = IdempotencyClaim(claimed=True)


def idempotency_key(value: object) -> str:
    """``value`` if it is a usable key (1 to 255 printable ASCII characters), else refuse it.

    >>> idempotency_key("9f0c-17")
    '9f0c-17'
    >>> idempotency_key("")
    Traceback (most recent call last):
    ...
    velocity_domain.errors.ValidationFailed: Idempotency-Key: must not be empty
    """
    if not isinstance(value, str):
        raise ValidationFailed(KEY_FIELD, f"must be text, not {type(value).__name__}")
    if not value:
        raise ValidationFailed(KEY_FIELD, "must not be empty")
    if len(value) > MAX_KEY:
        raise ValidationFailed(KEY_FIELD, f"must be at most {MAX_KEY} characters, got {len(value)}")
    if not all(" " <= c <= "~" for c in value):
        raise ValidationFailed(KEY_FIELD, "must be printable ASCII characters only")
    return value


def owner_of(principal: Principal) -> str:
    """Whose keys ``principal``'s are: its user's id, or ``system:<name>`` for the host's work."""
    if principal.user_id is not None:
        return str(principal.user_id)
    return f"{principal.kind.value}:{principal.name}"


def _check_fingerprint(fingerprint: str) -> None:
    if not fingerprint or len(fingerprint) > MAX_FINGERPRINT:
        raise ValidationFailed(
            "fingerprint", f"must be 1 to {MAX_FINGERPRINT} characters, got {len(fingerprint)}"
        )


def _check_wait(wait: float) -> float:
    if not math.isfinite(wait) or not 0 <= wait <= MAX_WAIT:
        raise ValidationFailed("wait", f"must be between 0 and {MAX_WAIT:g} seconds, got {wait}")
    return float(wait)


def _keys(uow: UnitOfWork) -> IdempotencyKeys:
    keys: IdempotencyKeys | None = uow.extension(IdempotencyKeys)  # type: ignore[type-abstract]
    if keys is None:  # pragma: no cover - both stores of the library keep them
        raise NotConfigured(
            "this store keeps no idempotency keys", "use the in-memory or the PostgreSQL store"
        )
    return keys


class IdempotencyService(Service):
    """Claim, finish, abandon and purge the idempotency keys behind HTTP ``Idempotency-Key``."""

    #: How long a key is kept and answered with its response.
    retention: timedelta = DEFAULT_RETENTION
    #: How long a pending claim is trusted to belong to a live request.
    lease: timedelta = DEFAULT_LEASE

    @serves(BEGIN)
    def begin(
        self, principal: Principal, key: object, fingerprint: str, *, wait: float | int = 10.0
    ) -> IdempotencyClaim:
        """Claim ``key`` for the request ``fingerprint``, or return the response it first got.

        Raises ``IdempotencyConflict`` if the key was first used with another
        fingerprint, and ``IdempotencyInProgress`` if the first request is
        still at work after ``wait`` seconds (0 to ``MAX_WAIT``) of looking
        again, with pauses growing from 25 ms to 200 ms. A bad key is
        ``ValidationFailed`` naming ``Idempotency-Key``.
        """
        authorize(principal, BEGIN)
        checked = idempotency_key(key)
        _check_fingerprint(fingerprint)
        waiting = _check_wait(wait)
        owner = owner_of(principal)
        deadline = time.monotonic() + waiting
        pause = FIRST_PAUSE
        while True:
            outcome = self._attempt(owner, checked, fingerprint)
            if outcome is not None:
                return outcome
            left = deadline - time.monotonic()
            if left <= 0:
                raise IdempotencyInProgress(checked, waiting)
            time.sleep(min(pause, left))
            pause = min(pause * 2, LAST_PAUSE)

    def _attempt(self, owner: str, key: str, fingerprint: str) -> IdempotencyClaim | None:
        """One look at the key, in a committed unit of work; ``None``: another request holds it."""
        now = self.clock.now()
        with self._unit_of_work() as uow:
            keys = _keys(uow)
            record: IdempotencyRecord | None = None
            for _ in range(2):  # a key deleted between the claim and the read: claim again
                if keys.claim(owner, key, fingerprint, now):
                    uow.commit()
                    return _CLAIMED
                record = keys.find(owner, key)
                if record is not None:
                    break
            if record is None:
                return None
            outcome = self._judge(keys, record, fingerprint, now)
            uow.commit()
        return outcome

    def _judge(
        self, keys: IdempotencyKeys, record: IdempotencyRecord, fingerprint: str, now: datetime
    ) -> IdempotencyClaim | None:
        """What a key found taken means for this request (re-claiming it if it lapsed)."""
        owner, key = record.owner, record.key
        expired = now - self.retention
        if record.claimed_at < expired:
            taken = keys.reclaim(
                owner, key, fingerprint, now, claimed_before=expired, pending_only=False
            )
            return _CLAIMED if taken else None
        if record.fingerprint != fingerprint:
            raise IdempotencyConflict(
                key, "was first used for another request (method, path or body differ)"
            )
        if record.state is IdempotencyState.DONE:
            return IdempotencyClaim(claimed=False, replay=record.response)
        lapsed = now - self.lease
        if record.claimed_at < lapsed:
            taken = keys.reclaim(
                owner, key, fingerprint, now, claimed_before=lapsed, pending_only=True
            )
            return _CLAIMED if taken else None
        return None

    @serves(FINISH)
    def finish(self, principal: Principal, key: str, response: StoredResponse) -> None:
        """Store ``response`` on the caller's pending claim of ``key``; retries now replay it.

        ``NotFound`` if the caller holds no such key (another principal's key
        is not theirs to finish); ``IdempotencyConflict`` if it is finished already.
        """
        authorize(principal, FINISH)
        checked = idempotency_key(key)
        owner = owner_of(principal)
        with self._unit_of_work() as uow:
            keys = _keys(uow)
            if keys.complete(owner, checked, response, self.clock.now()):
                uow.commit()
                return
            record = keys.find(owner, checked)
        if record is None:
            raise NotFound(IDEMPOTENCY_TABLE, checked)
        raise IdempotencyConflict(checked, "is finished already; its response cannot change")

    @serves(ABANDON)
    def abandon(self, principal: Principal, key: str) -> None:
        """Give up the caller's pending claim of ``key`` (its work failed): a retry does the work.

        A key that is not pending (finished, or never claimed) is left as it is.
        """
        authorize(principal, ABANDON)
        checked = idempotency_key(key)
        owner = owner_of(principal)
        with self._unit_of_work() as uow:
            if _keys(uow).release(owner, checked):
                uow.commit()

    @serves(PURGE)
    def purge_expired(self, principal: Principal) -> int:
        """Delete every key (of every owner) older than the retention; return how many went.

        Needs ``identity.users.manage`` (a system principal has it); audited.
        """
        now = self.clock.now()
        with self._begin(principal, PURGE) as uow:
            purged = _keys(uow).purge(now - self.retention)
            self._audit(
                uow,
                principal,
                PURGE.name,
                target_domain="identity",
                target_ref=IDEMPOTENCY_TABLE,
                details={"purged": purged, "claimed_before": (now - self.retention).isoformat()},
            )
            uow.commit()
        return purged
