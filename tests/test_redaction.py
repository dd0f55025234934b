"""Sensitive content is withheld without read_sensitive, and revealing it is audited."""

from __future__ import annotations

from tests.support.world import World
from velocity_domain import Velocity

SENSITIVE_READ = "intel.artifacts.read_sensitive"


def _reads(velocity: Velocity, w: object) -> list[str]:
    events = velocity.audit.list(w.admin, action=SENSITIVE_READ, limit=100)  # type: ignore[attr-defined]
    return [e.target_ref or "" for e in events]


def test_analysts_get_metadata_without_content_and_leave_no_read_event(
    world: World,
) -> None:
    velocity = world.velocity
    w = world
    detail = velocity.interactions.get(w.by_role["analyst"], w.chat.key)
    (message,) = detail.artifacts
    assert message.table == "intel_messages"
    assert message.redacted
    assert message.data["message_text"] is None
    assert message.data["sender_role"] == "client"
    assert "message_text" in message.redacted_fields
    call = velocity.interactions.get(w.by_role["analyst"], w.call.key)
    transcript = next(v for v in call.artifacts if v.table == "intel_transcripts")
    assert transcript.data["full_text"] is None
    assert _reads(velocity, w) == []


def test_permitted_readers_see_content_and_each_read_is_audited(
    world: World,
) -> None:
    velocity = world.velocity
    w = world
    manager = w.by_role["sales_manager"]
    detail = velocity.interactions.get(manager, w.chat.key)
    (message,) = detail.artifacts
    assert not message.redacted
    assert message.data["message_text"] == "My budget is 1.2 Cr"
    velocity.interactions.get(manager, w.call.key)
    assert sorted(_reads(velocity, w)) == sorted([str(w.chat.key), str(w.call.key)])
    events = velocity.audit.list(w.admin, action=SENSITIVE_READ)
    assert {e.actor_user_id for e in events} == {manager.user_id}
