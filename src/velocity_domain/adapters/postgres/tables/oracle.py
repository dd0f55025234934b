"""The ``oracle_*`` tables (spec section 4, Oracle component/template domain)."""

from __future__ import annotations

import sqlalchemy as sa

from velocity_domain.adapters.postgres.tables._columns import (
    choice,
    created_at,
    fk,
    jsonb,
    metadata,
    pk,
    ratio,
    text,
    versioned,
)
from velocity_domain.oracle.entities import ComponentStatus, LineageRelation

__all__ = [
    "oracle_component_chapters",
    "oracle_component_examples",
    "oracle_component_families",
    "oracle_component_lineage",
    "oracle_component_tags",
    "oracle_component_templates",
]

# The SQL twin of velocity_domain.oracle.entities.KEY_PATTERN.
_KEY_RE = "^[a-z0-9]+([-_][a-z0-9]+)*$"


def _key_check(column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} ~ '{_KEY_RE}'", name=f"{column}_format")


oracle_component_families = sa.Table(
    "oracle_component_families",
    metadata,
    pk("family_id"),
    text("family_key", 64, nullable=False),
    text("name", 200, nullable=False),
    text("description", None),
    choice("status", ComponentStatus, default=ComponentStatus.DRAFT),
    *versioned(),
    sa.UniqueConstraint("family_key"),
    _key_check("family_key"),
    sa.Index(None, "status", "family_key"),
)

oracle_component_chapters = sa.Table(
    "oracle_component_chapters",
    metadata,
    pk("chapter_id"),
    fk("family_id", "oracle_component_families.family_id", nullable=False),
    text("chapter_key", 64, nullable=False),
    text("title", 200, nullable=False),
    text("description", None),
    sa.Column("sort_order", sa.Integer, nullable=False, server_default="0"),
    *versioned(),
    sa.UniqueConstraint("family_id", "chapter_key"),
    # The target of the templates' (chapter_id, family_id) reference: same family.
    sa.UniqueConstraint("chapter_id", "family_id"),
    _key_check("chapter_key"),
    sa.CheckConstraint("sort_order >= 0", name="sort_order_non_negative"),
    sa.Index(None, "family_id", "sort_order"),
)

oracle_component_templates = sa.Table(
    "oracle_component_templates",
    metadata,
    pk("template_id"),
    fk("family_id", "oracle_component_families.family_id", nullable=False),
    sa.Column("chapter_id", sa.Uuid, nullable=True),
    text("template_key", 64, nullable=False),
    text("name", 200, nullable=False),
    text("description", None),
    sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
    choice("status", ComponentStatus, default=ComponentStatus.DRAFT),
    jsonb("body_json"),
    jsonb("schema_json"),
    fk("created_by_user_id", "core_users.user_id"),
    *versioned(),
    # A template's chapter must belong to the template's own family.
    sa.ForeignKeyConstraint(
        ["chapter_id", "family_id"],
        [
            "oracle_component_chapters.chapter_id",
            "oracle_component_chapters.family_id",
        ],
        ondelete="RESTRICT",
    ),
    sa.UniqueConstraint("family_id", "template_key", "revision"),
    _key_check("template_key"),
    sa.CheckConstraint("revision >= 1", name="revision_positive"),
    sa.Index(None, "family_id", "status"),
    sa.Index(None, "chapter_id"),
    sa.Index(
        "uq_oracle_component_templates_one_active_revision",
        "family_id",
        "template_key",
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    ),
)

oracle_component_examples = sa.Table(
    "oracle_component_examples",
    metadata,
    pk("example_id"),
    fk("template_id", "oracle_component_templates.template_id", nullable=False),
    text("title", 200, nullable=False),
    jsonb("input_json"),
    jsonb("output_json"),
    ratio("quality"),
    text("notes", None),
    fk("created_by_user_id", "core_users.user_id"),
    *versioned(),
    sa.Index(None, "template_id", "quality"),
)

oracle_component_tags = sa.Table(
    "oracle_component_tags",
    metadata,
    pk("tag_id"),
    fk("family_id", "oracle_component_families.family_id", ondelete="CASCADE"),
    fk("template_id", "oracle_component_templates.template_id", ondelete="CASCADE"),
    text("tag", 64, nullable=False),
    created_at("created_at"),
    fk("created_by_user_id", "core_users.user_id"),
    sa.CheckConstraint("(family_id IS NULL) <> (template_id IS NULL)", name="exactly_one_target"),
    # NULLs are distinct, so each pair constrains only the tags on its own kind of row.
    sa.UniqueConstraint("family_id", "tag"),
    sa.UniqueConstraint("template_id", "tag"),
    sa.Index(None, "tag"),
)

oracle_component_lineage = sa.Table(
    "oracle_component_lineage",
    metadata,
    pk("lineage_id"),
    fk("parent_template_id", "oracle_component_templates.template_id", nullable=False),
    fk("child_template_id", "oracle_component_templates.template_id", nullable=False),
    choice("relation", LineageRelation),
    text("reason", 500),
    created_at("created_at"),
    fk("created_by_user_id", "core_users.user_id"),
    sa.UniqueConstraint(
        "parent_template_id",
        "child_template_id",
        "relation",
        name="uq_oracle_component_lineage_link",
    ),
    sa.CheckConstraint("parent_template_id <> child_template_id", name="not_self"),
    sa.Index(None, "child_template_id"),
)
