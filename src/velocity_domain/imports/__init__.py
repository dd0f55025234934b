"""The import gateway: reading, mapping, matching and committing import files."""
