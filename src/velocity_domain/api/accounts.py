"""``/api/crm/accounts``: companies and organisations, and their hierarchy (domain: crm)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import attrs

from velocity_domain.api.routing import Call, Created, Family, Param, Route, page_params
from velocity_domain.crm.entities import Account, AccountType
from velocity_domain.errors import ConcurrencyConflict, DuplicateSuspected

__all__ = ["FAMILY", "AccountChange", "AccountDraft"]

PREFIX = "/api/crm/accounts"


@attrs.frozen
class AccountDraft:
    """A new account: its name and, if wanted, type, parent account and details.

    ``parent_account_id`` must name an existing account. ``allow_duplicate``
    creates it even when the duplicate rules match an existing account (same
    name once legal forms are set aside, or same web domain in
    ``metadata_json``); ``reason`` is written to the audit trail.
    """

    account_name: str
    account_type: AccountType = AccountType.COMPANY
    parent_account_id: UUID | None = None
    industry: str | None = None
    location_ref: str | None = None
    metadata_json: dict[str, Any] | None = None
    source_system: str | None = None
    source_ref: str | None = None
    allow_duplicate: bool = False
    reason: str | None = None


@attrs.frozen
class AccountChange:
    """The fields of an account to change; a field left out keeps its value, ``null`` clears it.

    ``metadata_json: null`` empties the metadata; a parent that would make
    the account its own ancestor is refused.
    """

    account_name: str | None = None
    account_type: AccountType | None = None
    parent_account_id: UUID | None = None
    industry: str | None = None
    location_ref: str | None = None
    metadata_json: dict[str, Any] | None = None
    source_system: str | None = None
    source_ref: str | None = None
    allow_duplicate: bool = False
    reason: str | None = None


def _list(call: Call) -> Any:
    return call.velocity.accounts.list(
        call.principal,
        **call.query("search", "account_type", "parent_account_id", "limit", "cursor"),
    )


def _get(call: Call) -> Account:
    return call.velocity.accounts.get(call.principal, call["account_id"])


def _create(call: Call) -> Created:
    account = call.velocity.accounts.create(call.principal, **call.arguments())
    return Created(account, f"{PREFIX}/{account.account_id}")


def _update(call: Call) -> Account:
    assert call.version is not None  # a conditional route always has one
    return call.velocity.accounts.update(
        call.principal,
        call["account_id"],
        expected_version=call.version,
        allow_duplicate=call.body.allow_duplicate,
        reason=call.body.reason,
        **call.given(exclude=("allow_duplicate", "reason")),
    )


_ID = Param("account_id", UUID, where="path", description="the account's account_id")

FAMILY = Family(
    name="crm.accounts",
    domain="crm",
    prefix=PREFIX,
    summary="Accounts: developers, brokerages and client organisations, in a hierarchy.",
    routes=(
        Route(
            "GET",
            "",
            "crm.accounts.list",
            "List accounts by name, searched by words of the name, type or parent.",
            _list,
            params=(
                Param("search", str | None, description="words anywhere in the account name"),
                Param("account_type", AccountType | None),
                Param(
                    "parent_account_id",
                    UUID | None,
                    description="only the accounts directly under this one",
                ),
                *page_params(),
            ),
            returns=Account,
            many=True,
        ),
        Route(
            "POST",
            "",
            "crm.accounts.create",
            "Create an account (refused as a suspected duplicate unless allowed).",
            _create,
            body=AccountDraft,
            returns=Account,
            status=201,
            errors=(DuplicateSuspected,),
        ),
        Route(
            "GET",
            "/{account_id}",
            "crm.accounts.get",
            "Read one account.",
            _get,
            params=(_ID,),
            returns=Account,
        ),
        Route(
            "PUT",
            "/{account_id}",
            "crm.accounts.update",
            "Change the fields the body names, if the account is at the If-Match version.",
            _update,
            params=(_ID,),
            body=AccountChange,
            returns=Account,
            conditional=True,
            errors=(ConcurrencyConflict, DuplicateSuspected),
        ),
    ),
)
