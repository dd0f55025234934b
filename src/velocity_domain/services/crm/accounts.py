"""The accounts route family (``/api/crm/accounts``): accounts and their hierarchy.

An account may name a parent account; the hierarchy is a forest, so a parent
that is the account itself or one of its descendants is refused.

Creating and changing an account pass the writeback policy (spec section 9)
first; by default a person's change goes straight on and an agent's is
stored for review (``ApprovalRequired``). The parent is checked when the call
is made and again when the change is applied, since the hierarchy may have
moved while a proposal waited.

An account that the duplicate rules of the governance
(``governance.account_rules``, see :mod:`velocity_domain.crm.duplicates`)
match with an existing one, by default the same name once legal forms are
set aside ("Prestige Estates Pvt. Ltd." and "PRESTIGE ESTATES") or the same
web domain in ``metadata_json`` (``domain``, ``website`` or
``email_domain``), raises ``DuplicateSuspected`` unless the caller passes
``allow_duplicate=True``, which the audit event records with the rule
evidence. The check runs when the call is made and again when the change is
applied; it runs on a change of name or metadata only.

The candidates are found by one indexed query: the accounts whose name
holds the new name's key as it is written ("prestige estates" in "Prestige
Estates Pvt. Ltd."; a search the trigram index of ``account_name`` serves),
at most :data:`CANDIDATES` of them. So an account is not found when its name
writes the key otherwise (other punctuation or spacing between the words,
accents), or holds no more than the web domain in common ("Prestige Group"
and "Prestige Estates" of one domain).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.crm.duplicates import WARN_AT, AccountProfile, DuplicateRules, RuleMatch
from velocity_domain.crm.entities import Account, AccountType
from velocity_domain.errors import DuplicateSuspected, ValidationFailed
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.service import GovernedUpdate, Service, serves
from velocity_domain.kernel.arguments import UNCHANGED, Unchanged, Version, changes
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, Page
from velocity_domain.kernel.query import Contains, Query
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

#: The most accounts one duplicate check reads.
CANDIDATES = 50


def _candidates(uow: UnitOfWork, profile: AccountProfile) -> list[Account]:
    """Accounts whose name holds ``profile``'s name key (one query)."""
    if not profile.name_key:
        return []
    query = Query((Contains(("account_name",), profile.name_key),), limit=CANDIDATES)
    return list(uow.crm.accounts.list(query).items)


def _judged(
    rules: DuplicateRules, account: Account, others: list[Account]
) -> list[tuple[Account, RuleMatch]]:
    """The accounts of ``others`` that ``rules`` match with ``account``, strongest first."""
    me = AccountProfile.of(account)
    found: list[tuple[Account, RuleMatch]] = []
    for other in others:
        if other.key == account.key:
            continue
        match = rules.compare(me, AccountProfile.of(other))
        if match is not None and match.confidence >= WARN_AT:
            found.append((other, match))
    found.sort(key=lambda s: -s[1].confidence)
    return found


def _suspects(
    uow: UnitOfWork, rules: DuplicateRules, account: Account, before: Account | None
) -> list[tuple[Account, RuleMatch]]:
    """The accounts ``account`` probably duplicates; for a change, only those it makes."""
    found = _judged(rules, account, _candidates(uow, AccountProfile.of(account)))
    if before is None or not found:
        return found
    known = {a.key for a, _ in _judged(rules, before, [a for a, _ in found])}
    return [(a, m) for a, m in found if a.key not in known]


def _identity_moved(current: Account, wanted: Account) -> bool:
    """Whether a change touches what the account rules compare (name, metadata)."""
    return (wanted.account_name, wanted.metadata_json) != (
        current.account_name,
        current.metadata_json,
    )


def _carried(change: ProposedChange) -> tuple[Any, str | None]:
    """The ``allow_duplicate`` flag and the reason a proposal carries in its context."""
    return change.context.get("allow_duplicate", False), change.context.get("reason")


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
        allow_duplicate: bool = False,
        reason: str | None = None,
    ) -> Account:
        """Create an account, optionally under an existing parent account.

        One the account rules match with an existing account is
        ``DuplicateSuspected`` unless ``allow_duplicate``. The write passes
        the writeback policy first (``ApprovalRequired`` when it asks for a
        review).
        """
        now = self.clock.now()
        details: dict[str, Any] | None = None

        def build(uow: UnitOfWork) -> Account:
            nonlocal details
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
            details = self._screen(uow, account, allow_duplicate)
            return account

        return self._governed_create(
            principal,
            CREATE,
            build,
            context={"allow_duplicate": allow_duplicate, "reason": reason},
            insert=lambda uow, who, row: self._insert(uow, who, row, details, reason),
        )

    def _insert(
        self,
        uow: UnitOfWork,
        principal: Principal,
        account: Account,
        details: dict[str, Any] | None,
        reason: str | None,
    ) -> Account:
        _check_parent(uow, account.key, account.parent_account_id)
        return self._add_audited(
            uow, principal, CREATE.name, account, domain="crm", reason=reason, details=details
        )

    def _apply_create(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> Account:
        account = self._new_row(change, Account)
        allow_duplicate, reason = _carried(change)
        # Checked again: a duplicate may have appeared since the proposal was made.
        details = self._screen(uow, account, allow_duplicate)
        return self._insert(uow, principal, account, details, reason)

    def _screen(
        self,
        uow: UnitOfWork,
        account: Account,
        allow_duplicate: bool,
        before: Account | None = None,
    ) -> dict[str, Any] | None:
        """Look for accounts ``account`` duplicates under the governance's account rules.

        ``before`` is the stored account of a change: only duplicates the
        change makes count. Returns the audit details of an allowed duplicate (``None`` when
        nothing matches); raises ``DuplicateSuspected`` for one not allowed.
        """
        if not isinstance(allow_duplicate, bool):
            raise ValidationFailed("allow_duplicate", "must be True or False")
        suspects = _suspects(uow, self.governance.account_rules, account, before)
        if not suspects:
            return None
        best = suspects[0][1]
        if not allow_duplicate:
            raise DuplicateSuspected(
                Account.table_name,
                [a.key for a, _ in suspects],
                best.field,
                rule=best.rule,
                confidence=best.confidence,
            )
        return {
            "duplicate_allowed": True,
            "matched_on": best.field,
            "existing_ids": [str(a.key) for a, _ in suspects],
            "matches": [{"account_id": str(a.key), **m.to_json()} for a, m in suspects],
        }

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
        allow_duplicate: bool = False,
        reason: str | None = None,
    ) -> Account:
        """Change the named fields of an account if it is still at ``expected_version``.

        A stale version is ``ConcurrencyConflict`` at once; the change passes
        the writeback policy before it is written. ``metadata_json=None``
        empties the metadata. A new name or metadata that the account rules
        match with another account is ``DuplicateSuspected`` unless
        ``allow_duplicate``.
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

        def screened(uow: UnitOfWork, current: Account, wanted: Account) -> None:
            if _identity_moved(current, wanted):
                self._screen(uow, wanted, allow_duplicate, current)

        return self._governed_update(
            principal,
            _UPDATE,
            account_id,
            expected_version,
            named,
            context={"allow_duplicate": allow_duplicate, "reason": reason},
            check=screened,
            apply=self._apply_update,
        )

    def _apply_update(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> Account:
        current, wanted = self._proposed_over(uow, change, Account)
        _check_new_parent(uow, current, wanted)
        allow_duplicate, reason = _carried(change)
        details = None
        if _identity_moved(current, wanted):
            details = self._screen(uow, wanted, allow_duplicate, current)
        return self._write_update(
            uow, principal, change, current, wanted, domain="crm", reason=reason, details=details
        )

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
