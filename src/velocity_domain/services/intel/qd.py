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
person's history serves it); one statement on PostgreSQL (its
:class:`~velocity_domain.intel.ports.QdReader`). Values before those points are not known to the
query: a comparison reaching past them is ``None`` (``QdView.truncated``
says the read was cut).

Both follow record visibility: a client one may not see is ``NotFound``, and
a merged person is ``MergedRecord`` naming the survivor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.access.visibility import Visibility
from velocity_domain.crm.entities import Person
from velocity_domain.errors import (
    ConcurrencyConflict,
    MergedRecord,
    NotFound,
    PolicyDenied,
    ValidationFailed,
)
from velocity_domain.governance import engine
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.engine import Governance
from velocity_domain.governance.service import Service, argument_checks, serves
from velocity_domain.intel.entities import (
    Interaction,
    QdScore,
    QdScoreType,
    QdTimeseriesPoint,
    SignalSource,
)
from velocity_domain.intel.ports import ClientQd, QdReader
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
from velocity_domain.kernel.arguments import ArgumentChecks
from velocity_domain.kernel.clock import Clock
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE
from velocity_domain.kernel.query import Eq, Filter, IsNull, Query, desc
from velocity_domain.services.crm.contacts import RowRefused
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import PolicyOutcome

__all__ = [
    "HISTORY_LIMIT",
    "MAX_BATCH",
    "QdBatch",
    "QdRecorded",
    "QdService",
    "QdTypeView",
    "QdView",
]

RECORD = register(
    "crm.qd.record", "crm.qd.write", "record a QD signal point and update the client's summary"
)
RECORD_MANY = register(
    "crm.qd.record_many", "crm.qd.write", "record many QD signal points in one call"
)
READ = register("crm.qd.read", "crm.qd.read", "a client's QD summary, changes, trend and series")

#: How many of a person's newest points the QD query reads (one statement).
HISTORY_LIMIT = MAX_PAGE_SIZE
#: The most points one ``record_points`` call takes.
MAX_BATCH = 500
#: The keys a row of ``record_points`` may hold: the arguments of ``record_point``.
_ROW_FIELDS = (
    "person_id",
    "score_type",
    "signal_source",
    "value",
    "timestamp",
    "interaction_id",
    "evidence_ref",
)
_REQUIRED = ("person_id", "score_type", "signal_source", "value")
_WEEK, _MONTH = timedelta(days=7), timedelta(days=30)


@attrs.frozen
class QdBatch:
    """What ``record_points`` did with each row: recorded, sent to review, or refused.

    ``summaries`` are the summaries the recorded points left, one per client
    and score type.
    """

    recorded: tuple[QdTimeseriesPoint, ...]
    summaries: tuple[QdScore, ...]
    #: ``(row index, writeback id)`` of the rows the policy sent to review.
    proposed: tuple[tuple[int, UUID], ...]
    refused: tuple[RowRefused, ...]


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
        uow.intel.qd_timeseries.add(point)
        after = self._rescored(summary, point.person_id, point.score_type, [point], now)
        if after is not None and summary is None:
            uow.intel.qd_scores.add(after)
        elif after is not None and summary is not None:
            after = uow.intel.qd_scores.update(after, expected_version=summary.version)
        else:
            after = summary
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

    def _rescored(
        self,
        summary: QdScore | None,
        person_id: UUID,
        score_type: QdScoreType,
        points: Sequence[QdTimeseriesPoint],
        now: datetime,
    ) -> QdScore | None:
        """The summary after ``points`` (new, or ``summary`` changed); ``None``: none to write."""
        before = [] if summary is None else signals_from_json(summary.evidence_refs_json)
        result = self.scoring.score([*before, *(signal_of(p) for p in points)], now)
        if result.value is None:
            return None
        values: dict[str, Any] = {
            "current_value": result.value,
            "computed_at": now,
            "evidence_refs_json": evidence_json(result.evidence),
            "updated_at": now,
        }
        if summary is not None:
            return attrs.evolve(summary, **values)
        return QdScore(person_id=person_id, score_type=score_type, created_at=now, **values)

    def _apply_record(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> QdTimeseriesPoint:
        """Apply an approved or let-through ``crm.qd.record``: the point, and its summary."""
        point = change.build()
        if not isinstance(point, QdTimeseriesPoint):  # pragma: no cover - a misrouted change
            raise TypeError(f"{change.operation} builds {type(point).__name__}")
        return self._record(uow, principal, point).point

    @serves(RECORD_MANY)
    def record_points(self, principal: Principal, rows: Iterable[Any]) -> QdBatch:
        """Record up to ``MAX_BATCH`` points in one transaction; each row is judged on its own.

        A row is a mapping of ``record_point``'s arguments (``person_id``,
        ``score_type``, ``signal_source`` and ``value`` required), each
        checked as ``record_point`` checks it. A row with a bad value, a
        client one may not see (or merged), an interaction of another
        client, or a policy denial is refused with its index, field and
        reason, and the good rows are recorded; a row the policy sends to
        review is stored as a proposal. Each client's summary of each score
        type is recomputed once, from all its new points. The cost is a fixed
        handful of statements whatever the batch size.
        """
        batch = _rows_arg(rows)
        now = self.clock.now()
        refused: list[RowRefused] = []
        proposed: list[tuple[int, UUID]] = []
        with self._begin(principal, RECORD_MANY) as uow:
            candidates = self._batch_points(uow, principal, batch, now, refused)
            recorded: list[QdTimeseriesPoint] = []
            for index, point in candidates:
                verdict = self.governance.verdict(self._create_change(RECORD, point), principal)
                if verdict.outcome is PolicyOutcome.AUTO_APPROVE:
                    recorded.append(point)
                elif verdict.outcome is PolicyOutcome.DENY:
                    why = f"denied by policy rule {verdict.rule}: {verdict.reason}"
                    refused.append(RowRefused(index, "row", why, PolicyDenied.code))
                else:
                    change = self._create_change(RECORD, point)
                    draft = engine.store(uow, self.clock, principal, change)
                    engine.classify(uow, self.clock, principal, draft, verdict)
                    proposed.append((index, draft.key))
            summaries = self._write_batch(uow, principal, recorded, now)
            uow.commit()
        refused.sort(key=lambda r: r.index)
        return QdBatch(tuple(recorded), summaries, tuple(proposed), tuple(refused))

    def _batch_points(
        self,
        uow: UnitOfWork,
        principal: Principal,
        batch: list[Any],
        now: datetime,
        refused: list[RowRefused],
    ) -> list[tuple[int, QdTimeseriesPoint]]:
        """The rows of a batch as points, refusing (into ``refused``) the bad ones."""
        checks = argument_checks(type(self).record_point)
        points: list[tuple[int, QdTimeseriesPoint]] = []
        for index, row in enumerate(batch):
            try:
                points.append((index, _row_point(row, checks, now)))
            except ValidationFailed as err:
                refused.append(RowRefused(index, err.field, err.reason, err.code))
        visibility = self._visibility(uow, principal)
        people = uow.crm.people.get_many({p.person_id for _, p in points})
        seen = visibility.visible(people.keys())
        linked = {p.interaction_id for _, p in points if p.interaction_id is not None}
        interactions = uow.intel.interactions.get_many(linked) if linked else {}
        good: list[tuple[int, QdTimeseriesPoint]] = []
        for index, point in points:
            person = people.get(point.person_id)
            problem: tuple[str, str, str] | None = None
            if person is None or person.key not in seen:
                problem = ("person_id", "names no person", NotFound.code)
            elif person.merged_into_person_id is not None:
                survivor = person.merged_into_person_id
                problem = (
                    ("person_id", f"was merged into {survivor}", MergedRecord.code)
                    if visibility.can_see(survivor)
                    else ("person_id", "names no person", NotFound.code)
                )
            elif point.interaction_id is not None:
                interaction = interactions.get(point.interaction_id)
                if interaction is None or interaction.person_id != point.person_id:
                    why = "names no interaction of this person"
                    problem = ("interaction_id", why, ValidationFailed.code)
            if problem is None:
                good.append((index, point))
            else:
                refused.append(RowRefused(index, *problem))
        return good

    def _write_batch(
        self,
        uow: UnitOfWork,
        principal: Principal,
        points: list[QdTimeseriesPoint],
        now: datetime,
    ) -> tuple[QdScore, ...]:
        """Add ``points``, each audited, and write each touched summary once."""
        if not points:
            return ()
        uow.intel.qd_timeseries.add_many(points)
        for point in points:
            self._audit(
                uow,
                principal,
                RECORD.name,
                target_domain="intel",
                target_ref=point.key,
                after=point,
                details={"bulk": True},
            )
        groups: dict[tuple[UUID, QdScoreType], list[QdTimeseriesPoint]] = {}
        for point in points:
            groups.setdefault((point.person_id, point.score_type), []).append(point)
        people = sorted({person_id for person_id, _ in groups})
        found = uow.intel.qd_scores.where_in("person_id", people, IsNull("interaction_id"))
        stored = {(s.person_id, s.score_type): s for s in found}
        added: list[QdScore] = []
        changed: list[QdScore] = []
        for (person_id, score_type), group in groups.items():
            summary = stored.get((person_id, score_type))
            after = self._rescored(summary, person_id, score_type, group, now)
            if after is not None:
                (added if summary is None else changed).append(after)
        uow.intel.qd_scores.add_many(added)
        moves = [(s.key, s.version, {f: getattr(s, f) for f in _SUMMARY_FIELDS}) for s in changed]
        updated = uow.intel.qd_scores.update_many(moves) if moves else set()
        for s in changed:
            if s.key not in updated:  # another write moved it since it was read
                now_at = uow.intel.qd_scores.find(s.key)
                actual = None if now_at is None else now_at.version
                raise ConcurrencyConflict(s.table_name, s.key, s.version, actual)
        return tuple(added) + tuple(attrs.evolve(s, version=s.version + 1) for s in changed)

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
            visibility = self._visibility(uow, principal)
            reader = uow.extension(QdReader)  # type: ignore[type-abstract]
            found = (reader or _TableReads(uow, visibility)).read(
                person_id, visibility.rule(), HISTORY_LIMIT
            )
        if not found.seen:
            raise NotFound(Person.table_name, person_id)
        if found.survivor is not None:
            if found.survivor_seen:
                raise MergedRecord(Person.table_name, person_id, found.survivor)
            raise NotFound(Person.table_name, person_id)
        summaries = {s.score_type: s for s in found.scores}
        points = list(found.points)
        truncated = found.truncated
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


_SUMMARY_FIELDS = ("current_value", "computed_at", "evidence_refs_json")


class _TableReads:
    """The QD query's reads table by table (a store without a ``QdReader``)."""

    def __init__(self, uow: UnitOfWork, visibility: Visibility) -> None:
        self._uow = uow
        self._visibility = visibility

    def read(self, person_id: UUID, rule: Filter | None, points: int) -> ClientQd:
        """See :meth:`velocity_domain.intel.ports.QdReader.read` (``rule`` is the visibility's)."""
        uow, visibility = self._uow, self._visibility
        person = uow.crm.people.find(person_id)
        if person is None or not visibility.may_see(person):
            return ClientQd(False, None, False, (), (), False)
        survivor = person.merged_into_person_id
        if survivor is not None:
            return ClientQd(True, survivor, visibility.can_see(survivor), (), (), False)
        own = (Eq("person_id", person_id), IsNull("interaction_id"))
        order = (desc("computed_at"), desc("qd_id"))
        scores = uow.table(QdScore).list(Query(own, order, MAX_PAGE_SIZE)).items
        page = uow.intel.qd_history(person_id, limit=points)
        return ClientQd(True, None, False, scores, page.items, page.next_cursor is not None)


def _rows_arg(rows: object) -> list[Any]:
    """The rows of a batch as a list, refusing what is not a bounded collection of rows."""
    if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Iterable):
        raise ValidationFailed("rows", "must be a list of rows (mappings of field to value)")
    batch = list(rows)
    if len(batch) > MAX_BATCH:
        raise ValidationFailed("rows", f"at most {MAX_BATCH} rows per call", value=len(batch))
    return batch


def _row_point(row: object, checks: ArgumentChecks, now: datetime) -> QdTimeseriesPoint:
    """One batch row as a point, each value checked as ``record_point`` checks its argument."""
    if not isinstance(row, Mapping):
        raise ValidationFailed("row", "must be a mapping of field to value")
    for name in row:
        if name not in _ROW_FIELDS:
            raise ValidationFailed(
                str(name), f"is not a field of a QD point; fields: {', '.join(_ROW_FIELDS)}"
            )
    for name in _REQUIRED:
        if name not in row:
            raise ValidationFailed(name, "is required")
    given = {name: checks.check_value(name, value) for name, value in row.items()}
    value = given["value"]
    timestamp = given.get("timestamp")
    point = QdTimeseriesPoint(
        person_id=given["person_id"],
        score_type=given["score_type"],
        signal_source=given["signal_source"],
        timestamp=now if timestamp is None else timestamp,
        value=Decimal(repr(value) if isinstance(value, float) else value),
        interaction_id=given.get("interaction_id"),
        evidence_ref=given.get("evidence_ref"),
    )
    _check_point(point, now)
    return point


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
