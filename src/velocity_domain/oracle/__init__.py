"""Oracle component/template domain: families, chapters, templates, examples, tags and lineage (the ``oracle_*`` tables)."""
