"""Every committed write has exactly one audit event; a failed write leaves none."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tests.support.pg_harness import empty_all_tables
from tests.support.world import World, build
from velocity_domain import Principal, Velocity
from velocity_domain.errors import AlreadyExists, PermissionDenied, ValidationFailed
from velocity_domain.identity.entities import AuditEvent
from velocity_domain.kernel.query import Query
from velocity_domain.testing import unit_of_work


def _count(velocity: Velocity) -> int:
    with unit_of_work(velocity) as uow:
        return uow.table(AuditEvent).count()


def test_committed_writes_are_audited_with_changed_fields_only(
    world: World,
) -> None:
    velocity = world.velocity
    w = world
    user = velocity.users.create(w.admin, email="new@velocity.example", display_name="New")
    before = _count(velocity)
    velocity.users.deactivate(w.admin.with_correlation("req-42"), user.key, reason="left")
    assert _count(velocity) == before + 1
    (event,) = velocity.audit.list(w.admin, target_ref=user.key, action="identity.users.deactivate")
    assert event.actor_user_id == w.admin.user_id
    assert event.reason == "left"
    assert event.correlation_id == "req-42"
    assert set(event.after_json) == {"status", "deactivated_at"}
    assert event.before_json["status"] == "active"


def test_failed_writes_leave_no_event_and_no_change(
    world: World,
) -> None:
    velocity = world.velocity
    w = world
    before = _count(velocity)
    with pytest.raises(ValidationFailed):
        velocity.users.create(
            w.admin, email="x@velocity.example", display_name="X", roles=["no_such_role"]
        )
    with pytest.raises(AlreadyExists):
        velocity.users.create(w.admin, email="agent.b@velocity.example", display_name="Dup")
    with pytest.raises(PermissionDenied):
        velocity.users.create(w.agent_a, email="y@velocity.example", display_name="Y")
    assert _count(velocity) == before
    with unit_of_work(velocity) as uow:
        emails = {u.email for u in uow.identity.users.list(Query(limit=100))}
    assert "x@velocity.example" not in emails
    assert "y@velocity.example" not in emails


def test_the_audit_query_filters_by_actor_and_needs_audit_read(
    world: World,
) -> None:
    velocity = world.velocity
    w = world
    mine = velocity.audit.list(w.admin, actor_user_id=w.admin.user_id, limit=500)
    assert mine.items
    assert all(e.actor_user_id == w.admin.user_id for e in mine)
    with pytest.raises(PermissionDenied):
        velocity.audit.list(w.by_role["sales_manager"])


@pytest.mark.postgres
def test_postgres_refuses_to_change_delete_or_truncate_audit_rows(
    pg_url: URL, pg_engine: sa.Engine
) -> None:
    empty_all_tables(pg_engine)
    with Velocity.from_url(pg_url.render_as_string(hide_password=False)) as velocity:
        build(velocity)
    for statement in (
        "UPDATE core_audit_events SET reason = 'x'",
        "DELETE FROM core_audit_events",
        "TRUNCATE core_audit_events",
        "TRUNCATE core_audit_events, core_sessions",
    ):
        with pytest.raises(sa.exc.IntegrityError, match="append-only"), pg_engine.begin() as conn:
            conn.execute(sa.text(statement))
    with pg_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM core_audit_events")).scalar_one() > 0
        reasons = conn.execute(sa.text("SELECT DISTINCT reason FROM core_audit_events")).scalars()
        assert "x" not in set(reasons)


def test_a_system_principal_is_checked_and_audited_by_name(world: World) -> None:
    velocity = world.velocity
    nightly = Principal.system("nightly-sync", ["crm.contacts.write"])
    person = velocity.contacts.create(nightly, full_name="Synced Person")
    (event,) = velocity.audit.list(world.admin, target_ref=person.key, action="crm.contacts.create")
    assert event.actor_user_id is None
    assert event.actor_kind.value == "system"
    assert event.details_json["system_actor"] == "nightly-sync"
    with pytest.raises(PermissionDenied):  # held to its permissions like anyone
        velocity.contacts.list(nightly)
