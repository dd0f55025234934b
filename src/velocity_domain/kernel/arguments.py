"""Argument checks for service methods, read from their signatures.

Every public service method is checked before its body runs by
:class:`ArgumentChecks`, built from the method's type hints: a value of the
wrong type or a malformed one is refused with ``ValidationFailed`` naming the
argument, before any store is touched, so both stores answer alike. The
rules, by hint:

- ``UUID``: a :class:`~uuid.UUID` (a string, even a well-formed one, is refused).
- an enum (``Stage | str`` too): a member or one of its values, passed on as the member.
- ``datetime``: timezone-aware; ``date``: a date that is not a datetime; ``timedelta``.
- ``bool``: ``True`` or ``False`` only; ``int``: an integer that is not a bool.
- ``Decimal``: a finite Decimal or an int; a float is refused (it loses
  precision) unless the hint also names ``float``, which must then be finite.
- ``str``: text without NUL characters or lone surrogates (PostgreSQL cannot
  store either).
- collections (``Iterable[str]``, ``list[X]``, ``Sequence[X]``): any
  iterable except text, bytes and mappings (a bare string is never walked
  letter by letter), each item checked; passed on as a tuple (a list for
  ``list[X]``).
- ``Mapping[str, Any]``/``dict``: a mapping with text keys, whose text
  anywhere inside follows the ``str`` rule.
- ``Version`` (``Annotated[int, AtLeast(1)]``): an integer of at least 1.
- ``Unchanged``: only :data:`UNCHANGED`, the default of every update argument.

Updates take each field they may change as a keyword argument defaulting to
:data:`UNCHANGED`; :func:`changes` collects the ones named and refuses an
update naming none.
"""

from __future__ import annotations

import enum
import inspect
import math
import types
import typing
from collections import abc
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Final, NamedTuple, TypeVar
from uuid import UUID

import attrs

from velocity_domain.errors import ValidationFailed

__all__ = [
    "UNCHANGED",
    "ArgumentChecks",
    "AtLeast",
    "Unchanged",
    "Version",
    "changes",
    "coordinate_arg",
    "enum_arg",
    "number_arg",
    "text_problem",
    "uuid_arg",
    "version_arg",
]

En = TypeVar("En", bound=enum.Enum)


class Unchanged(enum.Enum):
    """The type of :data:`UNCHANGED`: "leave this field as it is" in an update."""

    UNCHANGED = "unchanged"

    def __repr__(self) -> str:
        return "UNCHANGED"


#: The default of every update argument: the field keeps its value.
UNCHANGED: Final = Unchanged.UNCHANGED


def changes(**given: object) -> dict[str, Any]:
    """The fields an update names (the arguments not left ``UNCHANGED``).

    An update naming no field is refused (``ValidationFailed`` on ``changes``),
    so it never writes a new version that changes nothing.
    """
    named = {name: value for name, value in given.items() if value is not UNCHANGED}
    if not named:
        raise ValidationFailed(
            "changes", f"name at least one field to change: {', '.join(sorted(given))}"
        )
    return named


@attrs.frozen
class AtLeast:
    """``Annotated`` metadata: the integer must be at least ``minimum``."""

    minimum: int


#: A row version given as ``expected_version``: an integer of at least 1.
Version = Annotated[int, AtLeast(1)]


def text_problem(value: str) -> str | None:
    """What makes ``value`` unstorable text (a NUL or a lone surrogate), or ``None``."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode text)"
    return None


def enum_arg(cls: type[En], value: object, field: str) -> En:
    """Return ``value`` as a member of ``cls`` or refuse it, listing the allowed values."""
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)
        raise ValidationFailed(field, f"must be one of: {allowed}", value=value) from None


def version_arg(value: object, field: str = "expected_version") -> int:
    """Return a valid version (an integer of at least 1); ``field`` names it in errors."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(field, f"must be an integer, not {type(value).__name__}")
    if value < 1:
        raise ValidationFailed(field, f"must be at least 1, got {value}")
    return value


def uuid_arg(value: object, field: str) -> UUID:
    """Return ``value`` if it is a UUID, else refuse it (for values that are not arguments)."""
    if not isinstance(value, UUID):
        raise ValidationFailed(field, f"must be a UUID, not {type(value).__name__}", value=value)
    return value


def number_arg(value: object, field: str, low: float, high: float) -> float:
    """Return ``value`` as a float within ``[low, high]``, else refuse it."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValidationFailed(field, f"must be a number, not {type(value).__name__}")
    number = float(value)
    if not low <= number <= high:
        raise ValidationFailed(field, f"must be between {low:g} and {high:g}, got {value}")
    return number


def coordinate_arg(value: object, field: str, bound: int) -> Decimal:
    """Return a latitude or longitude within ``±bound`` as an exact Decimal."""
    number_arg(value, field, -bound, bound)
    if isinstance(value, float):
        return Decimal(repr(value))
    assert isinstance(value, int | Decimal)
    return Decimal(value)


# -- checks built from type hints ------------------------------------------------------------


class _Refused(Exception):
    """One check's refusal; ``typed`` when the value had the right type but a bad content."""

    def __init__(self, reason: str, *, typed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.typed = typed


class _Check(NamedTuple):
    label: str
    run: Callable[[Any], Any]


def _kind(value: object) -> str:
    return type(value).__name__


def _instance(cls: type, label: str) -> _Check:
    def run(value: Any) -> Any:
        if not isinstance(value, cls) or (isinstance(value, bool) and cls is not bool):
            raise _Refused(f"must be {label}, not {_kind(value)}")
        return value

    return _Check(label, run)


def _text(value: Any) -> Any:
    if not isinstance(value, str):
        raise _Refused(f"must be text, not {_kind(value)}")
    problem = text_problem(value)
    if problem is not None:
        raise _Refused(problem, typed=True)
    return value


def _aware(value: Any) -> Any:
    if not isinstance(value, datetime):
        raise _Refused(f"must be a timezone-aware datetime, not {_kind(value)}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _Refused("must be a timezone-aware datetime, not a naive one", typed=True)
    return value


def _day(value: Any) -> Any:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise _Refused(f"must be a date, not {_kind(value)}")
    return value


def _decimal(accept_float: bool) -> _Check:
    def run(value: Any) -> Any:
        if isinstance(value, bool):
            raise _Refused("must be a Decimal or an int, not bool")
        if isinstance(value, float) and accept_float:
            if not math.isfinite(value):
                raise _Refused("must be a finite number", typed=True)
            return value
        if isinstance(value, float):
            raise _Refused("must be a Decimal or an int (floats lose precision)", typed=True)
        if isinstance(value, Decimal) and not value.is_finite():
            raise _Refused("must be a finite number", typed=True)
        if not isinstance(value, Decimal | int):
            raise _Refused(f"must be a Decimal or an int, not {_kind(value)}")
        return value

    return _Check("a Decimal or a float" if accept_float else "a Decimal", run)


def _enum(cls: type[enum.Enum]) -> _Check:
    allowed = ", ".join(str(member.value) for member in cls)

    def run(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if isinstance(value, str) and text_problem(value) is None:
            try:
                return cls(value)
            except ValueError:
                pass
        raise _Refused(f"must be one of: {allowed}", typed=isinstance(value, str))

    return _Check(f"one of {allowed}", run)


def _unchanged(value: Any) -> Any:
    if value is not UNCHANGED:
        raise _Refused("must be UNCHANGED")
    return value


def _none(value: Any) -> Any:
    if value is not None:
        raise _Refused("must be None")
    return value


def _anything(value: Any) -> Any:
    return value


def _json_text(value: Any, path: str) -> None:
    """Refuse text inside a mapping (keys and values, at any depth) that cannot be stored."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise _Refused(f"{problem} at {path}", typed=True)
    elif isinstance(value, float) and not math.isfinite(value):
        raise _Refused(f"holds a non-finite number at {path}", typed=True)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Refused(f"has a key that is not text at {path}", typed=True)
            _json_text(key, path)
            _json_text(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _json_text(item, f"{path}[{index}]")


def _mapping(value: Any) -> Any:
    if not isinstance(value, Mapping):
        raise _Refused(f"must be a mapping with text keys, not {_kind(value)}")
    _json_text(value, "$")
    return value


def _collection(item: _Check, make: Callable[[list[Any]], Any]) -> _Check:
    def run(value: Any) -> Any:
        if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(
            value, abc.Iterable
        ):
            raise _Refused(f"must be a collection of {item.label}, not {_kind(value)}")
        items = []
        for index, element in enumerate(value):
            try:
                items.append(item.run(element))
            except _Refused as refused:
                raise _Refused(f"item {index} {refused.reason}", typed=True) from None
        return make(items)

    return _Check(f"a collection of {item.label}", run)


def _union(members: list[_Check]) -> _Check:
    labels = " or ".join(member.label for member in members)

    def run(value: Any) -> Any:
        closest: _Refused | None = None
        for member in members:
            try:
                return member.run(value)
            except _Refused as refused:
                if refused.typed and closest is None:
                    closest = refused
        raise closest or _Refused(f"must be {labels}, not {_kind(value)}")

    return _Check(labels, run)


def _at_least(base: _Check, minimum: int) -> _Check:
    def run(value: Any) -> Any:
        value = base.run(value)
        if value < minimum:
            raise _Refused(f"must be at least {minimum}, got {value}", typed=True)
        return value

    return _Check(f"{base.label} of at least {minimum}", run)


_SIMPLE: dict[object, _Check] = {
    Any: _Check("anything", _anything),
    object: _Check("anything", _anything),
    type(None): _Check("None", _none),
    str: _Check("text", _text),
    bool: _instance(bool, "True or False"),
    int: _instance(int, "an integer"),
    UUID: _instance(UUID, "a UUID"),
    datetime: _Check("a timezone-aware datetime", _aware),
    date: _Check("a date", _day),
    timedelta: _instance(timedelta, "a timedelta"),
    Decimal: _decimal(accept_float=False),
    Unchanged: _Check("UNCHANGED", _unchanged),
}
_COLLECTIONS: dict[object, Callable[[list[Any]], Any]] = {
    list: list,
    tuple: tuple,
    set: frozenset,
    frozenset: frozenset,
    abc.Iterable: tuple,
    abc.Collection: tuple,
    abc.Sequence: tuple,
    abc.Set: frozenset,
}


def _callable(value: object) -> object:
    if not callable(value):
        raise _Refused(f"must be a function to call, not {_kind(value)}")
    return value


def _check_for(hint: object) -> _Check:
    """The check of one type hint; a hint nobody taught it is a programming error."""
    simple = _SIMPLE.get(hint)
    if simple is not None:
        return simple
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Annotated:
        base = _check_for(args[0])
        for meta in args[1:]:
            if isinstance(meta, AtLeast):
                base = _at_least(base, meta.minimum)
        return base
    if origin in (typing.Union, types.UnionType):
        return _union_of(args)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum(hint)
    if origin in _COLLECTIONS:
        item = _check_for(args[0]) if args else _SIMPLE[Any]
        return _collection(item, _COLLECTIONS[origin])
    if origin in (dict, abc.Mapping) or hint in (dict, abc.Mapping):
        return _Check("a mapping with text keys", _mapping)
    if origin is abc.Callable or hint is abc.Callable:
        return _Check("a callable", _callable)
    if isinstance(hint, type):
        return _instance(hint, f"a {hint.__name__}")
    raise TypeError(f"no argument check for the type hint {hint!r}")


def _union_of(args: tuple[Any, ...]) -> _Check:
    members = list(args)
    if any(isinstance(m, type) and issubclass(m, enum.Enum) and m is not Unchanged for m in args):
        # ``Stage | str``: the text must be one of the enum's values.
        members = [m for m in members if m is not str]
    if Decimal in members and float in members:
        members = [m for m in members if m is not float]
        return _union(
            [_decimal(accept_float=True) if m is Decimal else _check_for(m) for m in members]
        )
    if Decimal in members:
        members = [m for m in members if m is not int]
    return _union([_check_for(member) for member in members])


class ArgumentChecks:
    """The checks of one function's arguments, read from its signature and type hints.

    The hints are resolved on first use (so they may name classes defined
    after the function); :meth:`bind` matches a call to the signature and
    :meth:`check` checks and converts each argument given, in order.
    """

    def __init__(self, function: Callable[..., Any]) -> None:
        self._function = function
        signature = inspect.signature(function)
        parameters = list(signature.parameters.values())[1:]  # without self
        self._signature = signature.replace(parameters=parameters)
        self._checks: dict[str, _Check] | None = None

    @property
    def name(self) -> str:
        """The function's qualified name, for messages."""
        return self._function.__qualname__

    @property
    def parameters(self) -> Mapping[str, inspect.Parameter]:
        """The function's parameters (without ``self``)."""
        return self._signature.parameters

    def hints(self) -> dict[str, Any]:
        """The resolved type hint of each parameter."""
        return typing.get_type_hints(self._function, include_extras=True)

    def _compiled(self) -> dict[str, _Check]:
        if self._checks is None:
            hints = self.hints()
            self._checks = {
                name: _check_for(hints.get(name, Any))
                for name, parameter in self.parameters.items()
                if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
            }
        return self._checks

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
        """Match a call to the signature; an unknown, missing or extra argument is refused."""
        try:
            return self._signature.bind(*args, **kwargs)
        except TypeError:
            pass
        parameters = self.parameters
        for name in kwargs:
            parameter = parameters.get(name)
            if parameter is None or parameter.kind is parameter.POSITIONAL_ONLY:
                known = ", ".join(parameters)
                raise ValidationFailed(
                    name, f"is not an argument of {self.name}; it takes: {known}"
                ) from None
        positional = [
            p for p in parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if len(args) > len(positional):
            raise ValidationFailed(
                "arguments", f"{self.name} takes {len(positional)} positional arguments"
            ) from None
        given = {p.name for p in positional[: len(args)]} | set(kwargs)
        for name, parameter in parameters.items():
            if parameter.default is parameter.empty and name not in given:
                raise ValidationFailed(name, f"is required by {self.name}") from None
        raise ValidationFailed("arguments", f"do not match {self.name}{self._signature}") from None

    def check(self, bound: inspect.BoundArguments) -> None:
        """Check each given argument in order, replacing it by its converted value."""
        checks = self._compiled()
        for name, value in bound.arguments.items():
            check = checks.get(name)
            if check is None:
                continue
            try:
                bound.arguments[name] = check.run(value)
            except _Refused as refused:
                raise ValidationFailed(name, refused.reason) from None

    def check_value(self, name: str, value: object) -> Any:
        """Check one value as argument ``name`` would be checked; return it converted."""
        check = self._compiled()[name]
        try:
            return check.run(value)
        except _Refused as refused:
            raise ValidationFailed(name, refused.reason) from None
