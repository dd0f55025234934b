"""Idempotency keys: claimed once, replayed to retries, refused for another request, expired.

Every test runs on both stores (``any_velocity``); the races use real threads,
on PostgreSQL with a connection each.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from velocity_domain import Principal, PrincipalKind, Velocity
from velocity_domain.errors import (
    IdempotencyConflict,
    IdempotencyInProgress,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from velocity_domain.identity.idempotency import IdempotencyKeys
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.services.identity.idempotency import (
    IdempotencyClaim,
    StoredResponse,
    owner_of,
)
from velocity_domain.testing import unit_of_work

WEB = Principal.system("web")
OTHER = Principal.system("web-2")
CREATED = StoredResponse(
    201,
    (("Location", "/api/crm/contacts/17"), ("X-Note", "café")),
    bytes(range(256)),
    "application/json",
)


def _race(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at once; each result or exception."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_a_claim_finished_is_replayed_byte_for_byte(
    any_velocity: tuple[Velocity, FixedClock],
) -> None:
    velocity, clock = any_velocity
    first = velocity.idempotency.begin(WEB, "order-17", "sha256:aa")
    assert first == IdempotencyClaim(claimed=True, replay=None)
    clock.advance(seconds=2)
    velocity.idempotency.finish(WEB, "order-17", CREATED)
    clock.advance(hours=3)
    again = velocity.idempotency.begin(WEB, "order-17", "sha256:aa")
    assert again.claimed is False
    assert again.replay == CREATED
    assert again.replay is not None
    assert again.replay.body == bytes(range(256))
    assert again.replay.headers == CREATED.headers


def test_the_same_key_for_another_request_is_refused(
    any_velocity: tuple[Velocity, FixedClock],
) -> None:
    velocity, _ = any_velocity
    velocity.idempotency.begin(WEB, "k-1", "sha256:aa")
    with pytest.raises(IdempotencyConflict) as pending:
        velocity.idempotency.begin(WEB, "k-1", "sha256:bb", wait=0)
    velocity.idempotency.finish(WEB, "k-1", CREATED)
    with pytest.raises(IdempotencyConflict) as done:
        velocity.idempotency.begin(WEB, "k-1", "sha256:bb")
    assert pending.value.key == done.value.key == "k-1"
    assert done.value.to_dict()["code"] == "idempotency_conflict"


@pytest.mark.parametrize(
    "key", ["", "x" * 256, "clé", "a\nb", "tab\there", "a\x00b", "\ud800", 7, None, b"key", ["k"]]
)
def test_a_bad_key_is_refused_naming_the_header(
    any_velocity: tuple[Velocity, FixedClock], key: object
) -> None:
    velocity, _ = any_velocity
    with pytest.raises(ValidationFailed) as err:
        velocity.idempotency.begin(WEB, key, "sha256:aa")
    assert err.value.field == "Idempotency-Key"


def test_the_longest_key_and_every_printable_character_are_taken(
    any_velocity: tuple[Velocity, FixedClock],
) -> None:
    velocity, _ = any_velocity
    printable = "".join(chr(c) for c in range(0x20, 0x7F))
    for key in ["k" * 255, printable, " "]:
        assert velocity.idempotency.begin(WEB, key, "f").claimed
        velocity.idempotency.finish(WEB, key, CREATED)
        assert velocity.idempotency.begin(WEB, key, "f").replay == CREATED


@pytest.mark.parametrize(
    ("fingerprint", "wait", "field"),
    [
        ("", 1.0, "fingerprint"),
        ("f" * 129, 1.0, "fingerprint"),
        ("a\x00b", 1.0, "fingerprint"),
        (None, 1.0, "fingerprint"),
        ("f", -1.0, "wait"),
        ("f", float("nan"), "wait"),
        ("f", float("inf"), "wait"),
        ("f", 301, "wait"),
        ("f", "5", "wait"),
        ("f", True, "wait"),
    ],
)
def test_bad_fingerprints_and_waits_are_refused_naming_them(
    any_velocity: tuple[Velocity, FixedClock], fingerprint: object, wait: object, field: str
) -> None:
    velocity, _ = any_velocity
    with pytest.raises(ValidationFailed) as err:
        velocity.idempotency.begin(WEB, "k", fingerprint, wait=wait)  # type: ignore[arg-type]
    assert err.value.field == field
    assert velocity.idempotency.begin(WEB, "k", "f", wait=5).claimed  # nothing was claimed


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: StoredResponse(99, (), b"", "text/plain"), "status"),
        (lambda: StoredResponse(True, (), b"", "text/plain"), "status"),
        (lambda: StoredResponse(200, (("X-A", "a\r\nSet-Cookie: x"),), b"", "t"), "headers[0]"),
        (lambda: StoredResponse(200, (("", "v"),), b"", "t"), "headers[0]"),
        (lambda: StoredResponse(200, (("X-A",),), b"", "t"), "headers[0]"),
        (lambda: StoredResponse(200, "X-A: 1", b"", "t"), "headers"),
        (lambda: StoredResponse(200, (), "text", "t"), "body"),
        (lambda: StoredResponse(200, (), b"", ""), "media_type"),
        (lambda: StoredResponse(200, (), b"", "a\x00b"), "media_type"),
    ],
)
def test_a_bad_stored_response_is_refused_naming_the_field(
    make: Callable[[], StoredResponse], field: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        make()
    assert err.value.field == field


def test_a_response_takes_lists_and_bytearrays() -> None:
    made = StoredResponse(200, [["X-A", "1"]], bytearray(b"ok"), "text/plain")  # type: ignore[arg-type]
    assert made == StoredResponse(200, (("X-A", "1"),), b"ok", "text/plain")


def test_two_principals_keys_never_collide(any_velocity: tuple[Velocity, FixedClock]) -> None:
    velocity, _ = any_velocity
    user = Principal(uuid.uuid4(), PrincipalKind.HUMAN, "asha", frozenset(), frozenset())
    assert owner_of(user) == str(user.user_id)
    assert owner_of(WEB) == "system:web"
    assert velocity.idempotency.begin(WEB, "same", "sha256:aa").claimed
    assert velocity.idempotency.begin(OTHER, "same", "sha256:bb").claimed
    assert velocity.idempotency.begin(user, "same", "sha256:cc").claimed
    velocity.idempotency.finish(OTHER, "same", CREATED)
    with pytest.raises(NotFound):  # another principal's claim is not one's own to finish
        velocity.idempotency.finish(Principal.system("web-3"), "same", CREATED)
    with pytest.raises(IdempotencyInProgress):
        velocity.idempotency.begin(WEB, "same", "sha256:aa", wait=0)
    assert velocity.idempotency.begin(OTHER, "same", "sha256:bb").replay == CREATED


def test_a_retry_waits_for_the_first_request_then_gives_up(
    any_velocity: tuple[Velocity, FixedClock],
) -> None:
    velocity, clock = any_velocity
    velocity.idempotency.begin(WEB, "slow", "f")
    clock.advance(seconds=59)  # within the lease: the first request is still trusted
    started = time.monotonic()
    with pytest.raises(IdempotencyInProgress) as err:
        velocity.idempotency.begin(WEB, "slow", "f", wait=0.3)
    assert time.monotonic() - started >= 0.3
    assert err.value.key == "slow"
    assert err.value.to_dict()["code"] == "idempotency_in_progress"
    assert "still in progress" in str(err.value)


def test_a_waiting_retry_gets_the_response_once_the_first_finishes(
    any_velocity: tuple[Velocity, FixedClock],
) -> None:
    velocity, _ = any_velocity
    velocity.idempotency.begin(WEB, "soon", "f")
    finisher = threading.Timer(0.3, velocity.idempotency.finish, (WEB, "soon", CREATED))
    finisher.start()
    try:
        assert velocity.idempotency.begin(WEB, "soon", "f", wait=10).replay == CREATED
    finally:
        finisher.join()


def test_a_lapsed_claim_is_taken_over_by_exactly_one_retry(
    any_velocity: tuple[Velocity, FixedClock],
) -> None:
    velocity, clock = any_velocity
    velocity.idempotency.begin(WEB, "died", "f")
    clock.advance(seconds=61)  # past the lease: the first request died
    results = _race(6, lambda _: velocity.idempotency.begin(WEB, "died", "f", wait=0.3))
    claims = [r for r in results if isinstance(r, IdempotencyClaim)]
    assert claims == [IdempotencyClaim(claimed=True)]
    assert all(isinstance(r, IdempotencyInProgress) for r in results if r not in claims)
    velocity.idempotency.finish(WEB, "died", CREATED)
    assert velocity.idempotency.begin(WEB, "died", "f").replay == CREATED


def test_a_key_past_the_retention_counts_as_absent(
    any_velocity: tuple[Velocity, FixedClock],
) -> None:
    velocity, clock = any_velocity
    velocity.idempotency.begin(WEB, "old", "sha256:aa")
    velocity.idempotency.finish(WEB, "old", CREATED)
    clock.advance(hours=23, minutes=59)
    assert velocity.idempotency.begin(WEB, "old", "sha256:aa").replay == CREATED
    clock.advance(minutes=2)
    results = _race(4, lambda _: velocity.idempotency.begin(WEB, "old", "sha256:bb", wait=0))
    assert results.count(IdempotencyClaim(claimed=True)) == 1
    assert all(isinstance(r, IdempotencyInProgress) for r in results if r != IdempotencyClaim(True))
    again = StoredResponse(200, (), b"second", "text/plain")
    velocity.idempotency.finish(WEB, "old", again)
    assert velocity.idempotency.begin(WEB, "old", "sha256:bb").replay == again


def test_an_abandoned_claim_lets_the_next_request_do_the_work(
    any_velocity: tuple[Velocity, FixedClock],
) -> None:
    velocity, _ = any_velocity
    velocity.idempotency.begin(WEB, "flaky", "f")
    velocity.idempotency.abandon(OTHER, "flaky")  # not theirs: nothing happens
    with pytest.raises(IdempotencyInProgress):
        velocity.idempotency.begin(WEB, "flaky", "f", wait=0)
    velocity.idempotency.abandon(WEB, "flaky")
    velocity.idempotency.abandon(WEB, "flaky")  # abandoning twice is harmless
    assert velocity.idempotency.begin(WEB, "flaky", "f").claimed
    velocity.idempotency.finish(WEB, "flaky", CREATED)
    velocity.idempotency.abandon(WEB, "flaky")  # a finished key keeps its response
    assert velocity.idempotency.begin(WEB, "flaky", "f").replay == CREATED


def test_finishing_needs_ones_own_pending_claim(
    any_velocity: tuple[Velocity, FixedClock],
) -> None:
    velocity, _ = any_velocity
    with pytest.raises(NotFound) as missing:
        velocity.idempotency.finish(WEB, "never-claimed", CREATED)
    assert missing.value.entity == "api_idempotency_keys"
    velocity.idempotency.begin(WEB, "once", "f")
    velocity.idempotency.finish(WEB, "once", CREATED)
    with pytest.raises(IdempotencyConflict):
        velocity.idempotency.finish(WEB, "once", StoredResponse(500, (), b"", "text/plain"))
    assert velocity.idempotency.begin(WEB, "once", "f").replay == CREATED
    with pytest.raises(ValidationFailed) as err:
        velocity.idempotency.finish(WEB, "bad\nkey", CREATED)
    assert err.value.field == "Idempotency-Key"


def test_purge_deletes_only_the_expired_keys_and_needs_manage(
    any_velocity: tuple[Velocity, FixedClock],
) -> None:
    velocity, clock = any_velocity
    velocity.idempotency.begin(WEB, "early", "f")
    velocity.idempotency.finish(WEB, "early", CREATED)
    velocity.idempotency.begin(OTHER, "pending-early", "f")
    clock.advance(hours=23)
    velocity.idempotency.begin(WEB, "late", "f")
    velocity.idempotency.finish(WEB, "late", CREATED)
    clock.advance(hours=2)
    with pytest.raises(PermissionDenied):
        velocity.idempotency.purge_expired(Principal.system("web", permissions=()))
    assert velocity.idempotency.purge_expired(WEB) == 2
    assert velocity.idempotency.purge_expired(WEB) == 0
    assert velocity.idempotency.begin(WEB, "late", "f").replay == CREATED
    with pytest.raises(NotFound):  # purged: nothing left to finish
        velocity.idempotency.finish(OTHER, "pending-early", CREATED)
    assert velocity.idempotency.begin(WEB, "early", "another request now").claimed
    events = velocity.audit.list(WEB, action="identity.idempotency.purge")
    assert sorted(e.details_json["purged"] for e in events) == [0, 2]


def test_a_claim_not_committed_is_rolled_back(any_velocity: tuple[Velocity, FixedClock]) -> None:
    velocity, clock = any_velocity
    with unit_of_work(velocity) as uow:
        keys = uow.extension(IdempotencyKeys)  # type: ignore[type-abstract]
        assert keys is not None
        assert keys.claim("system:web", "left", "f", clock.now())
        assert not keys.claim("system:web", "left", "f", clock.now())
        assert keys.release("system:web", "left")
    assert velocity.idempotency.begin(WEB, "left", "f").claimed
    with unit_of_work(velocity) as uow:
        keys = uow.extension(IdempotencyKeys)  # type: ignore[type-abstract]
        assert keys is not None
        assert keys.complete("system:web", "left", CREATED, clock.now())
        assert keys.purge(clock.now() + timedelta(seconds=1)) == 1
    with pytest.raises(IdempotencyInProgress):  # still pending: neither finished nor purged
        velocity.idempotency.begin(WEB, "left", "f", wait=0)


def test_eight_racing_requests_do_the_work_once_and_all_get_its_response(
    any_velocity: tuple[Velocity, FixedClock],
) -> None:
    velocity, _ = any_velocity
    done = StoredResponse(201, (("Location", "/x/1"),), b'{"id": 1}', "application/json")

    def request(_: int) -> tuple[bool, StoredResponse | None]:
        claim = velocity.idempotency.begin(WEB, "race", "sha256:aa", wait=20)
        if claim.claimed:
            time.sleep(0.3)  # the work
            velocity.idempotency.finish(WEB, "race", done)
            return True, done
        return False, claim.replay

    results = _race(8, request)
    assert sorted(results, key=lambda r: not r[0]) == [(True, done)] + [(False, done)] * 7
