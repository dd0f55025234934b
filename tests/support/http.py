"""The API under a real server: uvicorn on 127.0.0.1 in a thread, called with httpx.

``serve(velocity)`` starts ``create_app(velocity)`` on a free port and yields
its base URL; ``HttpWorld`` adds a signed-in client per default role of the
test world, so a test calls the API as each role would.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import uvicorn

from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.access import Principal
from velocity_domain.asgi import create_app


@contextlib.contextmanager
def serve(velocity: Velocity, **options: Any) -> Iterator[str]:
    """Run the app over ``velocity`` under uvicorn on 127.0.0.1; yield its base URL."""
    app = create_app(velocity, **options)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def token_for(velocity: Velocity, admin: Principal, principal: Principal) -> str:
    """A session token of ``principal``'s user."""
    assert principal.user_id is not None
    return velocity.sessions.issue(admin, principal.user_id).token


@attrs.frozen
class HttpWorld:
    """The test world behind a live server: a client per role and the raw base URL.

    ``as_role("sales_agent")`` is an httpx client sending that role's bearer
    token (its session is issued on first use); ``admin``, ``agent_a`` and
    ``agent_b`` are the world's principals' clients; ``anonymous`` sends no
    token.
    """

    world: World
    base_url: str
    principals: dict[str, Principal]
    stack: contextlib.ExitStack = attrs.field(repr=False)
    clients: dict[str, httpx.Client] = attrs.field(factory=dict, repr=False)

    def as_role(self, role: str) -> httpx.Client:
        """The client of the world's user with ``role``."""
        if role not in self.clients:
            headers = {}
            if role != "anonymous":
                velocity = self.world.velocity
                token = token_for(velocity, self.world.admin, self.principals[role])
                headers["Authorization"] = f"Bearer {token}"
            client = httpx.Client(base_url=self.base_url, headers=headers, timeout=30)
            self.clients[role] = self.stack.enter_context(client)
        return self.clients[role]

    @property
    def admin(self) -> httpx.Client:
        """The first admin's client."""
        return self.as_role("first_admin")

    @property
    def agent_a(self) -> httpx.Client:
        """Agent A's client (a sales agent holding client A's lead)."""
        return self.as_role("sales_agent")

    @property
    def agent_b(self) -> httpx.Client:
        """Agent B's client (a sales agent holding client B's deal)."""
        return self.as_role("agent_b")

    @property
    def anonymous(self) -> httpx.Client:
        """A client with no token."""
        return self.as_role("anonymous")


@contextlib.contextmanager
def http_world(world: World, **options: Any) -> Iterator[HttpWorld]:
    """Serve ``world``'s store; clients sign in as their role when first used."""
    principals = {**world.by_role, "first_admin": world.admin, "agent_b": world.agent_b}
    with serve(world.velocity, **options) as base_url, contextlib.ExitStack() as stack:
        yield HttpWorld(world, base_url, principals, stack)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check ``response`` is a problem document with ``status`` and ``code``; return it."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"] == f"urn:velocity-domain:problem:{code}"
    assert body["request_id"] == response.headers["x-request-id"]
    return body
