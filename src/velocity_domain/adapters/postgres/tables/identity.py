"""The identity tables (filled in by the canonical model work)."""

__all__: list[str] = []
