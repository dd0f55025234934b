"""Least privilege for sensitive communication artifacts.

Message texts, email bodies, transcripts, call recordings, WhatsApp threads
and CCTV, perception and vehicle evidence are sensitive. A principal without
``intel.artifacts.read_sensitive`` gets their metadata with the content
fields emptied; every read that does reveal content is audited by the
service that performs it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import attrs

from velocity_domain.intel.entities import (
    CallRecording,
    CctvLink,
    Email,
    Message,
    PerceptionEvent,
    Transcript,
    VehicleEvent,
    WhatsAppThread,
)
from velocity_domain.kernel.convert import to_dict
from velocity_domain.kernel.model import Entity

__all__ = ["READ_SENSITIVE", "SENSITIVE_FIELDS", "ArtifactView", "is_sensitive", "view"]

READ_SENSITIVE = "intel.artifacts.read_sensitive"

#: The content fields of each sensitive artifact; everything else is metadata.
SENSITIVE_FIELDS: dict[type[Entity], tuple[str, ...]] = {
    Message: ("message_text", "metadata_json", "blob_id"),
    Email: ("subject", "body", "body_html", "attachments_json"),
    Transcript: ("full_text", "speaker_segments_json"),
    CallRecording: ("blob_id",),
    WhatsAppThread: ("wa_phone",),
    CctvLink: ("blob_id",),
    PerceptionEvent: ("payload_json", "blob_id"),
    VehicleEvent: ("plate_text", "blob_id"),
}


def is_sensitive(cls: type[Entity]) -> bool:
    """Say whether rows of ``cls`` are sensitive artifacts."""
    return cls in SENSITIVE_FIELDS


@attrs.frozen
class ArtifactView:
    """An artifact as a principal may see it: JSON-safe ``data`` and what was withheld."""

    table: str
    key: UUID
    data: dict[str, Any]
    redacted_fields: tuple[str, ...] = ()

    @property
    def redacted(self) -> bool:
        """Whether any content was withheld."""
        return bool(self.redacted_fields)


def view(entity: Entity, *, reveal: bool) -> ArtifactView:
    """Return ``entity`` as an :class:`ArtifactView`, withholding content unless ``reveal``."""
    data = to_dict(entity)
    hidden: tuple[str, ...] = ()
    if not reveal:
        hidden = tuple(f for f in SENSITIVE_FIELDS.get(type(entity), ()) if f in data)
        for name in hidden:
            data[name] = None
    return ArtifactView(type(entity).table_name, entity.key, data, hidden)
