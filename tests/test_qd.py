"""QD: recording points keeps the summary, the QD query, visibility, merges, the policy gate.

Every test with ``world`` runs on both stores; the statement counts and the
plan run on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tests.support.governance import release, reviewed
from tests.support.pg_harness import empty_all_tables
from tests.support.world import World, build
from velocity_domain import Velocity
from velocity_domain.adapters.postgres.store import PostgresStore
from velocity_domain.crm.entities import Person
from velocity_domain.errors import MergedRecord, NotFound, PermissionDenied, ValidationFailed
from velocity_domain.governance.policy import FieldRule
from velocity_domain.intel.entities import Channel, Interaction, QdScoreType, SignalSource
from velocity_domain.intel.qd import (
    QdResult,
    QdSeries,
    QdSignal,
    Trend,
    WeightedDecay,
    buckets,
    trend,
)
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.services.intel.qd import HISTORY_LIMIT
from velocity_domain.testing import store_of, unit_of_work

DAY = timedelta(days=1)


def _record(world: World, value: object, *, days_ago: float = 0, **kwargs: Any) -> Any:
    kwargs.setdefault("score_type", "intent")
    kwargs.setdefault("signal_source", "call")
    at = world.clock.now() - timedelta(days=days_ago)
    return world.velocity.qd.record_point(
        world.admin, world.client_a.key, value=value, timestamp=at, **kwargs
    )


def _points(world: World, person_id: UUID) -> list[Any]:
    with unit_of_work(world.velocity) as uow:
        return list(uow.intel.qd_history(person_id, limit=HISTORY_LIMIT))


def _summaries(world: World, person_id: UUID) -> dict[QdScoreType, Any]:
    with unit_of_work(world.velocity) as uow:
        return {s.score_type: s for s in uow.intel.qd_scores_of(person_id)}


# -- recording --------------------------------------------------------------------------------


def test_a_point_lands_with_its_summary_naming_the_points_that_made_it(world: World) -> None:
    first = _record(world, 60, days_ago=30, signal_source="call")
    second = _record(world, 80, signal_source="whatsapp", evidence_ref="msg:42")
    # A 30-day-old call counts half as much as today's chat (half-life 30 days).
    assert second.summary.current_value == Decimal("73.33")
    assert second.summary.key == first.summary.key
    assert second.summary.version == first.summary.version + 1
    refs = second.summary.evidence_refs_json
    assert {r["timeseries_id"] for r in refs} == {str(first.point.key), str(second.point.key)}
    stored = _summaries(world, world.client_a.key)
    assert stored[QdScoreType.INTENT] == second.summary
    assert [p.key for p in _points(world, world.client_a.key)] == [
        second.point.key,
        first.point.key,
    ]
    assert second.point.evidence_ref == "msg:42"


def test_a_newer_point_of_a_source_replaces_its_older_one_in_the_summary(world: World) -> None:
    old = _record(world, 20, days_ago=5)
    new = _record(world, 90, days_ago=1)
    backdated = _record(world, 10, days_ago=3)
    assert new.summary.current_value == Decimal("90.00")
    assert backdated.summary.current_value == Decimal("90.00")
    refs = backdated.summary.evidence_refs_json
    assert [r["timeseries_id"] for r in refs] == [str(new.point.key)]
    assert old.point.key != new.point.key


def test_score_types_keep_separate_summaries(world: World) -> None:
    _record(world, 40, score_type="intent")
    _record(world, 90, score_type="urgency")
    stored = _summaries(world, world.client_a.key)
    assert stored[QdScoreType.INTENT].current_value == Decimal("40.00")
    assert stored[QdScoreType.URGENCY].current_value == Decimal("90.00")


def test_a_point_may_name_an_interaction_of_the_same_person(world: World) -> None:
    recorded = _record(world, 55, interaction_id=world.call.key)
    assert recorded.point.interaction_id == world.call.key


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("value", {"value": 101}),
        ("value", {"value": -1}),
        ("value", {"value": Decimal("100.01")}),
        ("value", {"value": float("nan")}),
        ("timestamp", {"timestamp": "future"}),
        ("interaction_id", {"interaction_id": "other"}),
        ("interaction_id", {"interaction_id": "missing"}),
        ("score_type", {"score_type": "charm"}),
        ("signal_source", {"signal_source": "telepathy"}),
        ("evidence_ref", {"evidence_ref": "x" * 201}),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
    world: World, field: str, kwargs: dict[str, Any]
) -> None:
    other = Interaction(
        person_id=world.client_b.key, channel=Channel.CALL, happened_at=world.clock.now()
    )
    with unit_of_work(world.velocity) as uow:
        uow.intel.interactions.add(other)
        uow.commit()
    given: dict[str, Any] = {"score_type": "intent", "signal_source": "call", "value": 50, **kwargs}
    if given.get("timestamp") == "future":
        given["timestamp"] = world.clock.now() + timedelta(seconds=1)
    if given.get("interaction_id") == "other":
        given["interaction_id"] = other.key
    if given.get("interaction_id") == "missing":
        given["interaction_id"] = world.client_b.key  # a UUID naming no interaction
    with pytest.raises(ValidationFailed) as err:
        world.velocity.qd.record_point(world.admin, world.client_a.key, **given)
    assert err.value.field == field
    assert _points(world, world.client_a.key) == []
    assert _summaries(world, world.client_a.key) == {}


def test_a_float_value_is_taken_as_written(world: World) -> None:
    recorded = _record(world, 62.5)
    assert recorded.point.value == Decimal("62.5")


def test_a_merged_person_is_refused_naming_the_survivor(world: World) -> None:
    merged = Person(
        full_name="Asha R.",
        merged_into_person_id=world.client_a.key,
        merged_at=world.clock.now(),
    )
    with unit_of_work(world.velocity) as uow:
        uow.crm.people.add(merged)
        uow.commit()
    qd = world.velocity.qd
    with pytest.raises(MergedRecord) as err:
        qd.record_point(world.admin, merged.key, score_type="intent", signal_source="call", value=5)
    assert err.value.survivor == world.client_a.key
    with pytest.raises(MergedRecord) as err:
        qd.qd(world.admin, merged.key)
    assert err.value.survivor == world.client_a.key
    assert _points(world, merged.key) == []


def test_an_agent_cannot_see_or_score_another_agents_client(world: World) -> None:
    qd = world.velocity.qd
    with pytest.raises(NotFound):
        qd.record_point(
            world.agent_b, world.client_a.key, score_type="intent", signal_source="call", value=5
        )
    with pytest.raises(NotFound):
        qd.qd(world.agent_b, world.client_a.key)
    assert (
        qd.record_point(
            world.agent_a, world.client_a.key, score_type="intent", signal_source="call", value=5
        ).summary
        is not None
    )
    assert QdScoreType.INTENT in qd.qd(world.agent_a, world.client_a.key).scores


def test_an_analyst_reads_qd_but_may_not_record_it(world: World) -> None:
    analyst = world.by_role["analyst"]
    with pytest.raises(PermissionDenied) as err:
        world.velocity.qd.record_point(
            analyst, world.client_a.key, score_type="intent", signal_source="call", value=5
        )
    assert err.value.permission == "crm.qd.write"
    assert world.velocity.qd.qd(analyst, world.client_a.key).scores == {}


def test_a_point_the_policy_holds_is_recorded_with_its_summary_once_approved(
    world: World,
) -> None:
    velocity = world.velocity
    velocity.governance.policy.add(
        FieldRule(
            "qd_by_agents",
            lambda c, p: (
                "agents' QD points are reviewed" if c.operation == "crm.qd.record" else None
            ),
        )
    )

    def call() -> Any:
        return velocity.qd.record_point(
            world.agent_a, world.client_a.key, score_type="intent", signal_source="model", value=77
        )

    reviewed(call)
    assert _points(world, world.client_a.key) == []
    point = release(velocity, world.admin, call)
    assert point.value == Decimal(77)
    (stored,) = _points(world, world.client_a.key)
    assert stored.key == point.key
    summary = _summaries(world, world.client_a.key)[QdScoreType.INTENT]
    assert summary.current_value == Decimal("77.00")
    assert summary.evidence_refs_json[0]["timeseries_id"] == str(point.key)


# -- the scoring policy -----------------------------------------------------------------------


class _Highest:
    """A host's policy: the highest value ever seen (keeps one point as evidence)."""

    def score(self, signals: Sequence[QdSignal], at: datetime) -> QdResult:
        counted = [s for s in signals if s.timestamp <= at]
        if not counted:
            return QdResult(None, ())
        best = max(counted, key=lambda s: s.value)
        return QdResult(best.value, (best,))


def test_a_host_sets_its_own_scoring_policy(world: World) -> None:
    world.velocity.qd.scoring = _Highest()
    _record(world, 30, signal_source="call")
    _record(world, 90, signal_source="call", days_ago=2)
    last = _record(world, 40, signal_source="email")
    assert last.summary.current_value == Decimal(90)


def test_source_weights_are_configurable(world: World) -> None:
    world.velocity.qd.scoring = WeightedDecay(weights={"manual": 3, "call": 1})
    _record(world, 20, signal_source="call")
    last = _record(world, 60, signal_source="manual")
    assert last.summary.current_value == Decimal("50.00")


def test_a_source_weighted_zero_leaves_no_summary(world: World) -> None:
    world.velocity.qd.scoring = WeightedDecay(weights={SignalSource.MODEL: 0})
    recorded = _record(world, 20, signal_source="model")
    assert recorded.summary is None
    assert len(_points(world, world.client_a.key)) == 1


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("weights", {"weights": {"telepathy": 1}}),
        ("weights.call", {"weights": {"call": -1}}),
        ("weights.call", {"weights": {"call": "heavy"}}),
        ("half_life", {"half_life": timedelta(0)}),
        ("default_weight", {"default_weight": float("inf")}),
    ],
)
def test_a_bad_policy_setting_is_refused_naming_it(field: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as err:
        WeightedDecay(**kwargs)
    assert err.value.field == field


def test_the_trend_threshold_decides_flat() -> None:
    assert trend(Decimal("1.00")) is Trend.FLAT
    assert trend(Decimal("1.01")) is Trend.UP
    assert trend(Decimal("-2")) is Trend.DOWN
    assert trend(None) is Trend.FLAT
    assert trend(Decimal(3), Decimal(5)) is Trend.FLAT


def test_buckets_are_utc_days_and_monday_weeks_newest_first() -> None:
    def at(day: int, hour: int) -> QdSignal:
        when = datetime(2026, 5, day, hour, tzinfo=UTC)  # 2026-05-04 is a Monday
        return QdSignal(UUID(int=day * 100 + hour), SignalSource.CALL, when, Decimal(day * 10))

    signals = [at(4, 9), at(4, 18), at(6, 1), at(11, 0)]
    days = buckets(signals, QdSeries.DAY)
    assert [(b.start.day, b.count, b.mean, b.last) for b in days] == [
        (11, 1, Decimal("110.00"), Decimal(110)),
        (6, 1, Decimal("60.00"), Decimal(60)),
        (4, 2, Decimal("40.00"), Decimal(40)),
    ]
    weeks = buckets(signals, QdSeries.WEEK)
    assert [(b.start.day, b.count) for b in weeks] == [(11, 1), (4, 3)]


# -- the QD query -----------------------------------------------------------------------------


def test_the_query_gives_current_previous_changes_and_trend(world: World) -> None:
    _record(world, 40, days_ago=40)
    _record(world, 50, days_ago=10)
    _record(world, 70, days_ago=1)
    _record(world, 30, days_ago=1, score_type="urgency")
    view = world.velocity.qd.qd(world.admin, world.client_a.key)
    assert set(view.scores) == {QdScoreType.INTENT, QdScoreType.URGENCY}
    intent = view.scores[QdScoreType.INTENT]
    assert intent.current == Decimal("70.00")
    assert intent.previous == Decimal("50.00")
    assert intent.change_7d == Decimal("20.00")
    assert intent.change_30d == Decimal("30.00")
    assert intent.trend is Trend.UP
    assert intent.points == ()
    assert intent.buckets == ()
    urgency = view.scores[QdScoreType.URGENCY]
    assert (urgency.current, urgency.previous, urgency.change_7d) == (Decimal("30.00"), None, None)
    assert urgency.trend is Trend.FLAT
    assert not view.truncated


def test_the_series_is_raw_newest_first_or_bucketed_from_since(world: World) -> None:
    for days_ago, value in ((20, 10), (9, 20), (2.5, 30), (2.4, 50), (0, 60)):
        _record(world, value, days_ago=days_ago)
    qd = world.velocity.qd
    raw = qd.qd(world.admin, world.client_a.key, series="raw").scores[QdScoreType.INTENT]
    assert [p.value for p in raw.points] == [60, 50, 30, 20, 10]
    since = world.clock.now() - 10 * DAY
    recent = qd.qd(world.admin, world.client_a.key, series=QdSeries.RAW, since=since)
    assert [p.value for p in recent.scores[QdScoreType.INTENT].points] == [60, 50, 30, 20]
    days = qd.qd(world.admin, world.client_a.key, series="day", since=since)
    got = [(b.count, b.mean) for b in days.scores[QdScoreType.INTENT].buckets]
    assert sum(count for count, _ in got) == 4
    assert (1, Decimal("60.00")) == got[0]


def test_the_query_answers_the_same_on_both_stores(world: World) -> None:
    """A fixed history, read on this store, matches what the policy computes by hand."""
    _record(world, 10, days_ago=12, signal_source="email")
    _record(world, 90, days_ago=3, signal_source="visit")
    view = world.velocity.qd.qd(world.admin, world.client_a.key, series="week")
    intent = view.scores[QdScoreType.INTENT]
    # 12-day-old email weighs 0.5 ** (9 / 30) of a 3-day-old visit's weight, relative.
    email, visit = 0.5 ** (12 / 30), 0.5 ** (3 / 30)
    expected = Decimal(repr((10 * email + 90 * visit) / (email + visit))).quantize(Decimal("0.01"))
    assert intent.current == expected
    assert intent.previous == Decimal("10.00")
    assert intent.change_7d == expected - Decimal("10.00")
    assert [e.signal_source for e in intent.evidence] == [SignalSource.EMAIL, SignalSource.VISIT]


def test_a_client_without_qd_has_no_scores(world: World) -> None:
    view = world.velocity.qd.qd(world.admin, world.client_b.key, series="raw")
    assert view.scores == {}
    assert view.person_id == world.client_b.key


# -- cost on PostgreSQL -----------------------------------------------------------------------


@pytest.fixture
def pg_world(pg_url: URL, pg_engine: sa.Engine) -> Iterator[World]:
    empty_all_tables(pg_engine)
    clock = FixedClock(datetime(2026, 6, 1, tzinfo=UTC))
    url = pg_url.render_as_string(hide_password=False)
    with Velocity.from_url(url, clock=clock) as velocity:
        yield build(velocity)


def _counted(velocity: Velocity, call: Any) -> tuple[Any, list[tuple[str, Any]]]:
    store = store_of(velocity)
    assert isinstance(store, PostgresStore)
    seen: list[tuple[str, Any]] = []

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        result = call()
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    return result, seen


@pytest.mark.postgres
def test_reads_and_writes_cost_the_same_statements_at_any_history(pg_world: World) -> None:
    world, velocity = pg_world, pg_world.velocity
    reads, writes = [], []
    for extra in (1, 600):
        with unit_of_work(velocity) as uow:
            person = Person(full_name=f"Client {extra}")
            uow.crm.people.add(person)
            uow.commit()
        for i in range(extra):
            velocity.qd.record_point(
                world.admin,
                person.key,
                score_type=list(QdScoreType)[i % 6],
                signal_source=list(SignalSource)[i % 10],
                value=i % 101,
                timestamp=world.clock.now() - timedelta(hours=i),
            )
        _, seen = _counted(
            velocity,
            lambda p=person: velocity.qd.record_point(
                world.admin,
                p.key,
                score_type="intent",
                signal_source="call",
                value=50,
            ),
        )
        writes.append(len(seen))
        view, seen = _counted(
            velocity, lambda p=person: velocity.qd.qd(world.admin, p.key, series="day")
        )
        reads.append(len(seen))
        assert len(view.scores) == (2 if extra == 1 else 6)  # overall, then intent
    assert reads == [reads[0]] * 2, reads
    assert writes == [writes[0]] * 2, writes
    print(f"QD read: {reads[0]} statements, QD write: {writes[0]} statements")


@pytest.mark.postgres
def test_a_batch_costs_the_same_statements_at_any_size(pg_world: World) -> None:
    world, velocity = pg_world, pg_world.velocity
    counts = []
    for size in (2, 300):
        with unit_of_work(velocity) as uow:
            people = [Person(full_name=f"Client {size} {i}") for i in range(size // 2)]
            uow.crm.people.add_many(people)
            uow.commit()
        rows = [
            {
                "person_id": people[i % len(people)].key,
                "score_type": list(QdScoreType)[i % 6],
                "signal_source": "call",
                "value": i % 100,
            }
            for i in range(size)
        ]
        batch, seen = _counted(velocity, lambda r=rows: velocity.qd.record_points(world.admin, r))
        assert len(batch.recorded) == size
        assert batch.refused == ()
        counts.append(len(seen))
    assert counts == [counts[0]] * 2, counts
    print(f"QD batch: {counts[0]} statements")


@pytest.mark.postgres
def test_the_history_read_is_served_by_the_person_history_index(
    pg_world: World, pg_engine: sa.Engine
) -> None:
    """200,000 points over 2,000 people: the QD query walks the index, never the table."""
    world = pg_world
    with pg_engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO crm_people (person_id, full_name, normalized_name, persona_labels,"
                " version, created_at, updated_at)"
                " SELECT gen_random_uuid(), 'P ' || g, 'p ' || g, '{}', 1, now(), now()"
                " FROM generate_series(1, 2000) AS g"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO intel_qd_timeseries (timeseries_id, person_id, score_type,"
                " signal_source, timestamp, value)"
                " SELECT gen_random_uuid(), p.person_id,"
                " (ARRAY['intent','urgency','engagement'])[1 + g % 3],"
                " (ARRAY['call','email','whatsapp'])[1 + g % 3],"
                " :now - g * interval '1 hour', g % 100"
                " FROM crm_people p, generate_series(1, 100) AS g"
            ).bindparams(now=world.clock.now())
        )
        conn.execute(sa.text("ANALYZE crm_people; ANALYZE intel_qd_timeseries"))
    view, seen = _counted(
        world.velocity, lambda: world.velocity.qd.qd(world.admin, world.client_a.key)
    )
    assert set(view.scores) == {QdScoreType.INTENT, QdScoreType.URGENCY, QdScoreType.ENGAGEMENT}
    history = [(s, p) for s, p in seen if "intel_qd_timeseries" in s]
    assert len(history) == 1
    statement, parameters = history[0]
    raw = store_of(world.velocity)
    assert isinstance(raw, PostgresStore)
    connection = raw.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
        (document,) = cursor.fetchone()
    finally:
        connection.close()
    plan = json.dumps(document)
    assert "ix_intel_qd_timeseries_person_history" in plan, plan
    assert '"Seq Scan"' not in plan, plan


# -- many points at once ------------------------------------------------------------------------


def test_a_batch_records_the_good_rows_and_refuses_the_bad_with_reasons(world: World) -> None:
    merged = Person(
        full_name="Asha R.",
        merged_into_person_id=world.client_a.key,
        merged_at=world.clock.now(),
        owner_user_id=world.agent_a.user_id,  # so agent A sees it, and is pointed to the survivor
    )
    with unit_of_work(world.velocity) as uow:
        uow.crm.people.add(merged)
        uow.commit()
    a, b = world.client_a.key, world.client_b.key
    at = world.clock.now() - DAY
    rows: list[Any] = [
        {
            "person_id": a,
            "score_type": "intent",
            "signal_source": "call",
            "value": 40,
            "timestamp": at,
        },
        {"person_id": a, "score_type": "intent", "signal_source": "whatsapp", "value": 80},
        {"person_id": a, "score_type": "intent", "signal_source": "call", "value": 101},
        {"person_id": b, "score_type": "intent", "signal_source": "call", "value": 50},
        {"person_id": merged.key, "score_type": "intent", "signal_source": "call", "value": 5},
        {"person_id": a, "score_type": "intent", "signal_source": "call", "value": 5, "colour": 1},
        {"person_id": a, "score_type": "intent", "value": 5},
        "not a row",
        {
            "person_id": a,
            "score_type": "urgency",
            "signal_source": "visit",
            "value": 70,
            "interaction_id": world.call.key,
        },
    ]
    batch = world.velocity.qd.record_points(world.agent_a, rows)
    assert [(r.index, r.field, r.code) for r in batch.refused] == [
        (2, "value", "validation_failed"),
        (3, "person_id", "not_found"),
        (4, "person_id", "merged_record"),
        (5, "colour", "validation_failed"),
        (6, "signal_source", "validation_failed"),
        (7, "row", "validation_failed"),
    ]
    assert [p.value for p in batch.recorded] == [40, 80, 70]
    assert batch.proposed == ()
    by_type = {s.score_type: s for s in batch.summaries}
    assert set(by_type) == {QdScoreType.INTENT, QdScoreType.URGENCY}
    stored = _summaries(world, a)
    assert stored[QdScoreType.INTENT].current_value == by_type[QdScoreType.INTENT].current_value
    assert stored[QdScoreType.INTENT].version == by_type[QdScoreType.INTENT].version
    assert len(stored[QdScoreType.INTENT].evidence_refs_json) == 2
    assert len(_points(world, a)) == 3
    assert _points(world, b) == []


def test_a_batch_updates_existing_summaries_as_single_points_would(world: World) -> None:
    _record(world, 20, days_ago=3, signal_source="email")
    single = _record(world, 60, days_ago=1, signal_source="call").summary
    a = world.client_a.key
    batch = world.velocity.qd.record_points(
        world.admin,
        [{"person_id": a, "score_type": "intent", "signal_source": "call", "value": 90}],
    )
    (summary,) = batch.summaries
    assert summary.key == single.key
    assert summary.version == single.version + 1
    alone = WeightedDecay().score(
        [
            QdSignal(UUID(int=1), SignalSource.EMAIL, world.clock.now() - 3 * DAY, Decimal(20)),
            QdSignal(UUID(int=2), SignalSource.CALL, world.clock.now(), Decimal(90)),
        ],
        world.clock.now(),
    )
    assert summary.current_value == alone.value
    assert _summaries(world, a)[QdScoreType.INTENT] == summary


def test_a_batch_row_the_policy_holds_is_proposed(world: World) -> None:
    world.velocity.governance.policy.add(
        FieldRule(
            "model_qd",
            lambda c, p: (
                "models are reviewed" if c.fields.get("signal_source") == "model" else None
            ),
        )
    )
    a = world.client_a.key
    batch = world.velocity.qd.record_points(
        world.admin,
        [
            {"person_id": a, "score_type": "intent", "signal_source": "model", "value": 90},
            {"person_id": a, "score_type": "intent", "signal_source": "call", "value": 30},
        ],
    )
    assert [index for index, _ in batch.proposed] == [0]
    assert [p.value for p in batch.recorded] == [30]


def test_a_batch_over_the_limit_or_not_a_list_is_refused_whole(world: World) -> None:
    row = {
        "person_id": world.client_a.key,
        "score_type": "intent",
        "signal_source": "call",
        "value": 1,
    }
    for rows in ([row] * 501, "rows", row):
        with pytest.raises(ValidationFailed) as err:
            world.velocity.qd.record_points(world.admin, rows)
        assert err.value.field == "rows"
    assert _points(world, world.client_a.key) == []
