from __future__ import annotations

import itertools
import threading
import time
import uuid
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from velocity_domain.kernel import ids
from velocity_domain.kernel.ids import new_id, uuid7_time_ms


def test_ids_are_version_7_rfc_variant_and_carry_the_time() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= uuid7_time_ms(value) <= after + 1


# Tests that freeze the clock use a private source: the process-wide one must
# never see a fake future time, or later ids would carry it.


def test_many_ids_in_one_millisecond_are_strictly_increasing() -> None:
    source = ids._Uuid7Source()
    with mock.patch.object(ids.time, "time_ns", return_value=1_800_000_000_000_000_000):
        made = [source.next() for _ in range(10_000)]
    assert all(a < b for a, b in itertools.pairwise(made))
    assert len(set(made)) == len(made)


def test_order_survives_a_clock_that_steps_back() -> None:
    source = ids._Uuid7Source()
    with mock.patch.object(ids.time, "time_ns", return_value=1_900_000_000_000_000_000):
        first = source.next()
    with mock.patch.object(ids.time, "time_ns", return_value=1_899_000_000_000_000_000):
        second = source.next()
    assert second > first


def test_counter_overflow_borrows_the_next_millisecond() -> None:
    source = ids._Uuid7Source()
    with mock.patch.object(ids.time, "time_ns", return_value=2_000_000_000_000_000_000):
        first = source.next()
        source._last_tail = (1 << 74) - 1  # force the counter to its ceiling
        second = source.next()
    assert second > first
    assert uuid7_time_ms(second) == uuid7_time_ms(first) + 1


def test_ids_from_many_threads_are_unique_and_each_thread_sees_them_rise() -> None:
    results: list[list[uuid.UUID]] = [[] for _ in range(8)]

    def work(slot: list[uuid.UUID]) -> None:
        slot.extend(new_id() for _ in range(2_000))

    threads = [threading.Thread(target=work, args=(r,)) for r in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [u for r in results for u in r]
    assert len(set(every)) == len(every)
    for r in results:
        assert r == sorted(r)


@given(st.integers(min_value=0, max_value=(1 << 48) - 1))
def test_embedded_time_round_trips(ms: int) -> None:
    source = ids._Uuid7Source()
    with mock.patch.object(ids.time, "time_ns", return_value=ms * 1_000_000):
        value = source.next()
    assert uuid7_time_ms(value) == ms
    assert value.version == 7
