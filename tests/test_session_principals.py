"""Authenticating a token: one statement on PostgreSQL, the same principal as the table reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tests.support.pg_harness import empty_all_tables
from velocity_domain import Velocity
from velocity_domain.access import Principal
from velocity_domain.access.catalogue import DEFAULT_ROLES, PERMISSION_NAMES, seed_id
from velocity_domain.access.principal import PrincipalKind
from velocity_domain.errors import AuthenticationFailed
from velocity_domain.identity.entities import Role, RoleAssignment, User, UserKind
from velocity_domain.identity.ports import ASSIGNMENTS_READ, SessionPrincipals
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.services.identity.sessions import _TableReads, hash_token
from velocity_domain.testing import seed, unit_of_work

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
USER = UUID("6f1d2c4e-0000-4000-8000-000000000001")
ACCOUNT_A = UUID("6f1d2c4e-0000-4000-8000-0000000000a1")
ACCOUNT_B = UUID("6f1d2c4e-0000-4000-8000-0000000000a2")
PROJECT = UUID("6f1d2c4e-0000-4000-8000-0000000000b1")
#: A role of the host's own, holding one permission the catalogue knows and one it does not.
LEGACY = Role(role_name="legacy_exporter", permission_names=("crm.contacts.read", "legacy.export"))


@attrs.frozen
class Staffed:
    """A store with one user of many grants: their token, and the admin who set them up."""

    velocity: Velocity
    clock: FixedClock
    admin: Principal
    token: str


def _staff(velocity: Velocity, clock: FixedClock) -> Staffed:
    """An agent with global, scoped, expired and revoked role assignments, and a session.

    The clock ends two hours after the assignments were made: ``oracle_agent``
    (one hour) has expired, ``admin`` was revoked at once.
    """
    _, admin = velocity.users.create_first_admin(email="root@velocity.example", display_name="Root")
    agent = User(
        user_id=USER, email="bot@velocity.example", display_name="Bot", user_kind=UserKind.AGENT
    )
    seed(velocity, LEGACY, agent)
    assign = velocity.users.assign_role
    assign(admin, USER, "sales_agent")
    assign(admin, USER, "analyst")
    assign(admin, USER, "legacy_exporter")
    assign(admin, USER, "sales_manager", scope_type="account", scope_ref=ACCOUNT_A)
    assign(admin, USER, "sales_manager", scope_type="account", scope_ref=ACCOUNT_B)
    assign(admin, USER, "operator", scope_type="project", scope_ref=PROJECT)
    assign(admin, USER, "oracle_agent", expires_at=clock.now() + timedelta(hours=1))
    velocity.users.revoke_role(admin, assign(admin, USER, "admin").key)
    token = velocity.sessions.issue(admin, USER, ttl=timedelta(days=1)).token
    clock.advance(hours=2)
    return Staffed(velocity, clock, admin, token)


def _expected() -> tuple[Principal, dict[str, frozenset[UUID]]]:
    live = ("sales_agent", "analyst", "sales_manager", "operator")
    granted = {p for name in live for p in DEFAULT_ROLES[name].permissions}
    granted.add("crm.contacts.read")
    principal = Principal(
        USER, PrincipalKind.AGENT, "Bot", {*live, "legacy_exporter"}, granted & PERMISSION_NAMES
    )
    scopes = {"sales_manager": frozenset({ACCOUNT_A, ACCOUNT_B}), "operator": frozenset({PROJECT})}
    return principal, scopes


@pytest.fixture
def stores(pg_url: URL, pg_engine: sa.Engine) -> Iterator[dict[str, Staffed]]:
    """The same staff on each store, each with its own clock at ``T0``."""
    empty_all_tables(pg_engine)
    memory_clock, pg_clock = FixedClock(T0), FixedClock(T0)
    dsn = pg_url.render_as_string(hide_password=False)
    with (
        Velocity.in_memory(clock=memory_clock) as memory,
        Velocity.from_url(dsn, clock=pg_clock) as postgres,
    ):
        yield {
            "memory": _staff(memory, memory_clock),
            "postgres": _staff(postgres, pg_clock),
        }


def test_authentication_gives_the_same_principal_on_both_stores(
    stores: dict[str, Staffed],
) -> None:
    expected, scopes = _expected()
    assert "legacy.export" not in expected.permissions  # the catalogue filters it out
    assert "identity.users.manage" not in expected.permissions  # admin was revoked
    assert "oracle.templates.write" not in expected.permissions  # oracle_agent expired
    for name, staffed in stores.items():
        velocity = staffed.velocity
        principal = velocity.sessions.authenticate(staffed.token)
        resolved = velocity.users.principal_for(staffed.admin, USER)
        # Principal equality leaves out the scopes: compare them too.
        assert (principal, principal.scopes) == (expected, scopes), name
        assert (resolved, resolved.scopes) == (expected, scopes), name


def test_the_expired_assignment_still_counts_before_it_expires(
    stores: dict[str, Staffed],
) -> None:
    for name, staffed in stores.items():
        staffed.clock.set(T0 + timedelta(minutes=59))
        principal = staffed.velocity.sessions.authenticate(staffed.token)
        assert "oracle_agent" in principal.role_names, name
        assert "oracle.templates.write" in principal.permissions, name
        staffed.clock.set(T0 + timedelta(hours=1))  # expires_at == now: expired
        principal = staffed.velocity.sessions.authenticate(staffed.token)
        assert "oracle_agent" not in principal.role_names, name


def _outcome(velocity: Velocity, token: str) -> Any:
    try:
        principal = velocity.sessions.authenticate(token)
    except AuthenticationFailed as error:
        return str(error)
    return principal, principal.scopes


def test_the_store_reader_answers_as_the_table_reads(
    stores: dict[str, Staffed], monkeypatch: pytest.MonkeyPatch
) -> None:
    from velocity_domain.adapters.postgres import sessions  # noqa: PLC0415

    staffed = stores["postgres"]
    velocity, admin, clock = staffed.velocity, staffed.admin, staffed.clock
    short = velocity.sessions.issue(admin, USER, ttl=timedelta(minutes=5))
    revoked = velocity.sessions.issue(admin, USER)
    velocity.sessions.revoke(admin, revoked.session.key, reason="logout")
    other = velocity.users.create(admin, email="gone@velocity.example", display_name="Gone")
    gone = velocity.sessions.issue(admin, other.key)
    velocity.users.deactivate(admin, other.key)
    # A user whose first ASSIGNMENTS_READ unrevoked assignments (by grant time) have all
    # expired: the live one granted after them is not looked at, on either path.
    crowded = User(email="crowded@velocity.example", display_name="Crowded")
    analyst = seed_id("role", "analyst")
    start = T0 - timedelta(days=30)
    stale = [
        RoleAssignment(
            user_id=crowded.key,
            role_id=analyst,
            granted_at=start + timedelta(seconds=i),
            expires_at=start + timedelta(days=1),
        )
        for i in range(ASSIGNMENTS_READ)
    ]
    late = RoleAssignment(user_id=crowded.key, role_id=analyst, granted_at=T0)
    seed(velocity, crowded)
    with unit_of_work(velocity) as uow:
        uow.identity.role_assignments.add_many([*stale, late])
        uow.commit()
    crowded_token = velocity.sessions.issue(admin, crowded.key).token
    tokens = [staffed.token, short.token, revoked.token, gone.token, crowded_token, "unknown"]
    # Around oracle_agent's expiry (T0 + 1h), and around the short session's (T0 + 2h05).
    hours = [0, 59 / 60, 1, 2, 2 + 4 / 60, 2 + 5 / 60, 13]
    times = [T0 + timedelta(hours=h) for h in hours]

    # The port itself: the same rows, at every time, for every token.
    with unit_of_work(velocity, read_only=True) as uow:
        reader = uow.extension(SessionPrincipals)  # type: ignore[type-abstract]
        assert isinstance(reader, sessions.PostgresSessionPrincipals)
        tables = _TableReads(uow)
        for token in tokens:
            for now in times:
                ours = reader.find(hash_token(token), now)
                assert ours == tables.find(hash_token(token), now), (token, now)
                assert (ours is None) is (token == "unknown")
        found = reader.find(hash_token(crowded_token), T0)
        assert found is not None
        assert found.grants == ()
        found = reader.find(hash_token(staffed.token), T0)
        assert found is not None
        assert len(found.grants) == 7  # all but the revoked admin
        assert [g.assignment.role_id for g in found.grants] == [
            g.role.role_id for g in found.grants
        ]

    # The service: the same principal or the same refusal, both ways (from when the
    # sessions were issued, T0 + 2h, on: last_seen_at is never before issued_at).
    answers: dict[str, list[Any]] = {"store": [], "tables": []}
    for way, seen in answers.items():
        with monkeypatch.context() as patched:
            if way == "tables":
                patched.delitem(sessions.EXTENSIONS, SessionPrincipals)
            for now in times[3:]:
                clock.set(now)
                seen.extend(_outcome(velocity, token) for token in tokens)
    assert answers["store"] == answers["tables"]
    refused = sum(answer == "authentication failed" for answer in answers["store"])
    # Unknown, revoked and deactivated at all four times; short at T0 + 2h05 and 13h.
    assert refused == 3 * 4 + 2
