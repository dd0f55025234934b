from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel import Clock, FixedClock, SystemClock, ensure_utc


def test_system_clock_is_aware_utc_and_current() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)
    assert isinstance(SystemClock(), Clock)


def test_fixed_clock_stands_still_and_steps() -> None:
    clock = FixedClock(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    assert clock.now() == clock.now() == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert clock.advance(hours=1, minutes=30) == datetime(2026, 3, 1, 11, 30, tzinfo=UTC)
    assert clock.advance(timedelta(days=1)).day == 2
    assert clock.set(datetime(2027, 1, 1, tzinfo=UTC)).year == 2027


def test_fixed_clock_refuses_to_go_backwards() -> None:
    with pytest.raises(ValidationFailed) as err:
        FixedClock().advance(seconds=-1)
    assert err.value.field == "delta"


def test_ensure_utc_converts_other_offsets() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    value = ensure_utc(datetime(2026, 1, 1, 5, 30, tzinfo=ist), "happened_at")
    assert value == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert value.utcoffset() == timedelta(0)


@pytest.mark.parametrize("bad", [datetime(2026, 1, 1), "2026-01-01", 0])
def test_ensure_utc_refuses_naive_and_non_datetimes(bad: object) -> None:
    with pytest.raises(ValidationFailed) as err:
        ensure_utc(bad, "happened_at")  # type: ignore[arg-type]
    assert err.value.field == "happened_at"
