"""QD (``/api/crm/qd/{client_id}``): record signal points, keep the summary, read the history.

Recording a point (:meth:`QdService.record_point`, ``crm.qd.write``) appends
it to ``intel_qd_timeseries`` and, in the same transaction, recomputes the
person's summary for that score type (the ``intel_qd_scores`` row without an
interaction) with the scoring policy (:attr:`QdService.scoring`, by default
:class:`~velocity_domain.intel.qd.WeightedDecay`); the summary's
``evidence_refs_json`` names the points it rests on. A point passes the
writeback policy first, like every governed create: a rule may hold it for
review (``ApprovalRequired``), and the approved point is recorded, and the
summary recomputed, when the writeback executes.

Reading (:meth:`QdService.qd`, ``crm.qd.read``) answers, per score type, the
current value (the stored summary), the previous value (the score before the
newest point), the change over 7 and 30 days, the trend and the series, in a
fixed number of statements whatever the history: the person, the summaries,
and the newest :data:`HISTORY_LIMIT` points, newest first (the index on the
person's history serves it). Values before those points are not known to the
query: a comparison reaching past them is ``None`` (``QdView.truncated``
says the read was cut).

Both follow record visibility: a client one may not see is ``NotFound``, and
a merged person is ``MergedRecord`` naming the survivor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.crm.entities import Person
from velocity_domain.errors import MergedRecord, ValidationFailed
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.engine import Governance
from velocity_domain.governance.service import Service, serves
from velocity_domain.intel.entities import (
    Interaction,
    QdScore,
    QdScoreType,
    QdTimeseriesPoint,
    SignalSource,
)
from velocity_domain.intel.qd import (
    QD_MAX,
    QD_MIN,
    TREND_THRESHOLD,
    QdBucket,
    QdScoring,
    QdSeries,
    QdSignal,
    Trend,
    WeightedDecay,
    buckets,
    evidence_json,
    signal_of,
    signals_from_json,
    trend,
)
from velocity_domain.kernel.clock import Clock
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE
from velocity_domain.kernel.query import Eq, IsNull, Query
from velocity_domain.uow import UnitOfWork

__all__ = ["HISTORY_LIMIT", "QdRecorded", "QdService", "QdTypeView", "QdView"]

RECORD = register(
    "crm.qd.record", "crm.qd.write", "record a QD signal point and update the client's summary"
)
READ = register("crm.qd.read", "crm.qd.read", "a client's QD summary, changes, trend and series")

#: How many of a person's newest points the QD query reads (one statement).
HISTORY_LIMIT = MAX_PAGE_SIZE
_WEEK, _MONTH = timedelta(days=7), timedelta(days=30)


@attrs.frozen
class QdRecorded:
    """A recorded point and the summary it left (``None`` when no signal counts)."""

    point: QdTimeseriesPoint
    summary: QdScore | None


@attrs.frozen
class QdTypeView:
    """One score type of a client: where it stands, where it came from, and its series.

    ``points`` (raw series, newest first) or ``buckets`` (by day or week,
    newest first) is filled as the query asked; the other is empty.
    """

    score_type: QdScoreType
    current: Decimal | None
    computed_at: datetime | None
    previous: Decimal | None
    change_7d: Decimal | None
    change_30d: Decimal | None
    trend: Trend
    evidence: tuple[QdSignal, ...]
    points: tuple[QdTimeseriesPoint, ...] = ()
    buckets: tuple[QdBucket, ...] = ()


@attrs.frozen
class QdView:
    """A client's QD as of ``as_of``: one view per score type that has a score or points."""

    person_id: UUID
    as_of: datetime
    scores: Mapping[QdScoreType, QdTypeView]
    #: Whether the person has more points than the query read (:data:`HISTORY_LIMIT`).
    truncated: bool


class QdService(Service):
    """QD signal points, the summary they keep, and the QD query."""

    def __init__(
        self,
        unit_of_work: Callable[..., UnitOfWork],
        clock: Clock,
        governance: Governance | None = None,
        *,
        scoring: QdScoring | None = None,
        trend_threshold: Decimal = TREND_THRESHOLD,
    ) -> None:
        super().__init__(unit_of_work, clock, governance)
        #: The scoring policy; a host may set its own (any :class:`QdScoring`).
        self.scoring: QdScoring = scoring if scoring is not None else WeightedDecay()
        #: A 7-day change at most this large (either way) is a ``flat`` trend.
        self.trend_threshold = trend_threshold

    @serves(RECORD)
    def record_point(
        self,
        principal: Principal,
        person_id: UUID,
        *,
        score_type: QdScoreType | str,
        signal_source: SignalSource | str,
        value: Decimal | int | float,
        timestamp: datetime | None = None,
        interaction_id: UUID | None = None,
        evidence_ref: str | None = None,
    ) -> QdRecorded:
        """Record one QD point of a client (``value`` from 0 to 100) and update their summary.

        ``timestamp`` (default: now) may not be in the future; an
        ``interaction_id`` must name an interaction of the same person.
        """
        now = self.clock.now()

        def build(uow: UnitOfWork) -> QdTimeseriesPoint:
            visibility = self._visibility(uow, principal)
            visibility.get(Person, person_id, "person_id")
            if interaction_id is not None:
                interaction = visibility.referenced(Interaction, interaction_id, "interaction_id")
                if interaction.person_id != person_id:
                    raise ValidationFailed(
                        "interaction_id", "belongs to another person", value=interaction_id
                    )
            point = QdTimeseriesPoint(
                person_id=person_id,
                score_type=QdScoreType(score_type),
                signal_source=SignalSource(signal_source),
                timestamp=now if timestamp is None else timestamp,
                value=Decimal(repr(value) if isinstance(value, float) else value),
                interaction_id=interaction_id,
                evidence_ref=evidence_ref,
            )
            _check_point(point, now)
            return point

        return self._governed_create(principal, RECORD, build, insert=self._record)

    def _record(
        self, uow: UnitOfWork, principal: Principal, point: QdTimeseriesPoint
    ) -> QdRecorded:
        """Append ``point`` and recompute its summary, with the audit event (direct or approved)."""
        now = self.clock.now()
        _check_point(point, now)
        person = uow.crm.people.find(point.person_id)
        if person is None:
            raise ValidationFailed("person_id", "names no person", value=point.person_id)
        if person.merged_into_person_id is not None:
            raise MergedRecord(Person.table_name, person.key, person.merged_into_person_id)
        if point.interaction_id is not None:
            interaction = uow.intel.interactions.find(point.interaction_id)
            if interaction is None or interaction.person_id != point.person_id:
                raise ValidationFailed(
                    "interaction_id",
                    "names no interaction of this person",
                    value=point.interaction_id,
                )
        summary = _summary_of(uow, point.person_id, point.score_type)
        before = [] if summary is None else signals_from_json(summary.evidence_refs_json)
        result = self.scoring.score([*before, signal_of(point)], now)
        uow.intel.qd_timeseries.add(point)
        after = summary
        if result.value is not None:
            refs = evidence_json(result.evidence)
            if summary is None:
                after = QdScore(
                    person_id=point.person_id,
                    score_type=point.score_type,
                    current_value=result.value,
                    computed_at=now,
                    evidence_refs_json=refs,
                    created_at=now,
                    updated_at=now,
                )
                uow.intel.qd_scores.add(after)
            else:
                after = uow.intel.qd_scores.update(
                    attrs.evolve(
                        summary,
                        current_value=result.value,
                        computed_at=now,
                        evidence_refs_json=refs,
                        updated_at=now,
                    ),
                    expected_version=summary.version,
                )
        self._audit(
            uow,
            principal,
            RECORD.name,
            target_domain="intel",
            target_ref=point.key,
            after=point,
            details={
                "summary": None if after is None else str(after.key),
                "previous_value": None if summary is None else str(summary.current_value),
                "current_value": None if after is None else str(after.current_value),
            },
        )
        return QdRecorded(point, after)

    def _apply_record(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> QdTimeseriesPoint:
        """Apply an approved or let-through ``crm.qd.record``: the point, and its summary."""
        point = change.build()
        if not isinstance(point, QdTimeseriesPoint):  # pragma: no cover - a misrouted change
            raise TypeError(f"{change.operation} builds {type(point).__name__}")
        return self._record(uow, principal, point).point

    @serves(READ)
    def qd(
        self,
        principal: Principal,
        person_id: UUID,
        *,
        series: QdSeries | str | None = None,
        since: datetime | None = None,
    ) -> QdView:
        """A client's QD: per score type the current and previous value, changes, trend, series.

        ``series`` adds the points (``raw``, newest first) or their
        ``day``/``week`` buckets, from ``since`` on (default: all the query
        read); ``None`` leaves the series out.
        """
        now = self.clock.now()
        wanted = None if series is None else QdSeries(series)
        with self._reading(principal, READ) as uow:
            self._visibility(uow, principal).get(Person, person_id, "person_id")
            summaries = {
                s.score_type: s
                for s in uow.intel.qd_scores_of(person_id)
                if s.interaction_id is None
            }
            page = uow.intel.qd_history(person_id, limit=HISTORY_LIMIT)
        points = list(page.items)
        truncated = page.next_cursor is not None
        horizon = points[-1].timestamp if truncated and points else None
        views: dict[QdScoreType, QdTypeView] = {}
        for score_type in QdScoreType:
            own = [p for p in points if p.score_type is score_type]
            summary = summaries.get(score_type)
            if summary is None and not own:
                continue
            views[score_type] = self._view(
                score_type,
                summary=summary,
                points=own,
                now=now,
                horizon=horizon,
                series=wanted,
                since=since,
            )
        return QdView(person_id, now, views, truncated)

    def _view(
        self,
        score_type: QdScoreType,
        *,
        summary: QdScore | None,
        points: Sequence[QdTimeseriesPoint],
        now: datetime,
        horizon: datetime | None,
        series: QdSeries | None,
        since: datetime | None,
    ) -> QdTypeView:
        """One score type's view from its summary and its newest points (newest first)."""
        evidence = () if summary is None else tuple(signals_from_json(summary.evidence_refs_json))
        known = {s.timeseries_id: s for s in evidence}
        known.update((p.key, signal_of(p)) for p in points)
        signals = list(known.values())

        def as_of(at: datetime) -> Decimal | None:
            if horizon is not None and at < horizon:
                return None
            return self.scoring.score(signals, at).value

        current = summary.current_value if summary is not None else as_of(now)
        previous = None
        if points:
            newest = points[0]
            rest = [s for s in signals if s.timeseries_id != newest.key]
            previous = self.scoring.score(rest, newest.timestamp).value
        changes = [_minus(current, as_of(now - span)) for span in (_WEEK, _MONTH)]
        shown = [p for p in points if since is None or p.timestamp >= since]
        return QdTypeView(
            score_type=score_type,
            current=current,
            computed_at=None if summary is None else summary.computed_at,
            previous=previous,
            change_7d=changes[0],
            change_30d=changes[1],
            trend=trend(changes[0], self.trend_threshold),
            evidence=evidence,
            points=tuple(shown) if series is QdSeries.RAW else (),
            buckets=(
                tuple(buckets((signal_of(p) for p in shown), series))
                if series in (QdSeries.DAY, QdSeries.WEEK)
                else ()
            ),
        )


def _minus(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else a - b


def _check_point(point: QdTimeseriesPoint, now: datetime) -> None:
    """Refuse a value outside 0..100 or a point from the future."""
    if not QD_MIN <= point.value <= QD_MAX:
        raise ValidationFailed("value", f"must be from {QD_MIN} to {QD_MAX}", value=point.value)
    if point.timestamp > now:
        raise ValidationFailed("timestamp", "is in the future", value=point.timestamp)


def _summary_of(uow: UnitOfWork, person_id: UUID, score_type: QdScoreType) -> QdScore | None:
    """The person's summary of ``score_type`` (the row without an interaction), if any."""
    where = (Eq("person_id", person_id), Eq("score_type", score_type), IsNull("interaction_id"))
    found = uow.intel.qd_scores.list(Query(where, limit=1)).items
    return found[0] if found else None
