"""Matrix rows of the artifact query, attachments and blob reads (issue 16)."""

from __future__ import annotations

from typing import Any

from tests.support.matrix import ALL_ROLES, Row

SALES = frozenset({"admin", "sales_manager", "sales_agent"})
SENSITIVE = frozenset({"admin", "sales_manager", "sales_agent", "oracle_agent"})


def _message_of_chat(v: Any, w: Any) -> Any:
    """The id of the world's WhatsApp message (client A's, whom the sales agent holds)."""
    return v.interactions.get(w.admin, w.chat.key).artifacts[0].key


def _read_blob(v: Any, w: Any, p: Any) -> Any:
    """Read back a photo the admin attached to client A's chat."""
    attached = v.artifacts.attach(w.admin, w.chat.key, media_type="image/jpeg", data=b"photo")
    return v.artifacts.read_blob(p, attached.blob.key).read()


ROWS: dict[str, Row] = {
    "intel.artifacts.attach": Row(
        SALES,
        lambda v, w, p: v.artifacts.attach(
            p, w.chat.key, media_type="image/jpeg", data=b"site photo"
        ),
        "within the same visibility as contacts; bytes stored once by SHA-256",
    ),
    "intel.artifacts.get": Row(
        ALL_ROLES,
        lambda v, w, p: v.artifacts.get(p, _message_of_chat(v, w)),
        "sensitive content only with intel.artifacts.read_sensitive; revealing reads audited",
    ),
    "intel.artifacts.read_blob": Row(
        SENSITIVE,
        _read_blob,
        "only blobs used by a client's rows the caller sees; every read audited",
    ),
}
