"""The bad inputs of issue 12, one test each, on both stores; and one update convention.

Each of these went wrong before arguments were checked from the signatures:
a raw ``TypeError``/``AttributeError``/``ValueError``/``UnicodeEncodeError``,
``NotFound`` or ``StorageUnavailable`` instead of ``ValidationFailed``, a
string walked letter by letter, a store-dependent result.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.errors import AuthenticationFailed, ValidationFailed


def _refused(call: Callable[[], Any], field: str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as err:
        call()
    assert err.value.field == field, err.value
    return err.value


def test_an_id_that_is_not_a_uuid_is_refused_not_missing(world: World) -> None:
    v, w = world.velocity, world
    _refused(lambda: v.contacts.get(w.admin, "not-a-uuid"), "person_id")
    _refused(lambda: v.accounts.get(w.admin, "not-a-uuid"), "account_id")
    _refused(lambda: v.users.get(w.admin, str(w.admin.user_id)), "user_id")
    _refused(lambda: v.sessions.revoke_all(w.admin, "not-a-uuid"), "user_id")


def test_a_search_that_is_not_text_is_refused(world: World) -> None:
    v, w = world.velocity, world
    _refused(lambda: v.contacts.list(w.admin, search=123), "search")


def test_a_naive_or_textual_created_from_is_refused(world: World) -> None:
    v, w = world.velocity, world
    naive = datetime(2026, 1, 1)
    _refused(lambda: v.contacts.list(w.admin, created_from=naive), "created_from")
    _refused(lambda: v.contacts.list(w.admin, created_from="2026-01-01"), "created_from")


def test_an_audit_since_that_is_not_a_time_is_refused(world: World) -> None:
    v, w = world.velocity, world
    _refused(lambda: v.audit.list(w.admin, since="yesterday"), "since")


def test_an_unknown_user_kind_is_refused_naming_the_allowed_ones(world: World) -> None:
    v, w = world.velocity, world
    err = _refused(
        lambda: v.users.create(w.admin, email="r@x.example", display_name="R", kind="robot"),
        "kind",
    )
    assert "human" in err.reason


def test_roles_given_as_one_string_are_refused_not_spelled_out(world: World) -> None:
    v, w = world.velocity, world
    before = len(v.users.list(w.admin).items)
    _refused(
        lambda: v.users.create(w.admin, email="r@x.example", display_name="R", roles="admin"),
        "roles",
    )
    assert len(v.users.list(w.admin).items) == before


def test_a_session_ttl_in_seconds_is_refused(world: World) -> None:
    v, w = world.velocity, world
    _refused(lambda: v.sessions.issue(w.admin, w.admin.user_id, ttl=3600), "ttl")


def test_a_lone_surrogate_in_a_name_or_a_filter_is_refused(world: World) -> None:
    v, w = world.velocity, world
    _refused(lambda: v.contacts.create(w.admin, full_name="Asha \ud800"), "full_name")
    _refused(lambda: v.contacts.list(w.admin, search="\ud800"), "search")
    _refused(lambda: v.contacts.list(w.admin, persona_label="\ud800"), "persona_label")
    assert v.contacts.list(w.admin, search="Asha").items == (w.client_a,)


def test_a_token_with_a_lone_surrogate_fails_authentication(world: World) -> None:
    v = world.velocity
    with pytest.raises(AuthenticationFailed):
        v.sessions.authenticate("\ud800")


def test_a_proposal_refuses_text_for_a_list_field_as_the_direct_path_does(world: World) -> None:
    v, w = world.velocity, world
    person = v.contacts.get(w.admin, w.client_a.key)
    _refused(
        lambda: v.contacts.update(
            w.admin, person.key, expected_version=person.version, persona_labels="buyer"
        ),
        "persona_labels",
    )
    _refused(
        lambda: v.writebacks.propose(
            w.admin,
            target_table="crm_people",
            change_kind="update",
            target_ref=person.key,
            base_version=person.version,
            fields={"persona_labels": "buyer"},
        ),
        "persona_labels",
    )
    assert v.writebacks.list(w.admin).items == ()
    assert v.contacts.get(w.admin, person.key) == person


def test_negative_zero_money_reads_back_as_zero(world: World) -> None:
    v, w = world.velocity, world
    deal = v.opportunities.create(w.admin, person_id=w.client_a.key, value=Decimal("-0"))
    stored = v.opportunities.get(w.admin, deal.key).value
    assert stored is not None
    assert (str(deal.value), str(stored)) == ("0.00", "0.00")


# -- one update convention: an update naming no field is refused everywhere ---------------------


def _updates(v: Velocity, w: World) -> dict[str, Callable[[], Any]]:
    """Every update-like call, naming nothing to change."""
    admin = w.admin
    account = v.accounts.create(admin, account_name="Acme")
    deal = v.opportunities.create(admin, person_id=w.client_a.key)
    interest = v.property_interests.record(admin, person_id=w.client_a.key)
    project = v.inventory.create_project(admin, project_name="Skyline")
    unit = v.inventory.add_unit(admin, project.key, unit_label="A-1")
    return {
        "contacts": lambda: v.contacts.update(admin, w.client_a.key, expected_version=1),
        "accounts": lambda: v.accounts.update(admin, account.key, expected_version=1),
        "opportunities": lambda: v.opportunities.update(admin, deal.key, expected_version=1),
        "interests": lambda: v.property_interests.update(admin, interest.key, expected_version=1),
        "projects": lambda: v.inventory.update_project(admin, project.key, expected_version=1),
        "units": lambda: v.inventory.update_unit(admin, unit.key, expected_version=1),
    }


def test_an_update_naming_no_field_is_refused_and_writes_nothing(world: World) -> None:
    v, w = world.velocity, world
    calls = _updates(v, w)
    events = len(v.audit.list(w.admin, limit=500).items)
    outcomes: dict[str, str] = {}
    for name, call in calls.items():
        try:
            call()
            outcomes[name] = "accepted"
        except ValidationFailed as err:
            outcomes[name] = err.field
    assert outcomes == dict.fromkeys(calls, "changes")
    assert len(v.audit.list(w.admin, limit=500).items) == events


def test_a_field_an_update_does_not_take_is_refused_by_name(world: World) -> None:
    v, w = world.velocity, world
    project = v.inventory.create_project(w.admin, project_name="Skyline")
    unit = v.inventory.add_unit(w.admin, project.key, unit_label="A-1")
    for field in ("status", "price_current", "hold_expires_at", "currency"):
        _refused(
            lambda f=field: v.inventory.update_unit(
                w.admin, unit.key, expected_version=1, **{f: None}
            ),
            field,
        )
    _refused(
        lambda: v.contacts.update(w.admin, w.client_a.key, expected_version=1, household_id=None),
        "household_id",
    )


def test_an_update_leaves_the_fields_it_does_not_name_and_clears_with_none(
    world: World,
) -> None:
    v, w = world.velocity, world
    deal = v.opportunities.create(
        w.admin, person_id=w.client_a.key, next_action="Call", expected_close_date=None
    )
    changed = v.opportunities.update(w.admin, deal.key, expected_version=1, next_action=None)
    assert (changed.next_action, changed.currency, changed.version) == (None, "INR", 2)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert changed.updated_at >= at
