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

from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.crm.entities import Account, AccountType
from velocity_domain.errors import ConcurrencyConflict, ValidationFailed
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.service import Service
from velocity_domain.kernel.arguments import version_arg
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, Page
from velocity_domain.services.crm.contacts import check_changes
from velocity_domain.uow import UnitOfWork

__all__ = ["AccountService"]

CREATE = register("crm.accounts.create", "crm.accounts.write", "create an account")
UPDATE = register("crm.accounts.update", "crm.accounts.write", "change an account")
GET = register("crm.accounts.get", "crm.accounts.read", "read one account")
LIST = register("crm.accounts.list", "crm.accounts.read", "list and search accounts")

#: The fields ``update`` may change.
UPDATABLE = frozenset(
    {
        "account_name",
        "account_type",
        "parent_account_id",
        "industry",
        "location_ref",
        "metadata_json",
        "source_system",
        "source_ref",
    }
)


def _check_parent(uow: UnitOfWork, account_id: UUID, parent_id: UUID | None) -> None:
    """Refuse an unknown parent, or one that would close a cycle through ``account_id``."""
    if parent_id is None:
        return
    if not isinstance(parent_id, UUID):
        raise ValidationFailed(
            "parent_account_id", f"must be a UUID, not {type(parent_id).__name__}", value=parent_id
        )
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


class AccountService(Service):
    """The accounts route family (``/api/crm/accounts``): accounts and their hierarchy."""

    def create(
        self,
        principal: Principal,
        *,
        account_name: str,
        account_type: AccountType | str = AccountType.COMPANY,
        parent_account_id: UUID | None = None,
        industry: str | None = None,
        location_ref: str | None = None,
        metadata_json: dict[str, Any] | None = None,
        source_system: str | None = None,
        source_ref: str | None = None,
    ) -> Account:
        """Create an account, optionally under an existing parent account.

        The write passes the writeback policy first (``ApprovalRequired`` when
        it asks for a review).
        """
        now = self.clock.now()
        raw_type: Any = account_type  # the entity converts a string and names the field
        with self._begin(principal, CREATE) as uow:
            account = Account(
                account_name=account_name,
                account_type=raw_type,
                parent_account_id=parent_account_id,
                industry=industry,
                location_ref=location_ref,
                metadata_json={} if metadata_json is None else metadata_json,
                source_system=source_system,
                source_ref=source_ref,
                created_at=now,
                updated_at=now,
            )
            _check_parent(uow, account.key, account.parent_account_id)
            self._gate(uow, principal, self._create_change(CREATE, account))
            created = self._insert(uow, principal, account)
            uow.commit()
        return created

    def _apply_create(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> Account:
        return self._insert(uow, principal, self._new_row(change, Account))

    def _insert(self, uow: UnitOfWork, principal: Principal, account: Account) -> Account:
        _check_parent(uow, account.key, account.parent_account_id)
        self._add_audited(uow, principal, CREATE.name, account, domain="crm")
        return account

    def update(
        self, principal: Principal, account_id: UUID, *, expected_version: int, **changes: Any
    ) -> Account:
        """Change an account's fields (see ``UPDATABLE``) if it is still at ``expected_version``.

        A stale version is ``ConcurrencyConflict`` at once; the change passes
        the writeback policy before it is written.
        """
        version = version_arg(expected_version)
        check_changes(changes, UPDATABLE)
        with self._begin(principal, UPDATE) as uow:
            current = uow.crm.accounts.get(account_id)
            if current.version != version:
                raise ConcurrencyConflict(Account.table_name, current.key, version, current.version)
            if "metadata_json" in changes and changes["metadata_json"] is None:
                changes["metadata_json"] = {}
            wanted = attrs.evolve(current, **changes)  # validates the values
            if wanted.parent_account_id != current.parent_account_id:
                _check_parent(uow, current.key, wanted.parent_account_id)
            fields = {name: getattr(wanted, name) for name in changes}
            change = self._update_change(UPDATE, current, fields, version)
            self._gate(uow, principal, change)
            changed = self._apply_update(uow, principal, change)
            uow.commit()
        return changed

    def _apply_update(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> Account:
        current, wanted = self._proposed_over(uow, change, Account)
        if wanted.parent_account_id != current.parent_account_id:
            _check_parent(uow, current.key, wanted.parent_account_id)
        return self._write_update(uow, principal, change, current, wanted, domain="crm")

    def get(self, principal: Principal, account_id: UUID) -> Account:
        """Read one account."""
        with self._begin(principal, GET) as uow:
            return uow.crm.accounts.get(account_id)

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
        if account_type is not None:
            try:
                account_type = AccountType(account_type)
            except (ValueError, TypeError):
                allowed = ", ".join(t.value for t in AccountType)
                raise ValidationFailed(
                    "account_type", f"must be one of: {allowed}", value=account_type
                ) from None
        with self._begin(principal, LIST) as uow:
            return uow.crm.account_list(
                search=search,
                account_type=account_type,
                parent_account_id=parent_account_id,
                limit=limit,
                cursor=cursor,
            )
