"""What every service shares: units of work, the clock, authorisation and auditing.

Every public method of a :class:`Service` subclass is wrapped when the class
is made: it names the registered operation it serves (``@serves(OPERATION)``,
which also fills :data:`OPERATION_METHODS`), and each call's arguments are
checked against the method's type hints before the body runs
(:class:`~velocity_domain.kernel.arguments.ArgumentChecks`): a bad value is
``ValidationFailed`` naming the argument, whichever store is behind. The
checks read nothing from the store, so they reveal nothing to a caller
without the permission, which the body checks first thing (``_begin``). A
public method without ``@serves`` is a ``TypeError`` when its class is
defined, so no service can skip the checks.

Every governed write goes through one of two helpers,
:meth:`Service._governed_create` and :meth:`Service._governed_update`, which
run the sequence begin → load (visible) → check the version → check the
change → describe it → policy gate → apply (with its audit event) → commit;
a service method passes only what is its own: the checks and the applier.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar
from uuid import UUID

import attrs

from velocity_domain.access import audit
from velocity_domain.access.operations import Operation, authorize
from velocity_domain.access.principal import Principal
from velocity_domain.access.visibility import Visibility
from velocity_domain.errors import ConcurrencyConflict
from velocity_domain.governance.change import ProposedChange, plain_values
from velocity_domain.governance.engine import Governance
from velocity_domain.kernel.arguments import ArgumentChecks
from velocity_domain.kernel.clock import Clock
from velocity_domain.kernel.model import Entity, VersionedEntity
from velocity_domain.kernel.query import Filter
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import ChangeKind

__all__ = [
    "OPERATION_METHODS",
    "Check",
    "GovernedUpdate",
    "Service",
    "applier",
    "argument_checks",
    "creator",
    "delegated",
    "serves",
]

E = TypeVar("E", bound=Entity)
V = TypeVar("V", bound=VersionedEntity)
F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")
P = ParamSpec("P")

#: The applier of a governed operation: writes an approved (or let-through) change.
Apply = Callable[[UnitOfWork, Principal, ProposedChange], R]

_SERVES = "__velocity_serves__"
_CHECKS = "__velocity_checks__"

#: The method serving each registered operation: operation name -> (service class, method name).
OPERATION_METHODS: dict[str, tuple[type[Service], str]] = {}


def serves(operation: Operation | None) -> Callable[[F], F]:
    """Mark a public service method as the one serving ``operation``.

    ``None`` marks a public method that is no registered operation (such as
    ``sessions.authenticate``, which has no principal yet); its arguments are
    still checked.
    """

    def mark(method: F) -> F:
        setattr(method, _SERVES, operation)
        return method

    return mark


def _checked(method: Callable[..., Any], operation: Operation | None) -> Callable[..., Any]:
    """``method`` behind the checks of its arguments."""
    checks = ArgumentChecks(method)

    @functools.wraps(method)
    def call(self: Service, *args: Any, **kwargs: Any) -> Any:
        bound = checks.bind(args, kwargs)
        checks.check(bound)
        return method(self, *bound.args, **bound.kwargs)

    setattr(call, _CHECKS, checks)
    setattr(call, _SERVES, operation)
    return call


def delegated(
    operation: Operation, helper: str, method: Callable[Concatenate[Any, P], R]
) -> Callable[Concatenate[Any, P], R]:
    """A public method serving ``operation`` by handing the call to ``method`` of a helper.

    ``helper`` names the attribute holding the helper service (as
    ``velocity.inventory`` holds the service of unit status moves); the new
    method has ``method``'s name, signature and docstring, so its arguments
    are checked from the same hints, and only the helper's code runs.
    """
    name = method.__name__

    @functools.wraps(method, updated=())  # not the helper's checks and marks
    def call(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound: Callable[P, R] = getattr(getattr(self, helper), name)
        return bound(*args, **kwargs)

    setattr(call, _SERVES, operation)
    return call


def argument_checks(method: Callable[..., Any]) -> ArgumentChecks:
    """The argument checks of a public service method (as wrapped by :class:`Service`)."""
    checks = getattr(method, _CHECKS, None)
    if not isinstance(checks, ArgumentChecks):
        raise TypeError(f"{method!r} is not a checked service method")
    return checks


#: A check of a governed update: ``check(uow, before, candidate)`` raises to refuse it.
Check = Callable[[UnitOfWork, V, V], None]


@attrs.frozen
class GovernedUpdate(Generic[V]):
    """One governed update, declared once for the direct call and its applier.

    ``check(uow, before, candidate)`` refuses what is specific to the
    operation; it runs before the policy sees the change and again when the
    change is applied (directly, or later from an approved writeback).
    ``validate`` is false for a change whose proposed fields alone do not
    make a valid row (its applier sets the rest, as a conversion sets the
    link it creates); the check then sees the row as it was.
    """

    operation: Operation
    cls: type[V]
    #: The ``target_domain`` of the audit event.
    domain: str
    check: Check[V] | None = None
    validate: bool = True


def applier(
    update: GovernedUpdate[V],
) -> Callable[[Service, UnitOfWork, Principal, ProposedChange], V]:
    """The applier method of ``update``, as the composition root's table of operations names it.

    It runs the same code as the direct call's default applier
    (:meth:`Service._write_proposed`).
    """

    def apply(self: Service, uow: UnitOfWork, principal: Principal, change: ProposedChange) -> V:
        return self._write_proposed(uow, principal, change, update)

    apply.__doc__ = f"Apply an approved or let-through ``{update.operation.name}``."
    return apply


def creator(
    cls: type[V], insert: Callable[[Any, UnitOfWork, Principal, V], R]
) -> Callable[[Any, UnitOfWork, Principal, ProposedChange], R]:
    """The applier method of a governed create: the proposed row, built now, through ``insert``.

    ``insert`` is the service's own method that the direct call also ends
    with (it checks the row again and writes it with its audit event).
    """

    def apply(self: Service, uow: UnitOfWork, principal: Principal, change: ProposedChange) -> R:
        return insert(self, uow, principal, self._new_row(change, cls))

    apply.__doc__ = f"Apply an approved or let-through creation of a {cls.__name__}."
    return apply


class Service:
    """Base of the services: opens units of work and checks permissions first."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap every public method of the new service class in its checks."""
        super().__init_subclass__(**kwargs)
        for name in dir(cls):
            if name.startswith("_"):
                continue
            method = inspect.getattr_static(cls, name)
            if not inspect.isfunction(method) or hasattr(method, _CHECKS):
                continue
            if not hasattr(method, _SERVES):
                raise TypeError(
                    f"{cls.__name__}.{name} is public: mark it @serves(<operation>) or make it"
                    " private"
                )
            operation: Operation | None = getattr(method, _SERVES)
            setattr(cls, name, _checked(method, operation))
            if operation is not None:
                OPERATION_METHODS.setdefault(operation.name, (cls, name))

    def __init__(
        self,
        unit_of_work: Callable[..., UnitOfWork],
        clock: Clock,
        governance: Governance | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self.clock = clock
        #: The writeback policy and appliers (shared by every service of one Velocity).
        self.governance = governance if governance is not None else Governance()

    def _governed_create(
        self,
        principal: Principal,
        operation: Operation,
        build: Callable[[UnitOfWork], E],
        *,
        insert: Callable[[UnitOfWork, Principal, E], R],
        context: Mapping[str, Any] | None = None,
    ) -> R:
        """Create the row ``build`` makes, if the writeback policy lets it through.

        The sequence of every governed create: authorise ``principal`` and
        open a unit of work; ``build(uow)`` checks the caller's references and
        returns the new row (its errors reach the caller, nothing written);
        the row is described as a change (with ``context``, which travels with
        a proposal) and put to the policy; ``insert(uow, principal, row)``
        writes it with its audit event; the unit of work commits.

        The helper owns the unit of work. When the policy wants a review, the
        gate stores the proposal, commits it (the only write the unit of work
        holds, since ``build`` only reads) and raises ``ApprovalRequired``;
        a refusal is ``PolicyDenied`` with nothing written.
        """
        with self._begin(principal, operation) as uow:
            row = build(uow)
            self._gate(uow, principal, self._create_change(operation, row, context))
            created = insert(uow, principal, row)
            uow.commit()
        return created

    def _governed_update(
        self,
        principal: Principal,
        update: GovernedUpdate[V],
        key: UUID,
        expected_version: int | None,
        changes: Mapping[str, Any] | Callable[[V], Mapping[str, Any]],
        *,
        context: Mapping[str, Any] | None = None,
        apply: Apply[R],
        check: Check[V] | None = None,
    ) -> R:
        """Change the row ``key`` as ``changes`` says, if the writeback policy lets it through.

        The sequence of every governed update: authorise ``principal`` for
        ``update.operation`` and open a unit of work; read the row, which
        must exist and be visible to ``principal`` (``NotFound`` alike
        otherwise); refuse a stale ``expected_version`` with
        ``ConcurrencyConflict`` (``None`` bases the change on the version
        read, for a write that carries none); lay the named values over the
        row, which validates them (unless ``update.validate`` is false);
        run ``update.check`` and the call's own ``check`` (``check(uow,
        before, candidate)``); describe the change (with ``context``, which
        travels with a proposal) and put it to the policy; apply it with
        ``apply(uow, principal, change)``, the applier an approved writeback
        of ``update`` runs (:func:`applier` makes the usual one); commit.
        ``changes`` may be a function of the row read, for values that
        depend on it. Returns what the applier returns.

        The helper owns the unit of work: nothing before the gate writes.
        When the policy wants a review, the gate stores the proposal, commits
        it (the only write the unit of work holds) and raises
        ``ApprovalRequired``; a refusal is ``PolicyDenied`` with nothing
        written. So a service method calls this helper last, with no writes
        of its own before it.
        """
        with self._begin(principal, update.operation) as uow:
            before = self._visibility(uow, principal).get(update.cls, key, update.cls.key_field)
            version = before.version if expected_version is None else expected_version
            if before.version != version:
                raise ConcurrencyConflict(before.table_name, before.key, version, before.version)
            named = dict(changes(before) if callable(changes) else changes)
            candidate = before
            if update.validate:
                # Validated values, so that 5 and 5.00 are the same price to the policy.
                candidate = attrs.evolve(before, **named)
                named = {name: getattr(candidate, name) for name in named}
            for each in (update.check, check):
                if each is not None:
                    each(uow, before, candidate)
            change = self._update_change(
                update.operation, before, named, version, context, check=False
            )
            self._gate(uow, principal, change)
            changed = apply(uow, principal, change)
            uow.commit()
        return changed

    def _write_proposed(
        self,
        uow: UnitOfWork,
        principal: Principal,
        change: ProposedChange,
        update: GovernedUpdate[V],
        *,
        check: Check[V] | None = None,
        reason: str | None = None,
    ) -> V:
        """Apply ``change``, an ``update`` of a row: its fields laid over the row as it is now.

        ``update.check`` runs again here, since the world may have moved while
        a proposal waited, then the applier's own ``check``; the row is
        written at the proposal's version with its audit event.
        """
        before, candidate = self._proposed_over(uow, change, update.cls)
        for each in (update.check, check):
            if each is not None:
                each(uow, before, candidate)
        return self._write_update(
            uow, principal, change, before, candidate, domain=update.domain, reason=reason
        )

    @staticmethod
    def _update_change(
        operation: Operation,
        before: VersionedEntity,
        changes: dict[str, Any],
        base_version: int,
        context: Mapping[str, Any] | None = None,
        *,
        check: bool = True,
    ) -> ProposedChange:
        """Describe an update of ``before`` as a change the policy can judge.

        The new values are checked against the entity first (unless ``check``
        is false, for a change whose other fields only its applier sets), so
        a bad value is refused (``ValidationFailed``) before any policy sees it.
        """
        if before.version != base_version:
            raise ConcurrencyConflict(before.table_name, before.key, base_version, before.version)
        if check:
            # Validated values, so that 5 and 5.00 are the same price to the policy.
            candidate = attrs.evolve(before, **changes)
            changes = {name: getattr(candidate, name) for name in changes}
        return ProposedChange(
            operation=operation.name,
            target_table=before.table_name,
            change_kind=ChangeKind.UPDATE,
            target_ref=before.key,
            base_version=base_version,
            fields=plain_values(changes),
            current=plain_values({name: getattr(before, name) for name in changes}),
            context=dict(context or {}),
        )

    @staticmethod
    def _create_change(
        operation: Operation, entity: Entity, context: Mapping[str, Any] | None = None
    ) -> ProposedChange:
        """Describe the creation of ``entity`` as a change the policy can judge."""
        skip = {"created_at", "updated_at", "version"}
        values = {
            f.name: getattr(entity, f.name)
            for f in attrs.fields(type(entity))
            if f.init and f.name not in skip
        }
        return ProposedChange(
            operation=operation.name,
            target_table=entity.table_name,
            change_kind=ChangeKind.CREATE,
            fields=plain_values(values),
            context=dict(context or {}),
        )

    def _new_row(self, change: ProposedChange, cls: type[V]) -> V:
        """The row an approved create writes: built from its fields, stamped with the time now."""
        built = change.build()
        if not isinstance(built, cls):  # pragma: no cover - a route registered for another table
            raise TypeError(f"{change.operation} builds {type(built).__name__}, not {cls.__name__}")
        now = self.clock.now()
        return attrs.evolve(built, created_at=now, updated_at=now)

    @staticmethod
    def _proposed_over(uow: UnitOfWork, change: ProposedChange, cls: type[V]) -> tuple[V, V]:
        """The row an approved update changes, and the row with the proposed values laid over it."""
        assert change.target_ref is not None
        before = uow.mutable(cls).get(change.target_ref)
        return before, attrs.evolve(before, **change.typed_fields(before))

    def _write_update(
        self,
        uow: UnitOfWork,
        principal: Principal,
        change: ProposedChange,
        before: V,
        candidate: V,
        *,
        domain: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> V:
        """Write ``candidate`` over ``before`` at the proposal's version, with its audit event."""
        return self._update_audited(
            uow,
            principal,
            change.operation,
            before,
            candidate,
            domain=domain,
            expected_version=change.base_version,
            reason=reason,
            details=details,
        )

    def _update_audited(
        self,
        uow: UnitOfWork,
        principal: Principal,
        action: str,
        before: V,
        candidate: V,
        *,
        domain: str,
        target_ref: object | None = None,
        expected_version: int | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> V:
        """Write ``candidate`` over ``before`` with the audit event of ``action``; return it.

        The row must still be at ``expected_version`` (default: ``before``'s
        version); the event's target is the row unless ``target_ref`` names
        another (as a household for a change of its member).
        """
        after = uow.mutable(type(before)).update(candidate, expected_version=expected_version)
        self._audit(
            uow,
            principal,
            action,
            target_domain=domain,
            target_ref=after.key if target_ref is None else target_ref,
            before=before,
            after=after,
            reason=reason,
            details=details,
        )
        return after

    def _create_audited(
        self,
        principal: Principal,
        operation: Operation,
        build: Callable[[UnitOfWork], E],
        *,
        domain: str,
    ) -> E:
        """Add the row ``build(uow)`` makes, with its audit event, in a unit of work of its own.

        For a write the writeback policy does not govern (a household, a
        medium, an import batch, an agent run): authorise, build (checking
        what the row refers to), add, audit, commit.
        """
        with self._begin(principal, operation) as uow:
            row = self._add_audited(uow, principal, operation.name, build(uow), domain=domain)
            uow.commit()
        return row

    def _add_audited(
        self,
        uow: UnitOfWork,
        principal: Principal,
        action: str,
        row: E,
        *,
        domain: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> E:
        """Add ``row`` in ``uow`` with the audit event of its creation; return it."""
        uow.table(type(row)).add(row)
        self._audit(
            uow,
            principal,
            action,
            target_domain=domain,
            target_ref=row.key,
            after=row,
            reason=reason,
            details=details,
        )
        return row

    def _gate(self, uow: UnitOfWork, principal: Principal, change: ProposedChange) -> None:
        """Ask the policy about ``change``: go on, or store a proposal and raise.

        Raises ``ApprovalRequired`` (after committing the proposal) when the
        policy wants a review, ``PolicyDenied`` when it refuses the change.
        """
        self.governance.gate(uow, self.clock, principal, change)

    def _begin(self, principal: Principal, operation: Operation) -> UnitOfWork:
        """Authorise ``principal`` for ``operation``, then return a new unit of work."""
        authorize(principal, operation)
        return self._unit_of_work()

    def _reading(self, principal: Principal, operation: Operation) -> UnitOfWork:
        """Authorise ``principal`` for ``operation``, then return a unit of work that only reads."""
        authorize(principal, operation)
        return self._unit_of_work(read_only=True)

    @staticmethod
    def _visibility(uow: UnitOfWork, principal: Principal) -> Visibility:
        return Visibility(uow, principal)

    @staticmethod
    def _seen_only(uow: UnitOfWork, principal: Principal, where: list[Filter]) -> list[Filter]:
        """``where`` and the rule keeping the rows of clients ``principal`` may see (if any)."""
        rule = Visibility(uow, principal).rule()
        return where if rule is None else [*where, rule]

    def _audit(
        self,
        uow: UnitOfWork,
        principal: Principal,
        action: str,
        *,
        target_domain: str,
        target_ref: object | None = None,
        before: Entity | None = None,
        after: Entity | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        audit.record(
            uow,
            self.clock,
            principal,
            action,
            target_domain=target_domain,
            target_ref=target_ref,
            before=before,
            after=after,
            reason=reason,
            details=details,
        )
