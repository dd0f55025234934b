"""Entities of the identity domain (filled in by the canonical model work)."""

__all__: list[str] = []
