"""Nothing leaks: an id the caller may not see fails exactly as an id that names nothing.

For every service argument that names another record, a sales agent passes
the id of another agent's record and then a random id; both calls must fail
with the same error type, field and message (the id masked), the same
``to_dict()``, and name no id but the one the caller gave.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from tests.support.governance import reviewed
from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.errors import DuplicateSuspected, PermissionDenied, VelocityError
from velocity_domain.kernel.clock import FixedClock

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@attrs.frozen
class Hidden:
    """Agent B's records, none of which agent A may see."""

    person: uuid.UUID
    other_person: uuid.UUID
    lead: uuid.UUID
    deal: uuid.UUID
    interest: uuid.UUID
    task: uuid.UUID
    interaction: uuid.UUID
    household: uuid.UUID
    relationship: uuid.UUID
    writeback: uuid.UUID


Leaky = tuple[Velocity, FixedClock, World, Hidden]


@pytest.fixture
def leaky(world: World) -> Leaky:
    """The shared world where agent B also holds records of every kind agent A may not see."""
    v, clock, w = world.velocity, world.clock, world
    b = w.agent_b
    sister = v.contacts.create(b, full_name="Mira Sen", primary_email="mira@example.com")
    deal = v.opportunities.create(b, person_id=w.client_b.key, value=Decimal("5000000"))
    home = v.relationships.create_household(b, household_name="Sen family")
    v.relationships.add_member(b, home.key, w.client_b.key)
    hidden = Hidden(
        person=w.client_b.key,
        other_person=sister.key,
        lead=v.leads.create(b, person_id=w.client_b.key, source_system="web").key,
        deal=deal.key,
        interest=v.property_interests.record(b, person_id=w.client_b.key).key,
        task=v.tasks.create(b, title="Call", due_at=clock.now(), person_id=w.client_b.key).key,
        interaction=v.interactions.log(
            b, person_id=w.client_b.key, channel="call", happened_at=clock.now()
        ).key,
        household=home.key,
        relationship=v.relationships.relate(b, w.client_b.key, sister.key, "sibling").key,
        writeback=reviewed(
            lambda: v.opportunities.update(b, deal.key, expected_version=1, value=Decimal(6))
        ),
    )
    return v, clock, w, hidden


Call = Callable[[Velocity, FixedClock, World, uuid.UUID], Any]

# (case, which of agent B's ids stands for "a record one may not see", the call as agent A)
CASES: list[tuple[str, str, Call]] = [
    # references in arguments: ValidationFailed naming the argument
    (
        "task lead",
        "lead",
        lambda v, c, w, x: v.tasks.create(w.agent_a, title="t", due_at=c.now(), lead_id=x),
    ),
    (
        "task deal",
        "deal",
        lambda v, c, w, x: v.tasks.create(w.agent_a, title="t", due_at=c.now(), opportunity_id=x),
    ),
    (
        "task person",
        "person",
        lambda v, c, w, x: v.tasks.create(w.agent_a, title="t", due_at=c.now(), person_id=x),
    ),
    (
        "log lead",
        "lead",
        lambda v, c, w, x: v.interactions.log(
            w.agent_a, person_id=w.client_a.key, channel="call", happened_at=c.now(), lead_id=x
        ),
    ),
    (
        "log deal",
        "deal",
        lambda v, c, w, x: v.interactions.log(
            w.agent_a,
            person_id=w.client_a.key,
            channel="call",
            happened_at=c.now(),
            opportunity_id=x,
        ),
    ),
    (
        "lead person",
        "person",
        lambda v, c, w, x: v.leads.create(w.agent_a, person_id=x, source_system="web"),
    ),
    ("deal person", "person", lambda v, c, w, x: v.opportunities.create(w.agent_a, person_id=x)),
    (
        "propose task on a lead",
        "lead",
        lambda v, c, w, x: v.writebacks.propose(
            w.agent_a,
            target_table="intel_reminders",
            change_kind="create",
            fields={
                "title": "t",
                "assigned_user_id": w.agent_a.user_id,
                "due_at": c.now(),
                "lead_id": x,
            },
        ),
    ),
    (
        "propose task on a deal",
        "deal",
        lambda v, c, w, x: v.writebacks.propose(
            w.agent_a,
            target_table="intel_reminders",
            change_kind="create",
            fields={
                "title": "t",
                "assigned_user_id": w.agent_a.user_id,
                "due_at": c.now(),
                "opportunity_id": x,
            },
        ),
    ),
    # the record a call is about: NotFound
    ("contact get", "person", lambda v, c, w, x: v.contacts.get(w.agent_a, x)),
    (
        "contact update",
        "person",
        lambda v, c, w, x: v.contacts.update(w.agent_a, x, expected_version=1, full_name="X"),
    ),
    ("timeline", "person", lambda v, c, w, x: v.interactions.timeline(w.agent_a, x)),
    (
        "log person",
        "person",
        lambda v, c, w, x: v.interactions.log(
            w.agent_a, person_id=x, channel="call", happened_at=c.now()
        ),
    ),
    ("interaction get", "interaction", lambda v, c, w, x: v.interactions.get(w.agent_a, x)),
    ("lead get", "lead", lambda v, c, w, x: v.leads.get(w.agent_a, x)),
    ("deal get", "deal", lambda v, c, w, x: v.opportunities.get(w.agent_a, x)),
    (
        "deal update",
        "deal",
        lambda v, c, w, x: v.opportunities.update(
            w.agent_a, x, expected_version=1, next_action="x"
        ),
    ),
    (
        "interest record",
        "person",
        lambda v, c, w, x: v.property_interests.record(w.agent_a, person_id=x),
    ),
    ("interests of", "person", lambda v, c, w, x: v.property_interests.of_client(w.agent_a, x)),
    (
        "interest close",
        "interest",
        lambda v, c, w, x: v.property_interests.close(w.agent_a, x, expected_version=1),
    ),
    (
        "task complete",
        "task",
        lambda v, c, w, x: v.tasks.complete(w.agent_a, x, expected_version=1),
    ),
    (
        "task snooze",
        "task",
        lambda v, c, w, x: v.tasks.snooze(
            w.agent_a, x, c.now() + timedelta(days=1), expected_version=1
        ),
    ),
    ("household get", "household", lambda v, c, w, x: v.relationships.get_household(w.agent_a, x)),
    (
        "household add",
        "household",
        lambda v, c, w, x: v.relationships.add_member(w.agent_a, x, w.client_a.key),
    ),
    (
        "member add",
        "person",
        lambda v, c, w, x: v.relationships.add_member(
            w.agent_a, v.relationships.create_household(w.agent_a, household_name="H").key, x
        ),
    ),
    (
        "relate",
        "other_person",
        lambda v, c, w, x: v.relationships.relate(w.agent_a, w.client_a.key, x, "sibling"),
    ),
    ("unrelate", "relationship", lambda v, c, w, x: v.relationships.unrelate(w.agent_a, x)),
    (
        "relationships of",
        "person",
        lambda v, c, w, x: v.relationships.relationships_of(w.agent_a, x),
    ),
    (
        "propose update",
        "person",
        lambda v, c, w, x: v.writebacks.propose(
            w.agent_a,
            target_table="crm_people",
            change_kind="update",
            target_ref=x,
            base_version=1,
            fields={"full_name": "X"},
        ),
    ),
    ("writeback get", "writeback", lambda v, c, w, x: v.writebacks.get(w.agent_a, x)),
]


def _failure(call: Callable[[], Any]) -> VelocityError:
    with pytest.raises(VelocityError) as caught:
        call()
    assert not isinstance(caught.value, PermissionDenied), "the case must be allowed to try"
    return caught.value


def _shape(err: VelocityError, given: uuid.UUID) -> tuple[str, str | None, str, str]:
    """The error with the caller's own id masked: type, field, message, ``to_dict()``."""
    mask = str(given)
    body = json.dumps(err.to_dict(), sort_keys=True)
    message = err.message.replace(mask, "<id>")
    return type(err).__name__, getattr(err, "field", None), message, body.replace(mask, "<id>")


def _ids_named(err: VelocityError) -> set[str]:
    """Every id the error carries: in its message, its ``to_dict()`` and its attributes."""
    text = err.message + json.dumps(err.to_dict()) + repr(vars(err))
    return set(_UUID.findall(text))


@pytest.mark.parametrize(("which", "call"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_hidden_id_fails_exactly_as_a_random_one(leaky: Leaky, which: str, call: Call) -> None:
    v, clock, w, hidden = leaky
    secret: uuid.UUID = getattr(hidden, which)
    nothing = uuid.uuid4()
    seen = _failure(lambda: call(v, clock, w, secret))
    unknown = _failure(lambda: call(v, clock, w, nothing))
    assert _shape(seen, secret) == _shape(unknown, nothing)
    assert _ids_named(seen) <= {str(secret)}
    assert _ids_named(unknown) <= {str(nothing)}


def test_every_hidden_record_is_still_there_for_its_agent(leaky: Leaky) -> None:
    v, _, w, hidden = leaky
    assert v.contacts.get(w.agent_b, hidden.other_person).owner_user_id == w.agent_b.user_id
    assert v.leads.get(w.agent_b, hidden.lead).person_id == hidden.person
    assert v.interactions.get(w.agent_b, hidden.interaction).interaction.key == hidden.interaction
    assert [m.key for m in v.relationships.get_household(w.agent_b, hidden.household).members] == [
        hidden.person
    ]


# --- suspected duplicates ------------------------------------------------------------------


def test_a_duplicate_of_a_hidden_person_is_counted_not_named(leaky: Leaky) -> None:
    v, _, w, hidden = leaky
    with pytest.raises(DuplicateSuspected) as caught:
        v.contacts.create(w.agent_a, full_name="M Sen", primary_email="MIRA@example.com")
    err = caught.value
    assert (err.existing_ids, err.count, err.matched_on) == ((), 1, "primary_email")
    assert err.to_dict()["existing_ids"] == []
    assert _ids_named(err) == set()
    # Someone who sees everyone can review it: the refusal is an audit event naming the match.
    (event,) = v.audit.list(w.admin, action="crm.contacts.duplicate_suspected").items
    assert event.actor_user_id == w.agent_a.user_id
    assert event.target_ref == str(hidden.other_person)
    assert event.details_json["existing_ids"] == [str(hidden.other_person)]
    assert event.details_json["matched_on"] == "primary_email"
    assert event.details_json["refused_action"] == "crm.contacts.create"
    with pytest.raises(PermissionDenied):
        v.audit.list(w.agent_a, action="crm.contacts.duplicate_suspected")


def test_a_duplicate_names_the_visible_matches_only(leaky: Leaky) -> None:
    v, _, w, hidden = leaky
    mine = v.contacts.create(
        w.agent_a, full_name="Mira S", primary_email="mira@example.com", allow_duplicate=True
    )
    with pytest.raises(DuplicateSuspected) as caught:
        v.contacts.create(w.agent_a, full_name="Mira", primary_email="mira@example.com")
    assert (caught.value.existing_ids, caught.value.count) == ((mine.key,), 2)
    assert _ids_named(caught.value) == {str(mine.key)}
    other = v.contacts.create(w.agent_a, full_name="Someone Else")
    with pytest.raises(DuplicateSuspected) as caught:
        v.contacts.update(
            w.agent_a, other.key, expected_version=1, primary_email="mira@example.com"
        )
    assert (caught.value.existing_ids, caught.value.count) == ((mine.key,), 2)
    events = v.audit.list(w.admin, action="crm.contacts.duplicate_suspected").items
    assert sorted(e.details_json["refused_action"] for e in events) == [
        "crm.contacts.create",
        "crm.contacts.update",
    ]
    assert all(
        sorted(e.details_json["existing_ids"]) == sorted([str(mine.key), str(hidden.other_person)])
        for e in events
    )
    assert v.contacts.get(w.agent_a, other.key).primary_email is None
