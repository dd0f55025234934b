"""Clocks: where the library reads the time, so tests can hold it still.

Every timestamp the library writes comes from a :class:`Clock`. Production
uses :class:`SystemClock`; tests use :class:`FixedClock` and step it.

>>> clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
>>> clock.advance(minutes=5).isoformat()
'2026-01-01T00:05:00+00:00'
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from velocity_domain.errors import ValidationFailed

__all__ = ["Clock", "FixedClock", "SystemClock", "ensure_utc"]


@runtime_checkable
class Clock(Protocol):
    """Something that tells the current time as a timezone-aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current time (timezone-aware, UTC)."""
        ...


class SystemClock:
    """The machine's wall clock, in UTC."""

    def now(self) -> datetime:
        """Return ``datetime.now(UTC)``."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock that stands still until told to move; for tests and replays."""

    def __init__(self, at: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._now = ensure_utc(at or datetime(2026, 1, 1, 9, 0, tzinfo=UTC), "at")

    def now(self) -> datetime:
        """Return the time the clock stands at."""
        with self._lock:
            return self._now

    def set(self, at: datetime) -> datetime:
        """Move the clock to ``at`` (timezone-aware) and return it."""
        at = ensure_utc(at, "at")
        with self._lock:
            self._now = at
        return at

    def advance(
        self,
        delta: timedelta | None = None,
        *,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
    ) -> datetime:
        """Move the clock forward by ``delta`` and/or the given units; return the new time."""
        step = (delta or timedelta()) + timedelta(
            days=days, hours=hours, minutes=minutes, seconds=seconds
        )
        if step < timedelta(0):
            raise ValidationFailed("delta", "a clock only moves forward")
        with self._lock:
            self._now += step
            return self._now

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()})"


def ensure_utc(value: datetime, field: str) -> datetime:
    """Return ``value`` converted to UTC; refuse a naive datetime.

    >>> ensure_utc(datetime(2026, 1, 1, 5, 30), "happened_at")
    Traceback (most recent call last):
    ...
    velocity_domain.errors.ValidationFailed: happened_at: must be timezone-aware ...
    """
    if not isinstance(value, datetime):
        raise ValidationFailed(field, f"must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(
            field, "must be timezone-aware (naive datetimes are ambiguous); use tzinfo=UTC"
        )
    return value.astimezone(UTC)
