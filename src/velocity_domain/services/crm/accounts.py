"""The accounts route family (``/api/crm/accounts``): accounts and their hierarchy.

An account may name a parent account; the hierarchy is a forest, so a parent
that is the account itself or one of its descendants is refused.

Creating and changing an account pass the writeback policy (spec section 9)
first; by default a person's change goes straight on and an agent's is
stored for review (``ApprovalRequired``). The parent is checked when the call
is made and again when the change is applied, since the hierarchy may have
moved while a proposal waited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.crm.entities import Account, AccountType
from velocity_domain.errors import ValidationFailed
from velocity_domain.governance.service import GovernedUpdate, Service, applier, creator, serves
from velocity_domain.kernel.arguments import UNCHANGED, Unchanged, Version, changes
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, Page
from velocity_domain.uow import UnitOfWork

__all__ = ["AccountService"]

CREATE = register("crm.accounts.create", "crm.accounts.write", "create an account")
UPDATE = register("crm.accounts.update", "crm.accounts.write", "change an account")
GET = register("crm.accounts.get", "crm.accounts.read", "read one account")
LIST = register("crm.accounts.list", "crm.accounts.read", "list and search accounts")

#: The fields ``update`` may change.
UPDATABLE = (
    "account_name",
    "account_type",
    "parent_account_id",
    "industry",
    "location_ref",
    "metadata_json",
    "source_system",
    "source_ref",
)


def _check_parent(uow: UnitOfWork, account_id: UUID, parent_id: UUID | None) -> None:
    """Refuse an unknown parent, or one that would close a cycle through ``account_id``."""
    if parent_id is None:
        return
    seen: set[UUID] = set()
    step: UUID | None = parent_id
    while step is not None and step not in seen:
        if step == account_id:
            raise ValidationFailed(
                "parent_account_id",
                "would make the account its own ancestor (a cycle in the hierarchy)",
                value=parent_id,
            )
        seen.add(step)
        found = uow.crm.accounts.find(step)
        if found is None:
            raise ValidationFailed(
                "parent_account_id", f"there is no account {step}", value=parent_id
            )
        step = found.parent_account_id


def _check_new_parent(uow: UnitOfWork, current: Account, wanted: Account) -> None:
    """Refuse a change of parent that :func:`_check_parent` refuses."""
    if wanted.parent_account_id != current.parent_account_id:
        _check_parent(uow, current.key, wanted.parent_account_id)


_UPDATE = GovernedUpdate(UPDATE, Account, "crm", _check_new_parent)


class AccountService(Service):
    """The accounts route family (``/api/crm/accounts``): accounts and their hierarchy."""

    @serves(CREATE)
    def create(
        self,
        principal: Principal,
        *,
        account_name: str,
        account_type: AccountType | str = AccountType.COMPANY,
        parent_account_id: UUID | None = None,
        industry: str | None = None,
        location_ref: str | None = None,
        metadata_json: Mapping[str, Any] | None = None,
        source_system: str | None = None,
        source_ref: str | None = None,
    ) -> Account:
        """Create an account, optionally under an existing parent account.

        The write passes the writeback policy first (``ApprovalRequired`` when
        it asks for a review).
        """
        now = self.clock.now()

        def build(uow: UnitOfWork) -> Account:
            account = Account(
                account_name=account_name,
                account_type=AccountType(account_type),
                parent_account_id=parent_account_id,
                industry=industry,
                location_ref=location_ref,
                metadata_json=dict(metadata_json or {}),
                source_system=source_system,
                source_ref=source_ref,
                created_at=now,
                updated_at=now,
            )
            _check_parent(uow, account.key, account.parent_account_id)
            return account

        return self._governed_create(principal, CREATE, build, insert=self._insert)

    def _insert(self, uow: UnitOfWork, principal: Principal, account: Account) -> Account:
        _check_parent(uow, account.key, account.parent_account_id)
        return self._add_audited(uow, principal, CREATE.name, account, domain="crm")

    _apply_create = creator(Account, _insert)

    @serves(UPDATE)
    def update(
        self,
        principal: Principal,
        account_id: UUID,
        *,
        expected_version: Version,
        account_name: str | Unchanged = UNCHANGED,
        account_type: AccountType | str | Unchanged = UNCHANGED,
        parent_account_id: UUID | Unchanged | None = UNCHANGED,
        industry: str | Unchanged | None = UNCHANGED,
        location_ref: str | Unchanged | None = UNCHANGED,
        metadata_json: Mapping[str, Any] | Unchanged | None = UNCHANGED,
        source_system: str | Unchanged | None = UNCHANGED,
        source_ref: str | Unchanged | None = UNCHANGED,
    ) -> Account:
        """Change the named fields of an account if it is still at ``expected_version``.

        A stale version is ``ConcurrencyConflict`` at once; the change passes
        the writeback policy before it is written. ``metadata_json=None``
        empties the metadata.
        """
        named = changes(
            account_name=account_name,
            account_type=account_type,
            parent_account_id=parent_account_id,
            industry=industry,
            location_ref=location_ref,
            metadata_json={} if metadata_json is None else metadata_json,
            source_system=source_system,
            source_ref=source_ref,
        )
        return self._governed_update(
            principal, _UPDATE, account_id, expected_version, named, apply=self._apply_update
        )

    _apply_update = applier(_UPDATE)

    @serves(GET)
    def get(self, principal: Principal, account_id: UUID) -> Account:
        """Read one account."""
        with self._begin(principal, GET) as uow:
            return uow.crm.accounts.get(account_id)

    @serves(LIST)
    def list(
        self,
        principal: Principal,
        *,
        search: str | None = None,
        account_type: AccountType | str | None = None,
        parent_account_id: UUID | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Account]:
        """List accounts by name, by text, type or parent."""
        with self._begin(principal, LIST) as uow:
            return uow.crm.account_list(
                search=search,
                account_type=account_type,
                parent_account_id=parent_account_id,
                limit=limit,
                cursor=cursor,
            )
