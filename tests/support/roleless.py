"""A signed-in client of a user who holds no role, for the 403 of routes every role may call."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator

import httpx

from tests.support.http import HttpWorld, token_for

_serial = itertools.count()


@contextlib.contextmanager
def roleless_client(api: HttpWorld) -> Iterator[httpx.Client]:
    """An httpx client of a new user of ``api``'s world with no role (so no permission)."""
    velocity, admin = api.world.velocity, api.world.admin
    user = velocity.users.create(
        admin, email=f"nobody{next(_serial)}@velocity.example", display_name="Nobody"
    )
    token = token_for(velocity, admin, velocity.users.principal_for(admin, user.key))
    with httpx.Client(
        base_url=api.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        yield client
