"""Sphinx extension: the schema reference, the ER diagrams, the access tables, the lifecycles.

All are generated at every build, from the library's SQLAlchemy ``MetaData``,
its permission catalogue and its lifecycle transition tables, so the
documentation cannot drift from the code. The pictures are SVG drawn by
:mod:`diagrams` (no Graphviz needed).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from diagrams import domain_erd_svg, lifecycle_svg
from sphinx.application import Sphinx
from sqlalchemy.dialects import postgresql

from velocity_domain.adapters.postgres.tables import DOMAIN_MODULES, NON_CANONICAL, metadata

#: The canonical tables: the derived ones (read models, such as the client summaries) and the
#: HTTP way in's records (idempotency keys) aside.
CANONICAL = [t for t in metadata.tables.values() if t.name not in NON_CANONICAL]

DOMAIN_TITLES = {
    "crm": "CRM core",
    "intel": "Interaction and evidence graph",
    "inventory": "Inventory",
    "oracle": "Oracle component/template",
    "identity": "Identity and access",
    "workflow": "AI workflow and governance",
}
DOMAIN_COLOURS = {
    "crm": "#1f77b4",
    "intel": "#9467bd",
    "inventory": "#2ca02c",
    "oracle": "#8c564b",
    "identity": "#d62728",
    "workflow": "#ff7f0e",
}
# Tables whose columns spec section 5 lists; the rest are named in section 4 only.
SECTION_5 = {
    "crm_people",
    "crm_accounts",
    "crm_leads",
    "crm_opportunities",
    "intel_interactions",
    "intel_messages",
    "intel_calls",
    "intel_transcripts",
    "intel_visits",
    "intel_qd_scores",
    "intel_qd_timeseries",
    "inventory_projects",
    "inventory_units",
    "core_users",
    "workflow_writebacks",
}
ADDITIONS = {"crm_import_batches", "crm_import_rows"}


def domain_tables() -> dict[str, list[sa.Table]]:
    """Return each domain's tables in declaration order."""
    return {
        domain: [getattr(module, name) for name in module.__all__]
        for domain, module in DOMAIN_MODULES.items()
    }


def spec_source(table: str) -> str:
    """Say which part of the spec a table implements."""
    if table in ADDITIONS:
        return "addition: the import lifecycle of spec section 8 keeps batches and rows here"
    if table in SECTION_5:
        return "spec sections 4 and 5 (columns recommended in spec section 5)"
    return "spec section 4 (columns designed here)"


def _type(column: sa.Column[Any]) -> str:
    return str(column.type.compile(dialect=postgresql.dialect()))


def _default(column: sa.Column[Any]) -> str:
    if column.server_default is None:
        return ""
    arg = getattr(column.server_default, "arg", "")
    return str(arg.text if hasattr(arg, "text") else arg)


def _row(cells: Iterable[str]) -> list[str]:
    cells = list(cells)
    return ["   * - " + cells[0], *[f"     - {c}" for c in cells[1:]]]


def _literal(text: str) -> str:
    return f"``{text}``" if text else ""


def render_reference() -> str:
    """Return the schema reference page as reStructuredText."""
    lines = [
        "Schema reference",
        "================",
        "",
        "Generated from the library's table definitions at every documentation build.",
        f"The canonical schema has {len(CANONICAL)} tables in six domains. Every",
        "primary key is a UUIDv7 made by the library; ``RESTRICT`` is the default on",
        "delete so that no evidence is removed by cascade.",
        "",
        "The diagram of the whole schema shows every table with its key columns and",
        "every foreign key; select it to open it at full size. Each domain below has",
        "a diagram of its own, easier to read, where each foreign key's table is",
        "written beside its column (``→ core_users``).",
        "",
        ".. image:: erd.svg",
        "   :width: 100%",
        "   :alt: Entity-relationship diagram of the whole canonical schema",
        "",
    ]
    for domain, tables in domain_tables().items():
        title = f"{DOMAIN_TITLES[domain]} (``{domain}``)"
        lines += [title, "-" * len(title), ""]
        lines += [
            f".. image:: erd-{domain}.svg",
            "   :width: 100%",
            f"   :alt: Entity-relationship diagram of the {DOMAIN_TITLES[domain]} domain",
            "",
        ]
        for table in tables:
            lines += [f"``{table.name}``", "~" * (len(table.name) + 4), ""]
            lines += [f"Implements: {spec_source(table.name)}.", ""]
            if table.name in SECTION_5:
                lines += [f"The spec's plan for it: :ref:`spec-{table.name}`.", ""]
            lines += [
                ".. list-table::",
                "   :header-rows: 1",
                "   :widths: 22 18 8 14 38",
                "",
                *_row(["column", "type", "null", "default", "key / references"]),
            ]
            for column in table.columns:
                refs = [
                    f"→ ``{fk.target_fullname}`` (on delete {fk.ondelete or 'NO ACTION'})"
                    for fk in column.foreign_keys
                ]
                key = ["primary key"] if column.primary_key else []
                lines += _row(
                    [
                        _literal(column.name),
                        _literal(_type(column)),
                        "yes" if column.nullable else "no",
                        _literal(_default(column)),
                        "; ".join(key + refs),
                    ]
                )
            lines.append("")
            extras = _constraints(table)
            if extras:
                lines += ["Constraints and indexes:", ""]
                lines += [f"* {item}" for item in extras]
                lines.append("")
    return "\n".join(lines) + "\n"


def _constraints(table: sa.Table) -> list[str]:
    items: list[str] = []
    for constraint in sorted(table.constraints, key=lambda c: str(c.name)):
        if isinstance(constraint, sa.UniqueConstraint):
            cols = ", ".join(c.name for c in constraint.columns)
            items.append(f"unique ``{constraint.name}`` ({cols})")
        elif isinstance(constraint, sa.CheckConstraint):
            items.append(f"check ``{constraint.name}``: ``{constraint.sqltext}``")
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        parts = [str(e) for e in index.expressions]
        kind = "unique index" if index.unique else "index"
        using = index.dialect_options["postgresql"].get("using")
        how = f" using {using}" if using else ""
        items.append(f"{kind} ``{index.name}`` ({', '.join(parts)}){how}")
    return items


def render_erd() -> str:
    """Return the entity-relationship diagram as SVG: tables by domain, foreign keys as curves."""
    box_w, col_gap, row_h, head_h, pad, gap = 250, 70, 15, 22, 6, 16
    positions: dict[str, tuple[float, float, float]] = {}
    rows_at: dict[tuple[str, str], float] = {}
    parts: list[str] = []
    tallest = 0.0
    for i, (domain, tables) in enumerate(domain_tables().items()):
        x = 20 + i * (box_w + col_gap)
        y = 60.0
        colour = DOMAIN_COLOURS[domain]
        parts.append(
            f'<text x="{x}" y="40" font-size="15" font-weight="bold" fill="{colour}">'
            f"{html.escape(DOMAIN_TITLES[domain])}</text>"
        )
        for table in tables:
            shown = [c for c in table.columns if c.primary_key or c.foreign_keys]
            height = head_h + len(shown) * row_h + pad
            positions[table.name] = (x, y, height)
            parts.append(
                f'<rect x="{x}" y="{y}" width="{box_w}" height="{height}" rx="4" '
                f'fill="white" stroke="{colour}" stroke-width="1.5"/>'
                f'<rect x="{x}" y="{y}" width="{box_w}" height="{head_h}" rx="4" fill="{colour}"/>'
                f'<text x="{x + 8}" y="{y + 15}" font-size="12" font-weight="bold" fill="white">'
                f"{html.escape(table.name)}</text>"
            )
            for j, column in enumerate(shown):
                cy = y + head_h + j * row_h + 11
                rows_at[(table.name, column.name)] = cy - 4
                mark = "PK " if column.primary_key else "FK "
                parts.append(
                    f'<text x="{x + 8}" y="{cy}" font-size="10" fill="#333">'
                    f"{mark}{html.escape(column.name)}</text>"
                )
            y += height + gap
        tallest = max(tallest, y)
    edges: list[str] = []
    for table in CANONICAL:
        sx, _, _ = positions[table.name]
        for column in table.columns:
            for fk in column.foreign_keys:
                target = fk.column.table.name
                tx, ty, _ = positions[target]
                sy = rows_at[(table.name, column.name)]
                ty_mid = ty + 11
                if tx > sx:
                    x1, x2 = sx + box_w, tx
                elif tx < sx:
                    x1, x2 = sx, tx + box_w
                else:
                    x1, x2 = sx + box_w, tx + box_w
                bend = max(40.0, abs(x2 - x1) / 2) if tx != sx else 45.0
                c1 = x1 + (bend if x1 >= sx + box_w else -bend)
                c2 = x2 - bend if tx > sx else x2 + bend
                colour = DOMAIN_COLOURS[_domain_of(table.name)]
                edges.append(
                    f'<path d="M{x1},{sy} C{c1},{sy} {c2},{ty_mid} {x2},{ty_mid}" fill="none" '
                    f'stroke="{colour}" stroke-opacity="0.45" stroke-width="1"/>'
                )
    width = 40 + len(DOMAIN_MODULES) * (box_w + col_gap)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{tallest + 20}" '
        f'viewBox="0 0 {width} {tallest + 20}" font-family="DejaVu Sans, Arial, sans-serif">'
        '<rect width="100%" height="100%" fill="#fbfbfb"/>'
        + "".join(edges)
        + "".join(parts)
        + "</svg>\n"
    )


def _domain_of(table: str) -> str:
    for domain, tables in domain_tables().items():
        if any(t.name == table for t in tables):
            return domain
    raise KeyError(table)


def render_access_tables() -> str:
    """Return the permission catalogue, the default roles and the permission matrix as tables."""
    from tests.support.matrix import MATRIX, NOTES  # noqa: PLC0415 - the matrix lives with its test

    from velocity_domain.access.catalogue import DEFAULT_ROLES, PERMISSIONS  # noqa: PLC0415
    from velocity_domain.access.operations import OPERATIONS  # noqa: PLC0415
    from velocity_domain.velocity import Velocity  # noqa: F401, PLC0415 - registers every operation

    roles = list(DEFAULT_ROLES)
    lines = [
        ".. list-table:: The permission catalogue",
        "   :header-rows: 1",
        "   :widths: 30 55 15",
        "",
        *_row(["permission", "allows", "sensitive"]),
    ]
    for p in PERMISSIONS:
        lines += _row([_literal(p.name), p.description, "yes" if p.sensitive else ""])
    lines += ["", ".. list-table:: Default roles", "   :header-rows: 1", "   :widths: 20 80", ""]
    lines += _row(["role", "what it is for, and its permissions"])
    for name, spec in DEFAULT_ROLES.items():
        grants = ", ".join(f"``{g}``" for g in sorted(spec.permissions))
        lines += _row([_literal(name), f"{spec.description}. {grants}"])
    lines += ["", ".. list-table:: The permission matrix", "   :header-rows: 1", ""]
    lines += _row(["operation", "needs", *roles, "HTTP route", "note"])
    http = _http_routes()
    for op, allowed in sorted(MATRIX.items()):
        needs = OPERATIONS[op].permission or "(see note)"
        marks = ["allowed" if r in allowed else "denied" for r in roles]
        routes = ", ".join(_literal(r) for r in http.get(op, [])) or "(none)"
        lines += _row([_literal(op), _literal(needs), *marks, routes, NOTES.get(op, "")])
    return "\n".join(lines) + "\n"


def _http_routes() -> dict[str, list[str]]:
    """Every HTTP route by the operation it runs, as ``METHOD /path``."""
    from velocity_domain.api import FAMILIES  # noqa: PLC0415

    found: dict[str, list[str]] = {}
    for family in FAMILIES:
        for route in family.routes:
            found.setdefault(route.operation, []).append(
                f"{route.method} {family.prefix}{route.path}"
            )
    return found


def _type_name(annotation: Any) -> str:
    if annotation is None:
        return ""
    args = getattr(annotation, "__args__", ())
    if args and getattr(annotation, "__origin__", None) is not None:
        inner = ", ".join(_type_name(a) for a in args if a is not Ellipsis)
        return f"{annotation.__origin__.__name__}[{inner}]"
    return getattr(annotation, "__name__", str(annotation))


def render_routes() -> str:
    """Return the route table: every route with its owning domain, permission and types."""
    from velocity_domain.api import FAMILIES  # noqa: PLC0415

    lines: list[str] = []
    for family in FAMILIES:
        title = f"``{family.prefix}`` ({family.name}, owned by {family.domain})"
        lines += [title, "-" * len(title), "", family.summary, ""]
        lines += [
            f".. list-table:: {family.name}",
            "   :header-rows: 1",
            "   :widths: 8 27 20 15 15 15",
            "",
        ]
        lines += _row(["method", "path", "permission", "request", "response", "errors"])
        for route in family.routes:
            response = _type_name(route.returns)
            if route.many:
                response = f"page of {response}"
            extra = []
            if route.conditional:
                extra.append("If-Match")
            if route.upload:
                extra.append("body: " + ", ".join(route.upload))
            request = ", ".join([_type_name(route.body), *extra]).strip(", ")
            errors = ", ".join(sorted({_literal(e.code) for e in route.all_errors}))
            lines += _row(
                [
                    route.method,
                    f"``{family.prefix}{route.path}``\n       {route.summary}",
                    _literal(route.permission or "any session"),
                    request,
                    response,
                    errors,
                ]
            )
        lines.append("")
    return "\n".join(lines)


def _lifecycles() -> list[Any]:
    """Return every lifecycle the documentation shows, as the objects the code checks with."""
    from velocity_domain.crm.lifecycle import DEFAULT_PIPELINE, IMPORT_BATCH, LEAD_STATUS  # noqa: PLC0415
    from velocity_domain.inventory.lifecycle import UNIT_STATUS  # noqa: PLC0415
    from velocity_domain.workflow import lifecycle as workflow  # noqa: PLC0415

    return [
        IMPORT_BATCH,
        workflow.WRITEBACK,
        DEFAULT_PIPELINE.lifecycle,
        LEAD_STATUS,
        UNIT_STATUS,
        workflow.AGENT_RUN,
        workflow.ACTION,
        workflow.BRANCH,
    ]


def render_lifecycles() -> str:
    """Return each lifecycle's state diagram and transition table."""
    lines: list[str] = []
    for lifecycle in _lifecycles():
        lines += [
            f".. figure:: /_generated/lifecycle-{_slug(lifecycle.name)}.svg",
            f"   :alt: State diagram of the {lifecycle.name} lifecycle",
            "",
            f"   The {lifecycle.name} lifecycle. Grey states are terminal.",
            "",
        ]
        lines += [
            f".. list-table:: {lifecycle.name}",
            "   :header-rows: 1",
            "   :widths: 30 70",
            "",
        ]
        lines += _row(["from", "may move to"])
        for state, targets in lifecycle.edges.items():
            moves = ", ".join(_literal(t.value) for t in sorted(targets, key=lambda t: t.value))
            lines += _row([_literal(state.value), moves or "(terminal)"])
        lines.append("")
    return "\n".join(lines)


def _slug(name: str) -> str:
    return name.replace(" ", "-")


def _generate(app: Sphinx) -> None:
    out = Path(app.srcdir) / "_generated"
    out.mkdir(exist_ok=True)
    _write(out / "schema-reference.rst", render_reference())
    _write(out / "erd.svg", render_erd())
    for domain, tables in domain_tables().items():
        svg = domain_erd_svg(DOMAIN_TITLES[domain], tables, DOMAIN_COLOURS[domain])
        _write(out / f"erd-{domain}.svg", svg)
    for lifecycle in _lifecycles():
        _write(
            out / f"lifecycle-{_slug(lifecycle.name)}.svg",
            lifecycle_svg(lifecycle.name, lifecycle.edges),
        )
    _write(out / "access-tables.rst", render_access_tables())
    _write(out / "routes.rst", render_routes())
    _write(out / "lifecycles.rst", render_lifecycles())


def _write(path: Path, content: str) -> None:
    if not path.exists() or path.read_text() != content:
        path.write_text(content)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the generator with Sphinx."""
    app.connect("builder-inited", _generate)
    return {"parallel_read_safe": True, "version": "1"}
