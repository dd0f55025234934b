"""``/api/crm/contacts``: people as the contacts route family shows them (domain: crm)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.api.routing import Call, Created, Family, Param, Route, page_params
from velocity_domain.crm.entities import Person
from velocity_domain.errors import ConcurrencyConflict, DuplicateSuspected, MergedRecord

__all__ = ["FAMILY", "ContactChange", "ContactDraft"]

PREFIX = "/api/crm/contacts"


@attrs.frozen
class ContactDraft:
    """A new contact: a name and any of email, phone, LinkedIn address and labels.

    ``allow_duplicate`` creates it even when the duplicate rules match
    existing people; ``reason`` is written to the audit trail.
    """

    full_name: str
    primary_email: str | None = None
    primary_phone: str | None = None
    linkedin_url: str | None = None
    persona_labels: tuple[str, ...] = ()
    source_system: str | None = None
    source_ref: str | None = None
    allow_duplicate: bool = False
    reason: str | None = None


@attrs.frozen
class ContactChange:
    """The fields of a contact to change; a field left out keeps its value, ``null`` clears it."""

    full_name: str | None = None
    primary_email: str | None = None
    primary_phone: str | None = None
    linkedin_url: str | None = None
    persona_labels: tuple[str, ...] | None = None
    source_confidence: Decimal | None = None
    source_system: str | None = None
    source_ref: str | None = None
    allow_duplicate: bool = False
    reason: str | None = None


def _list(call: Call) -> Any:
    return call.velocity.contacts.list(
        call.principal,
        **call.query(
            "search",
            "persona_label",
            "source_system",
            "created_from",
            "created_to",
            "updated_from",
            "updated_to",
            "assigned_user_id",
            "newest_first",
            "limit",
            "cursor",
        ),
    )


def _get(call: Call) -> Person:
    return call.velocity.contacts.get(call.principal, call["contact_id"])


def _create(call: Call) -> Created:
    person = call.velocity.contacts.create(call.principal, **call.arguments())
    return Created(person, f"{PREFIX}/{person.person_id}")


def _update(call: Call) -> Person:
    given = call.given(exclude=("allow_duplicate", "reason"))
    assert call.version is not None  # a conditional route always has one
    return call.velocity.contacts.update(
        call.principal,
        call["contact_id"],
        expected_version=call.version,
        allow_duplicate=call.body.allow_duplicate,
        reason=call.body.reason,
        **given,
    )


_ID = Param("contact_id", UUID, where="path", description="the contact's person_id")

FAMILY = Family(
    name="crm.contacts",
    domain="crm",
    prefix=PREFIX,
    summary="Contacts: the people of the CRM, searched, created and changed.",
    routes=(
        Route(
            "GET",
            "",
            "crm.contacts.list",
            "List the contacts the caller may see, by name or newest first.",
            _list,
            params=(
                Param("search", str | None, description="words of the name, an email or phone"),
                Param("persona_label", str | None),
                Param("source_system", str | None),
                Param("created_from", datetime | None, description="inclusive"),
                Param("created_to", datetime | None, description="exclusive"),
                Param("updated_from", datetime | None, description="inclusive"),
                Param("updated_to", datetime | None, description="exclusive"),
                Param(
                    "assigned_user_id",
                    UUID | None,
                    description="people whose leads or deals this user holds",
                ),
                Param("newest_first", bool, default=False),
                *page_params(),
            ),
            returns=Person,
            many=True,
        ),
        Route(
            "POST",
            "",
            "crm.contacts.create",
            "Create a contact (refused as a suspected duplicate unless allowed).",
            _create,
            body=ContactDraft,
            returns=Person,
            status=201,
            errors=(DuplicateSuspected,),
        ),
        Route(
            "GET",
            "/{contact_id}",
            "crm.contacts.get",
            "Read one contact (a merged one answers with its survivor).",
            _get,
            params=(_ID,),
            returns=Person,
        ),
        Route(
            "PUT",
            "/{contact_id}",
            "crm.contacts.update",
            "Change the fields the body names, if the contact is at the If-Match version.",
            _update,
            params=(_ID,),
            body=ContactChange,
            returns=Person,
            conditional=True,
            errors=(ConcurrencyConflict, DuplicateSuspected, MergedRecord),
        ),
    ),
)
