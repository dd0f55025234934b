"""The documentation's generated pictures and spec links say what the code says.

The Sphinx extensions in docs/_ext draw the lifecycle state diagrams and the
per-domain ER diagrams from the code's own objects, and link every "spec
section N" to the spec page. A Sphinx build with -W checks that they run;
these tests check what they draw and link.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest
from docutils import nodes

from velocity_domain.adapters.postgres.tables import DOMAIN_MODULES
from velocity_domain.crm.lifecycle import DEFAULT_PIPELINE
from velocity_domain.workflow.lifecycle import WRITEBACK

EXT = Path(__file__).resolve().parent.parent / "docs" / "_ext"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def ext() -> dict[str, ModuleType]:
    sys.path.insert(0, str(EXT))
    try:
        import diagrams  # noqa: PLC0415
        import schema_doc  # noqa: PLC0415
        import spec_links  # noqa: PLC0415
    finally:
        sys.path.remove(str(EXT))
    return {"diagrams": diagrams, "schema_doc": schema_doc, "spec_links": spec_links}


@pytest.mark.parametrize("lifecycle", [DEFAULT_PIPELINE.lifecycle, WRITEBACK], ids=str)
def test_a_state_diagram_draws_every_state_and_every_move(
    ext: dict[str, ModuleType], lifecycle: object
) -> None:
    edges = lifecycle.edges  # type: ignore[attr-defined]
    svg = ET.fromstring(ext["diagrams"].lifecycle_svg("x", edges))
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert labels == [str(state.value) for state in edges]
    arrows = [e for e in svg.iter() if e.get("marker-end") == "url(#arrow)"]
    assert len(arrows) == sum(len(targets) for targets in edges.values())
    terminal = [s for s, targets in edges.items() if not targets]
    grey = [r for r in svg.iter(f"{SVG}rect") if r.get("fill") == "#e8e8e8"]
    assert len(grey) == len(terminal) > 0


def test_each_domain_diagram_shows_its_tables_and_names_foreign_targets(
    ext: dict[str, ModuleType],
) -> None:
    schema_doc = ext["schema_doc"]
    for domain, tables in schema_doc.domain_tables().items():
        assert domain in DOMAIN_MODULES
        svg = ext["diagrams"].domain_erd_svg(domain, tables, "#000")
        root = ET.fromstring(svg)
        text = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
        for table in tables:
            assert table.name in text
            for column in table.columns:
                for fk in column.foreign_keys:
                    assert fk.column.table.name in text


@pytest.mark.parametrize(
    ("text", "linked"),
    [
        ("the flow of spec sections 8, 9, 12 and 13 as", ["8", "9", "12", "13"]),
        ("reads of spec section 10 are", ["10"]),
        ("the operator inbox query of spec\nsection 11: every", ["11"]),
    ],
)
def test_spec_citations_become_links_to_their_sections(
    ext: dict[str, ModuleType], text: str, linked: list[str]
) -> None:
    pieces = ext["spec_links"]._split(text)
    assert pieces is not None
    targets = [p["reftarget"] for p in pieces if not isinstance(p, nodes.Text)]
    assert targets == [f"spec-section-{n}" for n in linked]
    assert "".join(p.astext() for p in pieces) == text


@pytest.mark.parametrize("text", ["RFC 9562 section 6.2, method 2", "a section 4, no spec"])
def test_other_sections_are_left_alone(ext: dict[str, ModuleType], text: str) -> None:
    assert ext["spec_links"]._split(text) is None


def test_the_spec_page_has_an_anchor_for_each_numbered_section() -> None:
    spec = (EXT.parent / "spec.rst").read_text()
    anchors = re.findall(r"^\.\. _spec-section-(\d+):$", spec, flags=re.MULTILINE)
    assert anchors == [str(n) for n in range(1, 18)]
