"""Who applies which change: the table of governed operations and the functions that write them.

The composition root (:mod:`velocity_domain.velocity`) declares the table:
one :class:`Route` per governed operation, naming the service method that
applies it. Nothing registers itself as a side effect of being constructed.

An applier runs inside the executor's unit of work and writes the change with
the same rules as the direct service call would (the pipeline, reference
checks, history rows, the audit event). It returns the row as written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from velocity_domain.access.principal import Principal
from velocity_domain.errors import ValidationFailed
from velocity_domain.governance.change import ProposedChange
from velocity_domain.kernel.model import Entity
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import ChangeKind

__all__ = ["Applier", "Appliers", "Route"]

#: Writes one approved change inside the given unit of work; returns the row written.
Applier = Callable[[UnitOfWork, Principal, ProposedChange], Entity]


def _names(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


@attrs.frozen
class Route:
    """One governed operation: the table and kind of change it writes, and its applier.

    ``fields`` lists the fields the operation may change (``None``: any field
    of the table); it lets a generic proposal find its operation.
    ``validate_row`` is false for an operation whose proposed fields alone
    do not make a valid row (its applier sets the rest, as a conversion sets
    the link it creates); such a change is checked by its applier only.
    """

    operation: str
    table: str
    kind: ChangeKind
    apply: Applier
    fields: frozenset[str] | None = attrs.field(default=None, converter=_names)
    validate_row: bool = True


class Appliers:
    """The table of governed operations, declared by the composition root."""

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        self._routes: dict[str, Route] = {}
        for route in routes:
            if route.operation in self._routes:
                raise ValueError(f"governed operation {route.operation} declared twice")
            self._routes[route.operation] = route

    def register(
        self,
        operation: str,
        table: str,
        kind: ChangeKind,
        apply: Applier,
        *,
        fields: Iterable[str] | None = None,
        validate_row: bool = True,
    ) -> None:
        """Add (or replace) the applier of ``operation``, e.g. a host's own governed table."""
        self._routes[operation] = Route(operation, table, kind, apply, fields, validate_row)

    @property
    def routes(self) -> tuple[Route, ...]:
        """Every governed operation, in the order declared."""
        return tuple(self._routes.values())

    def get(self, operation: str) -> Route:
        """Return the route of ``operation``; an unknown one is a ``ValidationFailed``."""
        route = self._routes.get(operation)
        if route is None:
            raise ValidationFailed(
                "operation", "no governed operation of this name", value=operation
            )
        return route

    def route(self, table: str, kind: ChangeKind, fields: Iterable[Any]) -> Route:
        """Find the operation that writes ``kind`` changes of ``fields`` to ``table``.

        An operation that lists its fields is preferred to one that takes any;
        fields no single operation covers together are refused, naming them.
        """
        names = frozenset(str(f) for f in fields)
        candidates = [r for r in self._routes.values() if r.table == table and r.kind is kind]
        if not candidates:
            allowed = sorted({r.kind.value for r in self._routes.values() if r.table == table})
            what = f"only {', '.join(allowed)}" if allowed else "nothing"
            raise ValidationFailed(
                "change_kind",
                f"{kind.value} of {table} cannot be proposed ({what} can)",
                value=kind.value,
            )
        specific = [r for r in candidates if r.fields is not None and names <= r.fields]
        if specific:
            return min(specific, key=lambda r: len(r.fields or ()))
        general = [r for r in candidates if r.fields is None]
        if general:
            return general[0]
        raise ValidationFailed(
            "fields",
            "these fields cannot change together in one proposal: " + ", ".join(sorted(names)),
            value=sorted(names),
        )
