"""``Idempotency-Key`` on POST, through a real server on both stores: retries do the work once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.http import HttpWorld, http_world, problem
from tests.support.world import World
from velocity_domain.access import Principal
from velocity_domain.crm.entities import Person
from velocity_domain.kernel.query import Eq
from velocity_domain.testing import count


def _people_named(api: HttpWorld, name: str) -> int:
    return count(api.world.velocity, Person, Eq("full_name", name))


def test_a_retry_gets_the_first_answer_without_doing_the_work_again(api: HttpWorld) -> None:
    body = {"full_name": "Kavya Menon", "primary_email": "kavya@example.com"}
    first = api.admin.post("/api/crm/contacts", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    again = api.admin.post("/api/crm/contacts", json=body, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert _people_named(api, "Kavya Menon") == 1
    # without a key, the same body is a new request (and a suspected duplicate)
    problem(api.admin.post("/api/crm/contacts", json=body), 409, "duplicate_suspected")


def test_a_refusal_is_kept_and_replayed_too(api: HttpWorld) -> None:
    bad = {"full_name": "X", "primary_email": "not an email"}
    first = problem(
        api.admin.post("/api/crm/contacts", json=bad, headers={"Idempotency-Key": "bad-1"}),
        422,
        "validation_failed",
    )
    again = api.admin.post("/api/crm/contacts", json=bad, headers={"Idempotency-Key": "bad-1"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.status_code == 422
    assert again.json()["field"] == first["field"] == "primary_email"


def test_the_same_key_with_another_body_is_refused(api: HttpWorld) -> None:
    key = {"Idempotency-Key": "k-2"}
    assert (
        api.admin.post("/api/crm/contacts", json={"full_name": "One"}, headers=key).status_code
        == 201
    )
    clash = problem(
        api.admin.post("/api/crm/contacts", json={"full_name": "Two"}, headers=key),
        422,
        "idempotency_conflict",
    )
    assert clash["key"] == "k-2"
    assert _people_named(api, "Two") == 0


def test_keys_belong_to_their_user(api: HttpWorld) -> None:
    key = {"Idempotency-Key": "shared"}
    a = api.admin.post("/api/crm/contacts", json={"full_name": "Of Admin"}, headers=key)
    b = api.as_role("sales_manager").post(
        "/api/crm/contacts", json={"full_name": "Of Manager"}, headers=key
    )
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["person_id"] != b.json()["person_id"]


def test_a_malformed_key_names_the_header(api: HttpWorld) -> None:
    for key in ("x" * 256, ""):
        answer = api.admin.post(
            "/api/crm/contacts",
            json={"full_name": "Never Made"},
            headers={"Idempotency-Key": key},
        )
        assert problem(answer, 422, "validation_failed")["field"] == "Idempotency-Key"
    assert _people_named(api, "Never Made") == 0


def test_racing_retries_do_the_work_once(api: HttpWorld) -> None:
    body = {"full_name": "Raced Person", "primary_phone": "+919830077777"}

    def send(_: int) -> tuple[int, str, str]:
        answer = api.admin.post("/api/crm/contacts", json=body, headers={"Idempotency-Key": "race"})
        return answer.status_code, answer.text, answer.headers.get("idempotent-replayed", "")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert {status for status, _, _ in answers} == {201}
    assert len({text for _, text, _ in answers}) == 1  # one answer, given eight times
    assert sorted(replayed for _, _, replayed in answers) == [""] + ["true"] * 7
    assert _people_named(api, "Raced Person") == 1


def test_the_app_purges_expired_keys_when_it_starts(world: World) -> None:
    velocity, system = world.velocity, Principal.system("test")
    with http_world(world, purge_every=None) as first:
        for n in range(3):
            first.admin.post(
                "/api/crm/contacts",
                json={"full_name": f"P {n}"},
                headers={"Idempotency-Key": f"p-{n}"},
            )
    world.clock.advance(hours=25)  # type: ignore[attr-defined]
    with http_world(world, purge_every=None):
        pass  # a host that purges itself: nothing happens at start
    with http_world(world) as served:
        served.admin.get("/api/crm/contacts")  # started, so the first purge has run
    assert velocity.idempotency.purge_expired(system) == 0
