"""Oracle component/template domain.

Families, chapters, templates, examples, tags and lineage (the ``oracle_*`` tables).
"""
