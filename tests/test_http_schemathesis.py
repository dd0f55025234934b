"""Schemathesis against the OpenAPI document, signed in as an admin, on real PostgreSQL.

Hypothesis generates requests for every operation of ``/openapi.json``
(valid and invalid values of every parameter and body field); each
response must not be a server error and must match the document: its
status is declared, its content type is the declared one and its body
matches the declared schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import attrs
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.engine import URL

from tests.support.http import serve, token_for
from tests.support.pg_harness import empty_all_tables
from tests.support.world import build
from velocity_domain import Velocity
from velocity_domain.asgi import create_app

pytestmark = pytest.mark.postgres


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_: object, value: object) -> bytes:
    """An import body: the generated value as one JSON line (or the text itself)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value).encode("utf-8") + b"\n"


SCHEMA = schemathesis.openapi.from_dict(create_app(Velocity.in_memory()).openapi_schema.to_schema())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@attrs.frozen
class Live:
    base_url: str
    headers: dict[str, str]


@pytest.fixture(scope="module")
def live(pg_url: URL, pg_engine: object) -> Iterator[Live]:
    empty_all_tables(pg_engine)  # type: ignore[arg-type]
    dsn = pg_url.render_as_string(hide_password=False)
    with Velocity.from_url(dsn, cursor_key=b"k" * 32) as velocity:
        world = build(velocity)
        token = token_for(velocity, world.admin, world.by_role["admin"])
        with serve(velocity) as base_url:
            yield Live(base_url, {"Authorization": f"Bearer {token}"})


@SCHEMA.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case: schemathesis.Case, live: Live) -> None:
    case.call_and_validate(base_url=live.base_url, headers=live.headers, checks=CHECKS)
