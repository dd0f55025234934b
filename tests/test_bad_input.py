"""Every registered operation, every parameter, fed wrong and malformed values, on both stores.

The values are generated from each parameter's type hint: a pool of wrong
types and malformed values (non-UUID text, naive and textual datetimes, bools
for integers, NaN and infinite numbers, NUL and lone-surrogate text, a bare
string for a collection, bad items inside a collection or a mapping) is
filtered by :func:`accepts`, which states in a few lines what each hint
admits. Every value it refuses must come back as ``ValidationFailed`` naming
the parameter, and the in-memory store and PostgreSQL must answer the same.
"""

from __future__ import annotations

import enum
import inspect
import math
import types
import typing
from collections import abc
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import pytest
from sqlalchemy.engine import URL

from velocity_domain import Velocity
from velocity_domain.access.operations import OPERATIONS
from velocity_domain.access.principal import Principal
from velocity_domain.errors import AuthenticationFailed, ValidationFailed, VelocityError
from velocity_domain.governance.service import OPERATION_METHODS, Service, argument_checks
from velocity_domain.kernel.arguments import UNCHANGED, AtLeast, Unchanged
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.kernel.ids import new_id

NOW = datetime(2030, 1, 1, tzinfo=UTC)
EVERYONE = Principal.system("bad-input-walker")
SOME_ID = new_id()


@pytest.fixture(scope="module")
def stores(pg_url: URL) -> Iterator[tuple[Velocity, Velocity]]:
    """The same library over each store, side by side (nothing is written: checks come first)."""
    clock = FixedClock(NOW)
    url = pg_url.render_as_string(hide_password=False)
    with Velocity.in_memory(clock=clock) as memory, Velocity.from_url(url, clock=clock) as pg:
        yield memory, pg


# -- what each hint admits (the rules of kernel/arguments.py, stated independently) -----------


def _text_ok(value: object) -> bool:
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_ok(value: object) -> bool:
    if isinstance(value, str):
        return _text_ok(value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(_text_ok(k) and _json_ok(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_json_ok(v) for v in value)
    return True


def _members(hint: Any) -> tuple[Any, ...]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def accepts(hint: Any, value: object) -> bool:
    """Whether ``value`` is a good argument for ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in (Any, object):
        return True
    if origin is Annotated:
        minimum = next((m.minimum for m in args[1:] if isinstance(m, AtLeast)), None)
        return accepts(args[0], value) and (minimum is None or value >= minimum)
    if origin in (typing.Union, types.UnionType):
        enums = [
            m
            for m in args
            if isinstance(m, type) and issubclass(m, enum.Enum) and m is not Unchanged
        ]
        floats = float in args and Decimal in args
        rest = [m for m in args if not (enums and m is str) and not (floats and m is float)]
        if floats and isinstance(value, float):
            return math.isfinite(value)
        return any(accepts(m, value) for m in rest)
    if hint is type(None):
        return value is None
    if hint is Unchanged:
        return value is Unchanged.UNCHANGED
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return isinstance(value, hint) or any(value == m.value for m in hint)
    if hint is str:
        return _text_ok(value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is Decimal:
        if isinstance(value, Decimal):
            return value.is_finite()
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is datetime:
        return isinstance(value, datetime) and value.utcoffset() is not None
    if hint is date:
        return isinstance(value, date) and not isinstance(value, datetime)
    if origin in (list, tuple, set, frozenset) or origin in _ITERABLES:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, list | tuple):
            return False
        return all(accepts(args[0], item) for item in value)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return isinstance(value, Mapping) and _json_ok(value)
    if origin is abc.Callable:
        return callable(value)
    assert isinstance(hint, type), hint
    return isinstance(value, hint)


_ITERABLES = {
    typing.get_origin(typing.Iterable[int]),
    typing.get_origin(typing.Sequence[int]),
}

_POOL: tuple[object, ...] = (
    None,
    True,
    7,
    0,
    1.5,
    float("nan"),
    float("inf"),
    Decimal("NaN"),
    Decimal("-Infinity"),
    "not-a-uuid",
    str(new_id()),
    "a\x00b",
    "\ud800",
    "2026-01-01",
    "abc",
    b"bytes",
    datetime(2030, 1, 1),
    NOW,
    date(2030, 1, 1),
    timedelta(hours=1),
    ["\ud800"],
    [7],
    {"key": "\ud800"},
    {"\x00": 1},
    {7: "x"},
    object(),
)


def bad_values(hint: Any) -> list[object]:
    """Wrong and malformed values for ``hint``: the pool, and bad items inside its containers."""
    candidates = list(_POOL)
    for member in _members(hint):
        origin, args = typing.get_origin(member), typing.get_args(member)
        if origin is Annotated:
            candidates.append(0)
        if args and (origin in (list, tuple, set, frozenset) or origin in _ITERABLES):
            candidates += [[item] for item in _POOL if not accepts(args[0], item)]
    return [value for value in candidates if not accepts(hint, value)]


def good_value(hint: Any) -> object:
    """A value ``hint`` accepts, for the parameters not under test."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        return good_value(args[0])
    if origin in (typing.Union, types.UnionType):
        return good_value(next(m for m in args if m not in (type(None), Unchanged)))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return next(iter(hint))
    examples: dict[Any, object] = {
        str: "x",
        int: 1,
        bool: False,
        float: 1.0,
        Decimal: Decimal(1),
        UUID: SOME_ID,
        datetime: NOW,
        date: NOW.date(),
        timedelta: timedelta(hours=1),
        Principal: EVERYONE,
    }
    if hint in examples:
        return examples[hint]
    if origin in (list, tuple, set, frozenset) or origin in _ITERABLES:
        return [good_value(args[0])]
    return {}


# -- the walk -----------------------------------------------------------------------------------


def _service_of(velocity: Velocity, cls: type[Service]) -> Service:
    found = [s for s in vars(velocity).values() if isinstance(s, cls)]
    assert len(found) == 1, f"one service on Velocity is a {cls.__name__}"
    return found[0]


def _cases() -> Iterator[tuple[str, str, str, object]]:
    """(operation, method name, parameter, bad value) for every registered operation."""
    for operation in sorted(OPERATIONS):
        cls, name = OPERATION_METHODS[operation]
        checks = argument_checks(getattr(cls, name))
        hints = checks.hints()
        for parameter in checks.parameters:
            for value in bad_values(hints[parameter]):
                yield operation, name, parameter, value


def _call(
    velocity: Velocity, operation: str, parameter: str, value: object
) -> Callable[[], object]:
    cls, name = OPERATION_METHODS[operation]
    method = getattr(_service_of(velocity, cls), name)
    checks = argument_checks(getattr(cls, name))
    hints = checks.hints()
    args: list[object] = []
    kwargs: dict[str, object] = {}
    for pname, p in checks.parameters.items():
        if pname != parameter and p.default is not inspect.Parameter.empty:
            continue
        given = value if pname == parameter else good_value(hints[pname])
        if p.kind is p.POSITIONAL_ONLY:
            args.append(given)
        else:
            kwargs[pname] = given
    return lambda: method(*args, **kwargs)


def _outcome(call: Callable[[], object]) -> tuple[str, str | None, str]:
    try:
        call()
    except VelocityError as exc:
        return type(exc).__name__, getattr(exc, "field", None), str(exc)
    return "accepted", None, ""


def test_every_registered_operation_has_its_method() -> None:
    assert set(OPERATIONS) <= set(OPERATION_METHODS)
    for operation, (cls, name) in OPERATION_METHODS.items():
        assert callable(getattr(cls, name)), operation


@pytest.mark.postgres
def test_every_bad_argument_is_refused_naming_it_alike_on_both_stores(
    stores: tuple[Velocity, Velocity],
) -> None:
    memory, postgres = stores
    wrong: list[str] = []
    covered: set[str] = set()
    for operation, name, parameter, value in _cases():
        outcomes = [_outcome(_call(v, operation, parameter, value)) for v in (memory, postgres)]
        kind, field, _ = outcomes[0]
        named = field is not None and (
            field == parameter or field.startswith((f"{parameter}[", f"{parameter}."))
        )
        if kind != "ValidationFailed" or not named or outcomes[1] != outcomes[0]:
            wrong.append(f"{operation} ({name}) {parameter}={value!r}: {outcomes}")
        covered.add(operation)
    assert wrong == [], "\n".join(wrong)
    assert covered == set(OPERATIONS)


@pytest.mark.parametrize(
    "token", ["\ud800", "a\x00b", "", 7, None, b"token", ["token"], "no-such-token"]
)
@pytest.mark.postgres
def test_a_malformed_bearer_token_is_an_authentication_failure_on_both_stores(
    stores: tuple[Velocity, Velocity], token: object
) -> None:
    for velocity in stores:
        with pytest.raises(AuthenticationFailed):
            velocity.sessions.authenticate(token)


@pytest.mark.postgres
def test_the_public_methods_outside_the_registry_check_their_arguments_too(
    stores: tuple[Velocity, Velocity],
) -> None:
    for velocity in stores:
        with pytest.raises(ValidationFailed) as err:
            velocity.users.create_first_admin(email="\ud800@x.example", display_name="A")
        assert err.value.field == "email"
        with pytest.raises(ValidationFailed) as err:
            velocity.users.principal_for(EVERYONE, "not-a-uuid")
        assert err.value.field == "user_id"


@pytest.mark.postgres
def test_a_governed_update_proposes_exactly_the_fields_its_method_takes(
    stores: tuple[Velocity, Velocity],
) -> None:
    updates = (
        "crm.contacts.update",
        "crm.accounts.update",
        "crm.opportunities.update",
        "crm.interests.update",
        "crm.tasks.update",
        "inventory.projects.update",
        "inventory.units.update",
    )
    for operation in updates:
        cls, name = OPERATION_METHODS[operation]
        parameters = argument_checks(getattr(cls, name)).parameters.values()
        takes = {p.name for p in parameters if p.default is UNCHANGED}
        for velocity in stores:
            assert velocity.governance.appliers.get(operation).fields == takes, operation
