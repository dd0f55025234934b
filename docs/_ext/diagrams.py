"""Pictures for the documentation, drawn as SVG from the objects the code runs on.

* :func:`lifecycle_svg` draws a lifecycle's transition table as a state
  diagram: the states top to bottom in their declared order, a move to the
  next state as a straight arrow, longer moves forward as arcs on the right
  and moves back as arcs on the left. Terminal states have a grey fill.
* :func:`domain_erd_svg` draws one domain's tables with their key columns, its
  foreign keys inside the domain as curves, and every referenced table
  written beside its column (``→ core_users``), so a reader need not follow
  the curves.

Nothing here needs Graphviz or a network: the SVG is written by hand, so the
pictures are the same on every machine and work offline.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from enum import Enum
from typing import Any

import sqlalchemy as sa

FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'
CHAR_W = 7.6  # an average character at font-size 13, wide enough for DejaVu Sans
ARROW = (
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
    'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
    'fill="#444"/></marker></defs>'
)


def _svg(width: float, height: float, body: Sequence[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" {FONT} role="img">'
        f"<title>{html.escape(title)}</title>{ARROW}"
        '<rect width="100%" height="100%" fill="white"/>' + "".join(body) + "</svg>\n"
    )


def _ports(top: float, height: float, count: int) -> list[float]:
    """Spread ``count`` arc ends evenly over a box's side."""
    step = (height - 8) / (count + 1)
    return [top + 4 + step * (k + 1) for k in range(count)]


def lifecycle_svg(name: str, edges: dict[Any, frozenset[Any]]) -> str:
    """Return the state diagram of the lifecycle ``name`` with the transition table ``edges``."""
    states: list[Enum] = list(edges)
    index = {state: k for k, state in enumerate(states)}
    box_h, pitch, top = 34.0, 60.0, 24.0
    box_w = max(len(str(s.value)) for s in states) * CHAR_W + 28
    moves = [(s, t) for s in states for t in sorted(edges[s], key=lambda x: index[x])]
    right = [(s, t) for s, t in moves if index[t] > index[s] + 1]
    left = [(s, t) for s, t in moves if index[t] < index[s]]
    reach = 26.0  # how far an arc spanning one more state bends out
    span_r = max((index[t] - index[s] for s, t in right), default=0)
    span_l = max((index[s] - index[t] for s, t in left), default=0)
    x0 = 30 + span_l * reach
    width = x0 + box_w + 30 + span_r * reach
    y_of = {s: top + k * pitch for k, s in enumerate(states)}
    body: list[str] = []

    def ends(side: list[tuple[Enum, Enum]]) -> dict[tuple[Enum, Enum, Enum], float]:
        at: dict[Enum, list[tuple[int, Enum, Enum]]] = {s: [] for s in states}
        for s, t in side:
            at[s].append((index[t], s, t))
            at[t].append((index[s], s, t))
        placed: dict[tuple[Enum, Enum, Enum], float] = {}
        for state, touching in at.items():
            touching.sort(key=lambda item: item[0])
            for y, (_, s, t) in zip(
                _ports(y_of[state], box_h, len(touching)), touching, strict=True
            ):
                placed[(state, s, t)] = y
        return placed

    for side, edge_x, sign in ((right, x0 + box_w, 1), (left, x0, -1)):
        placed = ends(side)
        for s, t in side:
            y1, y2 = placed[(s, s, t)], placed[(t, s, t)]
            bend = edge_x + sign * reach * abs(index[t] - index[s])
            body.append(
                f'<path d="M{edge_x},{y1:.1f} C{bend},{y1:.1f} {bend},{y2:.1f} '
                f'{edge_x + sign * 2},{y2:.1f}" fill="none" stroke="#444" stroke-width="1.2" '
                f'marker-end="url(#arrow)"/>'
            )
    for s, t in moves:
        if index[t] == index[s] + 1:
            cx = x0 + box_w / 2
            body.append(
                f'<line x1="{cx}" y1="{y_of[s] + box_h}" x2="{cx}" y2="{y_of[t] - 2}" '
                'stroke="#444" stroke-width="1.2" marker-end="url(#arrow)"/>'
            )
    for state in states:
        terminal = not edges[state]
        fill = "#e8e8e8" if terminal else "#eef4fb"
        stroke = "#777" if terminal else "#1f77b4"
        y = y_of[state]
        body.append(
            f'<rect x="{x0}" y="{y}" width="{box_w}" height="{box_h}" rx="14" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="1.5"/>'
            f'<text x="{x0 + box_w / 2}" y="{y + 22}" font-size="13" text-anchor="middle" '
            f'fill="#111">{html.escape(str(state.value))}</text>'
        )
    height = top + len(states) * pitch - (pitch - box_h) + 24
    return _svg(width, height, body, f"lifecycle {name}")


def domain_erd_svg(title: str, tables: Sequence[sa.Table], colour: str) -> str:
    """Return one domain's entity-relationship diagram: key columns, foreign keys as curves."""
    box_w, gap, row_h, head_h, pad = 340.0, 90.0, 17.0, 24.0, 8.0
    names = {t.name for t in tables}
    heights = {
        t.name: head_h
        + pad
        + row_h * len([c for c in t.columns if c.primary_key or c.foreign_keys])
        for t in tables
    }
    columns: list[list[sa.Table]] = [[], []]
    filled = [0.0, 0.0]
    for table in tables:
        k = 0 if filled[0] <= filled[1] else 1
        columns[k].append(table)
        filled[k] += heights[table.name] + 18
    where: dict[str, tuple[float, float]] = {}
    rows: dict[tuple[str, str], float] = {}
    body: list[str] = []
    for k, column_tables in enumerate(columns):
        x, y = 20 + k * (box_w + gap), 48.0
        for table in column_tables:
            where[table.name] = (x, y)
            body.append(
                f'<rect x="{x}" y="{y}" width="{box_w}" height="{heights[table.name]}" rx="4" '
                f'fill="white" stroke="{colour}" stroke-width="1.5"/>'
                f'<rect x="{x}" y="{y}" width="{box_w}" height="{head_h}" rx="4" fill="{colour}"/>'
                f'<text x="{x + 8}" y="{y + 17}" font-size="13" font-weight="bold" '
                f'fill="white">{html.escape(table.name)}</text>'
            )
            shown = [c for c in table.columns if c.primary_key or c.foreign_keys]
            for j, column in enumerate(shown):
                cy = y + head_h + 4 + j * row_h + 12
                rows[(table.name, column.name)] = cy - 4
                mark = "PK" if column.primary_key else "FK"
                outside = [fk.column.table.name for fk in column.foreign_keys]
                note = (
                    f'<tspan fill="#888"> → {html.escape(", ".join(outside))}</tspan>'
                    if outside
                    else ""
                )
                body.append(
                    f'<text x="{x + 8}" y="{cy}" font-size="12" fill="#222">'
                    f'<tspan font-weight="bold" fill="{colour}">{mark}</tspan> '
                    f"{html.escape(column.name)}{note}</text>"
                )
            y += heights[table.name] + 18
    for table in tables:
        sx, _ = where[table.name]
        for column in table.columns:
            for fk in column.foreign_keys:
                target = fk.column.table.name
                if target not in names:
                    continue
                tx, ty = where[target]
                sy, ey = rows[(table.name, column.name)], ty + head_h / 2
                if tx > sx:
                    x1, x2, c1, c2 = sx + box_w, tx, sx + box_w + gap / 2, tx - gap / 2
                elif tx < sx:
                    x1, x2, c1, c2 = sx, tx + box_w, sx - gap / 2, tx + box_w + gap / 2
                else:
                    x1 = x2 = sx + box_w
                    c1 = c2 = sx + box_w + 30 + min(abs(sy - ey) / 12, 40)
                body.insert(
                    0,
                    f'<path d="M{x1},{sy} C{c1},{sy} {c2},{ey} {x2 + (2 if x2 == x1 else 0)},{ey}" '
                    f'fill="none" stroke="{colour}" stroke-opacity="0.6" stroke-width="1.2" '
                    'marker-end="url(#arrow)"/>',
                )
    body.insert(
        0,
        f'<text x="20" y="28" font-size="15" font-weight="bold" fill="{colour}">'
        f"{html.escape(title)}</text>",
    )
    width = 40 + 2 * box_w + gap + 80
    height = 48 + max(filled) + 10
    return _svg(width, height, body, f"entity-relationship diagram: {title}")
