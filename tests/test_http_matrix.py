"""The permission matrix's HTTP column: every route, for every default role, on both stores.

A route answers 403 ``permission_denied`` naming its permission exactly when
the matrix says the role may not call the route's operation, and that before
the request is read (a refused caller learns nothing about the body or the
record). Routes join this test by being declared in a route module.
"""

from __future__ import annotations

import re
import uuid

import httpx

from tests.support.http import HttpWorld
from tests.support.matrix import MATRIX
from velocity_domain.api import FAMILIES, Family, Route


def _request(client: httpx.Client, family: Family, route: Route) -> httpx.Response:
    path = re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), family.prefix + route.path)
    headers = {"If-Match": '"1"'} if route.conditional else {}
    if route.upload:
        headers["content-type"] = route.upload[0]
        return client.request(route.method, path, content=b"", headers=headers)
    if route.body is not None:
        return client.request(route.method, path, json={}, headers=headers)
    return client.request(route.method, path, headers=headers)


def test_every_route_names_an_operation_of_the_matrix() -> None:
    routes = [(f.prefix + r.path, r.method, r.operation) for f in FAMILIES for r in f.routes]
    assert routes, "no route is declared"
    assert [r for r in routes if r[2] not in MATRIX] == []
    assert len({(p, m) for p, m, _ in routes}) == len(routes), "a route is declared twice"


def test_every_route_refuses_exactly_the_roles_the_matrix_refuses(api: HttpWorld) -> None:
    wrong: list[str] = []
    for family in FAMILIES:
        for route in family.routes:
            if route.permission is None:
                # Anyone signed in may call it; the service refuses by the record
                # (one's own sessions, say), which the family's own tests check.
                continue
            allowed = MATRIX[route.operation]
            for role in sorted(api.world.by_role):
                response = _request(api.as_role(role), family, route)
                body = (
                    response.json()
                    if response.headers.get("content-type", "").startswith(
                        "application/problem+json"
                    )
                    else {}
                )
                denied = response.status_code == 403 and body.get("code") == "permission_denied"
                where = f"{route.method} {family.prefix}{route.path} as {role}"
                if role in allowed and denied:
                    wrong.append(f"{where}: 403, matrix allows it")
                if role not in allowed and not denied:
                    wrong.append(f"{where}: {response.status_code}, matrix denies it")
                if denied and body.get("permission") != route.permission:
                    wrong.append(f"{where}: names {body.get('permission')}, not {route.permission}")
    assert wrong == []


def test_every_route_wants_a_session(api: HttpWorld) -> None:
    for family in FAMILIES:
        for route in family.routes:
            if route.public:
                continue
            response = _request(api.anonymous, family, route)
            assert response.status_code == 401, f"{route.method} {family.prefix}{route.path}"
            assert response.json()["code"] == "authentication_failed"
