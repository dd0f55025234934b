"""Matrix rows of the contact writes, accounts, households and relationships (issue 6)."""

from __future__ import annotations

import itertools
from typing import Any

from tests.support.matrix import ALL_ROLES, Row
from velocity_domain.crm.entities import Lead, Person
from velocity_domain.testing import unit_of_work

_serial = itertools.count()
WRITERS = frozenset({"admin", "sales_manager", "sales_agent"})


def _mine(v: Any, p: Any) -> Person:
    """A fresh person whose lead is assigned to ``p``, so ``p`` may see them."""
    person = Person(full_name=f"Matrix Person {next(_serial)}")
    with unit_of_work(v) as uow:
        uow.crm.people.add(person)
        uow.crm.leads.add(
            Lead(person_id=person.key, source_system="web", assigned_user_id=p.user_id)
        )
        uow.commit()
    return person


def _account(v: Any, w: Any) -> Any:
    return v.accounts.create(w.admin, account_name=f"Account {next(_serial)}")


def _household_with(v: Any, w: Any, p: Any) -> tuple[Any, Person]:
    household = v.relationships.create_household(w.admin, household_name="Rao family")
    person = _mine(v, p)
    v.relationships.add_member(w.admin, household.key, person.key)
    return household, person


def _relationship(v: Any, w: Any, p: Any) -> Any:
    return v.relationships.relate(w.admin, _mine(v, p).key, _mine(v, p).key, "sibling")


def _remove(v: Any, w: Any, p: Any) -> Any:
    household, person = _household_with(v, w, p)
    return v.relationships.remove_member(p, household.key, person.key)


def _set_head(v: Any, w: Any, p: Any) -> Any:
    household, person = _household_with(v, w, p)
    return v.relationships.set_head(p, household.key, person.key)


def _get_household(v: Any, w: Any, p: Any) -> Any:
    household, _ = _household_with(v, w, p)
    return v.relationships.get_household(p, household.key)


ROWS: dict[str, Row] = {
    "crm.contacts.create": Row(
        WRITERS,
        lambda v, w, p: v.contacts.create(p, full_name=f"New Person {next(_serial)}"),
        "the creator owns the contact unless they see everyone; a duplicate by email or phone"
        " needs allow_duplicate=True (a refused one is audited for review)",
    ),
    "crm.contacts.create_many": Row(
        WRITERS,
        lambda v, w, p: v.contacts.create_many(p, [{"full_name": f"Bulk {next(_serial)}"}]),
        "one row per contact; each passes the policy and is audited like create",
    ),
    "crm.contacts.update": Row(
        WRITERS,
        lambda v, w, p: v.contacts.update(p, _mine(v, p).key, expected_version=1, full_name="X Y"),
        "a sales_agent changes only their own clients",
    ),
    "crm.accounts.create": Row(
        WRITERS, lambda v, w, p: v.accounts.create(p, account_name=f"Acme {next(_serial)}")
    ),
    "crm.accounts.update": Row(
        WRITERS,
        lambda v, w, p: v.accounts.update(
            p, _account(v, w).key, expected_version=1, industry="real estate"
        ),
        "a parent that would close a cycle is refused",
    ),
    "crm.accounts.get": Row(ALL_ROLES, lambda v, w, p: v.accounts.get(p, _account(v, w).key)),
    "crm.accounts.list": Row(ALL_ROLES, lambda v, w, p: v.accounts.list(p)),
    "crm.households.create": Row(
        WRITERS, lambda v, w, p: v.relationships.create_household(p, household_name="Sen family")
    ),
    "crm.households.add_member": Row(
        WRITERS,
        lambda v, w, p: v.relationships.add_member(
            p,
            v.relationships.create_household(w.admin, household_name="Das family").key,
            _mine(v, p).key,
        ),
        "needs crm.contacts.write; the person must be visible",
    ),
    "crm.households.remove_member": Row(WRITERS, _remove),
    "crm.households.set_head": Row(WRITERS, _set_head, "the head must be a member"),
    "crm.households.get": Row(
        ALL_ROLES,
        _get_household,
        "without read_all, only households with a visible member, or with none",
    ),
    "crm.relationships.relate": Row(
        WRITERS,
        lambda v, w, p: v.relationships.relate(p, _mine(v, p).key, _mine(v, p).key, "spouse"),
        "writes both directions with the inverse kind",
    ),
    "crm.relationships.unrelate": Row(
        WRITERS, lambda v, w, p: v.relationships.unrelate(p, _relationship(v, w, p).key)
    ),
    "crm.relationships.list": Row(
        ALL_ROLES, lambda v, w, p: v.relationships.relationships_of(p, _mine(v, p).key)
    ),
}
