"""How QD signal points become a score: the pluggable scoring policy and its default.

A QD point is one observation of a person on one score type, from one signal
source, on the scale ``0`` to ``100`` (:data:`QD_MIN`, :data:`QD_MAX`). A
:class:`QdScoring` policy turns the points of one person and one score type
into the score and the points it rests on (its evidence). The policy is a
fold: when a point is recorded, it is given the evidence of the current
score plus the new point, so the evidence is the policy's whole memory (a
policy that wants more history keeps more points as evidence).

The default, :class:`WeightedDecay`, takes the latest point of each signal
source and averages their values, each weighted by its source's weight
times ``0.5 ** (age / half_life)``: a fresh signal outweighs a stale one,
and a source weighted ``0`` is ignored. Since every weight decays at the
same rate, time passing alone does not move the score; new points do.

>>> from datetime import UTC, datetime, timedelta
>>> from uuid import uuid4
>>> at = datetime(2026, 5, 1, tzinfo=UTC)
>>> call = QdSignal(uuid4(), SignalSource.CALL, at - timedelta(days=30), Decimal(80))
>>> chat = QdSignal(uuid4(), SignalSource.WHATSAPP, at, Decimal(40))
>>> result = WeightedDecay(half_life=timedelta(days=30)).score([call, chat], at)
>>> result.value  # (80 * 0.5 + 40 * 1) / 1.5
Decimal('53.33')
>>> [s.signal_source.value for s in result.evidence]
['call', 'whatsapp']
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol
from uuid import UUID

import attrs

from velocity_domain.errors import ValidationFailed
from velocity_domain.intel.entities import QdTimeseriesPoint, SignalSource

__all__ = [
    "DEFAULT_HALF_LIFE",
    "QD_MAX",
    "QD_MIN",
    "TREND_THRESHOLD",
    "QdBucket",
    "QdResult",
    "QdScoring",
    "QdSeries",
    "QdSignal",
    "Trend",
    "WeightedDecay",
    "buckets",
    "evidence_json",
    "signal_of",
    "signals_from_json",
    "trend",
]

#: The lowest and highest value of a QD point and of a score.
QD_MIN = Decimal(0)
QD_MAX = Decimal(100)
#: How long until a signal counts half as much as a fresh one, by default.
DEFAULT_HALF_LIFE = timedelta(days=30)
#: A change smaller than this (in points of the 0-100 scale) is a flat trend, by default.
TREND_THRESHOLD = Decimal(1)
_CENT = Decimal("0.01")


class Trend(enum.StrEnum):
    """Where a score is heading over the last seven days."""

    UP = "up"
    DOWN = "down"
    FLAT = "flat"


class QdSeries(enum.StrEnum):
    """How the QD query returns the series: raw points, or bucketed by day or week."""

    RAW = "raw"
    DAY = "day"
    WEEK = "week"


@attrs.frozen
class QdSignal:
    """What a scoring policy sees of one QD point."""

    timeseries_id: UUID
    signal_source: SignalSource
    timestamp: datetime
    value: Decimal


@attrs.frozen
class QdResult:
    """A score and the signals it rests on (``value`` is ``None`` when none count)."""

    value: Decimal | None
    evidence: tuple[QdSignal, ...]


class QdScoring(Protocol):
    """A scoring policy: the score of one person and score type at a time, from signals."""

    def score(self, signals: Sequence[QdSignal], at: datetime) -> QdResult:
        """Score ``signals`` (one person, one type; any order) as of ``at``.

        Signals later than ``at`` must not count. The evidence returned is
        all the policy is given next time, with the next point.
        """
        ...


def _weight(source: object, value: object) -> tuple[SignalSource, float]:
    try:
        key = SignalSource(str(source))
    except ValueError:
        raise ValidationFailed("weights", "names no signal source", value=source) from None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValidationFailed(f"weights.{key.value}", "must be a number", value=value)
    weight = float(value)
    if not 0 <= weight < float("inf"):
        raise ValidationFailed(f"weights.{key.value}", "must be 0 or more", value=value)
    return key, weight


def _weights(value: Mapping[Any, Any] | None) -> Mapping[SignalSource, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationFailed("weights", "must be a mapping of signal source to weight")
    return dict(_weight(source, weight) for source, weight in value.items())


def _default_weight(value: object) -> float:
    try:
        return _weight(SignalSource.MANUAL, value)[1]
    except ValidationFailed as err:
        raise ValidationFailed("default_weight", err.reason, value=value) from None


def _check_half_life(_: object, __: object, value: object) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationFailed("half_life", "must be a positive timedelta", value=value)


@attrs.frozen
class WeightedDecay:
    """The default policy: latest point per source, weighted, decayed by age (half-life).

    ``weights`` maps a signal source (or its value) to its weight; a source
    not named weighs ``default_weight``. A bad setting is ``ValidationFailed``
    naming it.
    """

    weights: Mapping[SignalSource, float] = attrs.field(factory=dict, converter=_weights)
    half_life: timedelta = attrs.field(default=DEFAULT_HALF_LIFE, validator=_check_half_life)
    default_weight: float = attrs.field(default=1.0, converter=_default_weight)

    def score(self, signals: Sequence[QdSignal], at: datetime) -> QdResult:
        """The weighted mean of the latest value per source, as of ``at``."""
        latest: dict[SignalSource, QdSignal] = {}
        for signal in signals:
            if signal.timestamp > at:
                continue
            held = latest.get(signal.signal_source)
            if held is None or (signal.timestamp, signal.timeseries_id) > (
                held.timestamp,
                held.timeseries_id,
            ):
                latest[signal.signal_source] = signal
        total = weighted = 0.0
        evidence: list[QdSignal] = []
        half_life = self.half_life.total_seconds()
        for source in sorted(latest):
            signal = latest[source]
            base = self.weights.get(source, self.default_weight)
            if base <= 0:
                continue
            age = max((at - signal.timestamp).total_seconds(), 0.0)
            weight = base * 0.5 ** (age / half_life)
            if weight <= 0:  # so old that the float underflows: it no longer counts
                continue
            total += weight
            weighted += weight * float(signal.value)
            evidence.append(signal)
        if not evidence:
            return QdResult(None, ())
        value = Decimal(repr(weighted / total)).quantize(_CENT, ROUND_HALF_EVEN)
        return QdResult(min(max(value, QD_MIN), QD_MAX), tuple(evidence))


def signal_of(point: QdTimeseriesPoint) -> QdSignal:
    """The signal a policy sees of ``point``."""
    return QdSignal(point.timeseries_id, point.signal_source, point.timestamp, point.value)


def evidence_json(evidence: Iterable[QdSignal]) -> list[dict[str, str]]:
    """The evidence of a score as stored in ``intel_qd_scores.evidence_refs_json``.

    Each entry names its point (``timeseries_id``) and keeps what the policy
    needs of it, so recording the next point reads no other point.
    """
    return [
        {
            "timeseries_id": str(s.timeseries_id),
            "signal_source": s.signal_source.value,
            "timestamp": s.timestamp.isoformat(),
            "value": str(s.value),
        }
        for s in evidence
    ]


def signals_from_json(refs: object) -> list[QdSignal]:
    """The signals :func:`evidence_json` stored; entries of another shape are skipped."""
    signals: list[QdSignal] = []
    if not isinstance(refs, list):
        return signals
    for ref in refs:
        try:
            signals.append(
                QdSignal(
                    UUID(ref["timeseries_id"]),
                    SignalSource(ref["signal_source"]),
                    datetime.fromisoformat(ref["timestamp"]),
                    Decimal(ref["value"]),
                )
            )
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue
    return signals


def trend(change: Decimal | None, threshold: Decimal = TREND_THRESHOLD) -> Trend:
    """``up`` when ``change`` exceeds ``threshold``, ``down`` below its negative, else ``flat``."""
    if change is None or abs(change) <= threshold:
        return Trend.FLAT
    return Trend.UP if change > 0 else Trend.DOWN


@attrs.frozen
class QdBucket:
    """The points of one day or week (UTC): when it starts, their mean, how many, the last one."""

    start: datetime
    mean: Decimal
    count: int
    last: Decimal


def _bucket_start(at: datetime, size: QdSeries) -> datetime:
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day if size is QdSeries.DAY else day - timedelta(days=day.weekday())


def buckets(signals: Iterable[QdSignal], size: QdSeries) -> list[QdBucket]:
    """Bucket ``signals`` by UTC day or ISO week (starting Monday), newest bucket first."""
    groups: dict[datetime, list[QdSignal]] = {}
    for signal in signals:
        groups.setdefault(_bucket_start(signal.timestamp, size), []).append(signal)
    result = []
    for start in sorted(groups, reverse=True):
        group = groups[start]
        mean = sum((s.value for s in group), Decimal(0)) / len(group)
        last = max(group, key=lambda s: (s.timestamp, s.timeseries_id))
        result.append(
            QdBucket(start, mean.quantize(_CENT, ROUND_HALF_EVEN), len(group), last.value)
        )
    return result
