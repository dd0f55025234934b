"""The application as a whole: its OpenAPI document, docs page, unknown routes, mounting, CLI."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest
from litestar import Litestar, asgi
from litestar.testing import TestClient
from litestar.types import Receive, Scope, Send
from openapi_spec_validator import validate
from sqlalchemy.engine import URL

from tests.support.http import HttpWorld, problem
from velocity_domain import Velocity
from velocity_domain.api import FAMILIES
from velocity_domain.asgi import create_app


def test_the_openapi_document_validates_and_lists_every_route() -> None:
    document = create_app(Velocity.in_memory()).openapi_schema.to_schema()
    validate(document)
    assert document["openapi"].startswith("3.1")
    served = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "delete"}
    }
    declared = {
        (r.method, re.sub(r"\{(\w+)\}", r"{\1}", f.prefix + r.path))
        for f in FAMILIES
        for r in f.routes
    }
    assert declared == served
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "delete"}:
                continue
            assert "Permission:" in operation["description"], path
            assert operation["security"] == [{"bearer": []}], path
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert "application/problem+json" in response["content"], (path, status)


def test_the_served_document_is_the_generated_one(api: HttpWorld) -> None:
    served = api.anonymous.get("/openapi.json")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/json")
    validate(served.json())
    assert "/api/crm/contacts" in served.json()["paths"]


def test_the_docs_page_needs_no_internet(api: HttpWorld) -> None:
    page = api.anonymous.get("/docs/")
    assert page.status_code == 200
    assert "SwaggerUIBundle" in page.text
    addresses = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert addresses, "the page loads no script or style"
    for address in addresses:
        assert address.startswith("/"), f"{address} is not served by the app"
        assert api.anonymous.get(address).status_code == 200, address
    assert "https://" not in page.text.replace("https://swagger.io", "")


def test_unknown_routes_and_methods_are_problems_with_a_request_id(api: HttpWorld) -> None:
    missing = api.admin.get("/api/crm/nothing-here", headers={"X-Request-ID": "r-1"})
    assert problem(missing, 404, "no_such_route")["request_id"] == "r-1"
    wrong = api.admin.delete("/api/crm/contacts")
    problem(wrong, 405, "method_not_allowed")
    assert "GET" in wrong.headers["allow"]


def test_the_body_limit_is_configurable(world: object) -> None:
    from tests.support.http import http_world  # noqa: PLC0415

    with http_world(world, max_body_size=200) as small:  # type: ignore[arg-type]
        body = {"full_name": "x" * 300}
        problem(small.admin.post("/api/crm/contacts", json=body), 413, "body_too_large")
        assert small.admin.post("/api/crm/contacts", json={"full_name": "Short"}).status_code == 201


def test_a_host_mounts_the_app_under_its_own_path() -> None:
    velocity = Velocity.in_memory()
    user, admin = velocity.users.create_first_admin(email="a@example.com", display_name="A")
    token = velocity.sessions.issue(admin, user.user_id).token
    ours = create_app(velocity)

    @asgi("/crm", is_mount=True, copy_scope=True)
    async def crm(scope: Scope, receive: Receive, send: Send) -> None:
        await ours(scope, receive, send)

    host = Litestar([crm])
    with TestClient(host) as client:
        made = client.post(
            "/crm/api/crm/contacts",
            json={"full_name": "Mounted Person"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert made.status_code == 201, made.text
        assert made.json()["full_name"] == "Mounted Person"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.postgres
def test_velocity_domain_serve_runs_the_app(pg_url: URL) -> None:
    port = _free_port()
    dsn = pg_url.render_as_string(hide_password=False)
    env = {**os.environ, "VELOCITY_CURSOR_KEY": "k" * 32}
    command = [
        sys.executable,
        "-m",
        "velocity_domain.cli",
        "serve",
        "--url",
        dsn,
        "--port",
        str(port),
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/crm/contacts", timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        server.stdout.read().decode() if server.stdout else ""
                    ) from None
                time.sleep(0.1)
        assert answer.status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()
