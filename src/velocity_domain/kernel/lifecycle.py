"""Explicit lifecycles: a transition table over an enum, and nothing more.

>>> import enum
>>> class Light(enum.StrEnum):
...     RED = "red"
...     GREEN = "green"
...     OFF = "off"
>>> light = Lifecycle("light", {Light.RED: {Light.GREEN, Light.OFF}, Light.GREEN: {Light.RED}})
>>> light.transition(Light.RED, Light.GREEN)
<Light.GREEN: 'green'>
>>> light.transition(Light.OFF, Light.RED)
Traceback (most recent call last):
...
velocity_domain.errors.InvalidTransition: light: cannot move from off to red; allowed: none ...
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

from velocity_domain.errors import InvalidTransition

__all__ = ["Lifecycle"]

S = TypeVar("S", bound=enum.Enum)


class Lifecycle(Generic[S]):
    """A named state machine given as ``{state: allowed targets}``.

    States missing from the table are terminal. Building one checks the table:
    every target must be a member of the same enum.
    """

    def __init__(self, name: str, table: Mapping[S, Iterable[S]]) -> None:
        if not table:
            raise ValueError(f"lifecycle {name!r} needs at least one transition")
        first = next(iter(table))
        self.states: type[S] = type(first)
        edges: dict[S, frozenset[S]] = {state: frozenset() for state in self.states}
        for source, raw_targets in table.items():
            targets = frozenset(raw_targets)
            for state in (source, *targets):
                if not isinstance(state, self.states):
                    raise ValueError(f"lifecycle {name!r}: {state!r} is not a {self.states}")
            edges[source] = targets
        self.name = name
        self._edges = edges

    def allowed(self, current: S) -> frozenset[S]:
        """Return the states ``current`` may move to (empty for a terminal state)."""
        return self._edges[current]

    def can(self, current: S, target: S) -> bool:
        """Say whether ``current -> target`` is in the table."""
        return target in self._edges.get(current, frozenset())

    def is_terminal(self, state: S) -> bool:
        """Say whether no transition leaves ``state``."""
        return not self._edges[state]

    def transition(self, current: S, target: S) -> S:
        """Return ``target`` if the move is allowed, else raise ``InvalidTransition``."""
        if not self.can(current, target):
            raise InvalidTransition(self.name, current, target, self._edges.get(current, ()))
        return target

    @property
    def edges(self) -> Mapping[S, frozenset[S]]:
        """The whole table, terminal states included (mapped to an empty set)."""
        return dict(self._edges)

    def __repr__(self) -> str:
        return f"Lifecycle({self.name!r}, {len(self._edges)} states)"
