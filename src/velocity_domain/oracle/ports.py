"""The Oracle component/template repository.

Families, chapters, templates, examples, tags and lineage.
"""

from velocity_domain.kernel.repository import AppendTable, MutableTable, StoreTransaction
from velocity_domain.oracle.entities import (
    ComponentChapter,
    ComponentExample,
    ComponentFamily,
    ComponentLineage,
    ComponentTag,
    ComponentTemplate,
)

__all__ = ["OracleRepository"]


class OracleRepository:
    """The ``oracle_*`` tables inside one unit of work."""

    def __init__(self, tx: StoreTransaction) -> None:
        self.families: MutableTable[ComponentFamily] = tx.mutable(ComponentFamily)
        self.chapters: MutableTable[ComponentChapter] = tx.mutable(ComponentChapter)
        self.templates: MutableTable[ComponentTemplate] = tx.mutable(ComponentTemplate)
        self.examples: MutableTable[ComponentExample] = tx.mutable(ComponentExample)
        self.tags: AppendTable[ComponentTag] = tx.table(ComponentTag)
        self.lineage: AppendTable[ComponentLineage] = tx.table(ComponentLineage)
