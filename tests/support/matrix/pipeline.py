"""Matrix rows of the leads and opportunities route families (the pipeline)."""

from __future__ import annotations

from typing import Any

from tests.support.matrix import ALL_ROLES, Row
from velocity_domain.crm.entities import Lead, Opportunity, Person
from velocity_domain.testing import unit_of_work

SALES = frozenset({"admin", "sales_manager", "sales_agent"})


def _person(v: Any) -> Person:
    """A fresh contact nobody holds yet (anyone with leads/opportunities write may open one)."""
    person = Person(full_name="Mira Das")
    with unit_of_work(v) as uow:
        uow.crm.people.add(person)
        uow.commit()
    return person


def _lead_of(v: Any, w: Any, p: Any) -> Lead:
    """A lead of a fresh contact, held by ``p``."""
    person = _person(v)
    lead = v.leads.create(
        w.admin, person_id=person.key, source_system="web", assigned_user_id=p.user_id
    )
    assert isinstance(lead, Lead)
    return lead


def _opportunity_of(v: Any, w: Any, p: Any) -> Opportunity:
    person = _person(v)
    opp = v.opportunities.create(w.admin, person_id=person.key, assigned_user_id=p.user_id)
    assert isinstance(opp, Opportunity)
    return opp


def _a_lead(v: Any, w: Any) -> Lead:
    lead = v.leads.list(w.admin, person_id=w.client_a.key).items[0]
    assert isinstance(lead, Lead)
    return lead


def _convert(v: Any, w: Any, p: Any) -> Any:
    lead = _lead_of(v, w, p)
    return v.leads.convert(p, lead.key, expected_version=lead.version)


def _move(v: Any, w: Any, p: Any) -> Any:
    opp = _opportunity_of(v, w, p)
    return v.opportunities.move_stage(p, opp.key, "contacted", expected_version=opp.version)


def _update(v: Any, w: Any, p: Any) -> Any:
    opp = _opportunity_of(v, w, p)
    return v.opportunities.update(p, opp.key, expected_version=opp.version, next_action="Call")


def _assign(v: Any, w: Any, p: Any) -> Any:
    lead = _lead_of(v, w, p)
    return v.leads.assign(p, lead.key, p.user_id, expected_version=lead.version)


ROWS: dict[str, Row] = {
    "crm.leads.create": Row(
        SALES,
        lambda v, w, p: v.leads.create(p, person_id=_person(v).key, source_system="web"),
        "a sales_agent who names no assignee holds the lead themself",
    ),
    "crm.leads.get": Row(
        ALL_ROLES,
        lambda v, w, p: v.leads.get(p, _a_lead(v, w).key),
        "a sales_agent sees only leads of their own clients",
    ),
    "crm.leads.list": Row(ALL_ROLES, lambda v, w, p: v.leads.list(p)),
    "crm.leads.assign": Row(SALES, _assign),
    "crm.leads.convert": Row(
        SALES, _convert, "creating a new opportunity also needs crm.opportunities.write"
    ),
    "crm.opportunities.create": Row(
        SALES, lambda v, w, p: v.opportunities.create(p, person_id=_person(v).key)
    ),
    "crm.opportunities.update": Row(SALES, _update),
    "crm.opportunities.move_stage": Row(
        SALES, _move, "moves follow the pipeline; lost needs a lost reason"
    ),
    "crm.opportunities.get": Row(
        ALL_ROLES,
        lambda v, w, p: v.opportunities.get(p, _opp_a(v, w)),
        "a sales_agent sees only their own clients' opportunities",
    ),
    "crm.opportunities.list": Row(ALL_ROLES, lambda v, w, p: v.opportunities.list(p)),
    "crm.opportunities.time_in_stages": Row(
        ALL_ROLES,
        lambda v, w, p: v.opportunities.time_in_stages(p, _opp_a(v, w)),
    ),
}


def _opp_a(v: Any, w: Any) -> Any:
    """An opportunity of client A (agent A's client), made by the admin."""
    opp = v.opportunities.create(
        w.admin, person_id=w.client_a.key, assigned_user_id=w.agent_a.user_id
    )
    return opp.key
