"""Route declarations: what the HTTP layer serves, written without a web framework.

A route module (one per route family) declares a :class:`Family` of
:class:`Route` values. Each route names its method and path, the service
operation it runs (and so the permission it needs, from the operation
registry), its query and path parameters, its request and response types
(the library's attrs classes, converted by the library's cattrs converter)
and the errors it may answer with. ``velocity_domain.asgi`` turns the
declarations into a Litestar application; nothing here imports a web
framework, so the declarations are also what the docs' route table is
generated from.

>>> from velocity_domain.api import FAMILIES
>>> contacts = next(f for f in FAMILIES if f.name == "crm.contacts")
>>> [(r.method, contacts.prefix + r.path) for r in contacts.routes][:2]
[('GET', '/api/crm/contacts'), ('POST', '/api/crm/contacts')]
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from velocity_domain.access.operations import OPERATIONS
from velocity_domain.errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    VelocityError,
)
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

if TYPE_CHECKING:
    from velocity_domain.access.principal import Principal
    from velocity_domain.velocity import Velocity

__all__ = [
    "METHODS",
    "REQUIRED",
    "Call",
    "Created",
    "Download",
    "Family",
    "NoContent",
    "Param",
    "Route",
    "cursor_param",
    "limit_param",
    "page_params",
]

#: The HTTP methods a route may declare.
METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})


class _Required(enum.Enum):
    REQUIRED = "required"

    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of a parameter that has none: the client must give it.
REQUIRED = _Required.REQUIRED


@attrs.frozen
class Param:
    """A path or query parameter: its name, Python type, default and bounds."""

    name: str
    annotation: Any
    where: str = attrs.field(default="query", validator=attrs.validators.in_({"path", "query"}))
    default: Any = None
    description: str = ""
    minimum: int | None = None
    maximum: int | None = None

    @property
    def required(self) -> bool:
        """Whether the client must give the parameter (every path parameter must)."""
        return self.where == "path" or self.default is REQUIRED


def limit_param(default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> Param:
    """The bounded ``limit`` query parameter of a list route."""
    return Param(
        "limit",
        int,
        default=default,
        description=f"rows per page, 1 to {maximum}",
        minimum=1,
        maximum=maximum,
    )


def cursor_param() -> Param:
    """The opaque ``cursor`` query parameter of a list route (from the last page)."""
    return Param("cursor", str | None, description="where the last page ended (its next_cursor)")


def page_params() -> tuple[Param, Param]:
    """``limit`` and ``cursor``: what every list route takes."""
    return (limit_param(), cursor_param())


@attrs.frozen
class Created:
    """A handler's answer when it made a record: 201 with the record and its address.

    ``location`` is the path of the new record (``Location`` header).
    """

    value: Any
    location: str


@attrs.frozen
class Download:
    """A handler's answer that is a file, not JSON (an import's error file, say).

    ``filename`` names it in ``Content-Disposition`` when given.
    """

    content: bytes
    media_type: str
    filename: str | None = None


@attrs.frozen
class NoContent:
    """A handler's answer with nothing to say: 204."""


@attrs.frozen
class Call:
    """What a route's handler gets: the store, who calls, and the call's values.

    ``params`` holds the path and query parameters (already typed), ``body``
    the request object built by the library's converter (``None`` for a
    route without one), ``fields`` the names the JSON body gave (a PUT
    changes only those), ``version`` the entity version from ``If-Match``
    and ``content`` a raw body (a file being imported) as a binary file,
    with its ``media_type`` and the ``charset`` its Content-Type named.
    """

    velocity: Velocity
    principal: Principal
    params: Mapping[str, Any] = attrs.field(factory=dict)
    body: Any = None
    fields: frozenset[str] = frozenset()
    version: int | None = None
    content: Any = None
    media_type: str | None = None
    charset: str | None = None

    def __getitem__(self, name: str) -> Any:
        """The path or query parameter ``name``."""
        return self.params[name]

    def query(self, *names: str) -> dict[str, Any]:
        """The named parameters as keyword arguments, leaving out those not given."""
        return {name: self.params[name] for name in names if self.params.get(name) is not None}

    def given(self, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
        """The body's fields the client sent, as keyword arguments (for a partial change).

        A field the JSON body did not name is left out, so the service keeps
        its stored value; ``null`` is passed on as ``None`` (clear it).
        """
        if self.body is None:
            return {}
        return {
            name: getattr(self.body, name)
            for name in sorted(self.fields)
            if name not in exclude and hasattr(self.body, name)
        }

    def arguments(self, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
        """Every field of the body as keyword arguments (defaults for those not sent)."""
        if self.body is None:
            return {}
        return {
            a.name: getattr(self.body, a.name)
            for a in attrs.fields(type(self.body))
            if a.name not in exclude
        }


#: The errors every authenticated route may answer with.
COMMON_ERRORS: tuple[type[VelocityError], ...] = (
    AuthenticationFailed,
    PermissionDenied,
    ValidationFailed,
)


@attrs.frozen
class Route:
    """One HTTP route: method, path, the operation it runs and its types.

    ``operation`` is the registered service operation (``crm.contacts.get``)
    whose permission the route needs; ``handler`` runs it. ``body`` is the
    request's attrs type, ``returns`` the response's (``many``: a page of
    them, with ``items`` and ``next_cursor``). ``conditional`` routes need
    ``If-Match`` with the entity's version. ``upload`` names the media types
    of a raw request body (a file), passed to the handler unread;
    ``media_type`` is that of the answer (a :class:`Download`'s).
    A ``secret`` answer (a session token, shown once) is sent with
    ``Cache-Control: no-store`` and never kept for an idempotent replay.
    """

    method: str = attrs.field(validator=attrs.validators.in_(METHODS))
    path: str
    operation: str
    summary: str
    handler: Callable[[Call], Any] = attrs.field(repr=False)
    params: tuple[Param, ...] = ()
    body: type | None = None
    returns: Any = None
    many: bool = False
    status: int = 200
    conditional: bool = False
    errors: tuple[type[VelocityError], ...] = ()
    upload: tuple[str, ...] = ()
    public: bool = False
    media_type: str = "application/json"
    name: str | None = None
    secret: bool = False

    def __attrs_post_init__(self) -> None:
        if self.operation not in OPERATIONS:
            raise ValueError(f"route {self.method} {self.path}: unknown operation {self.operation}")

    @property
    def operation_id(self) -> str:
        """The route's OpenAPI ``operationId``: its ``name``, else its operation's name.

        Two routes running one operation (a record and a view of it) need
        their own ``name``.
        """
        return self.name or self.operation.replace(".", "_")

    @property
    def permission(self) -> str | None:
        """The permission the route's operation needs (``None``: any signed-in principal)."""
        return OPERATIONS[self.operation].permission

    @property
    def all_errors(self) -> tuple[type[VelocityError], ...]:
        """The route's own errors and those every route may answer with."""
        common = () if self.public else COMMON_ERRORS
        wanted = (*common, *self.errors)
        if any("{" in part for part in self.path.split("/")):
            wanted = (*wanted, NotFound)
        return tuple(dict.fromkeys(wanted))


@attrs.frozen
class Family:
    """A route family: its routes under one path prefix, owned by one domain."""

    name: str
    domain: str
    prefix: str
    summary: str
    routes: tuple[Route, ...]

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)
