"""Sphinx extension: every "spec section N" in the documentation links to that section.

The product spec is a page of the documentation (``spec.rst``, each numbered
section under the label ``spec-section-N``). This transform finds the phrases
``spec section 9``, ``spec sections 8, 9, 12 and 13`` and ``spec §9`` in
running text (pages and docstrings alike; never in code, titles or links) and
turns each number into a cross-reference, so a citation opens the text it
cites. A number the spec lacks fails the build (an undefined label under -W).
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform

CITATION = re.compile(
    r"spec(?:'s)?\s+(?:sections?\s+|§\s*)(?P<numbers>\d+(?:(?:,\s*|\s+and\s+|\s+or\s+)\d+)*)"
)
NUMBER = re.compile(r"\d+")
SKIP = (
    nodes.literal,
    nodes.literal_block,
    nodes.reference,
    nodes.title,
    nodes.raw,
    nodes.comment,
    nodes.doctest_block,
    addnodes.pending_xref,
    addnodes.desc_signature,
)


def _link(number: str) -> addnodes.pending_xref:
    ref = addnodes.pending_xref(
        "",
        refdomain="std",
        reftype="ref",
        reftarget=f"spec-section-{number}",
        refexplicit=True,
        refwarn=True,
    )
    ref += nodes.inline(number, number)
    return ref


def _split(text: str) -> list[nodes.Node] | None:
    """Return ``text`` as text and links, or ``None`` when it cites no spec section."""
    pieces: list[nodes.Node] = []
    at = 0
    for citation in CITATION.finditer(text):
        for number in NUMBER.finditer(citation.group("numbers")):
            start = citation.start("numbers") + number.start()
            pieces.append(nodes.Text(text[at:start]))
            pieces.append(_link(number.group()))
            at = start + len(number.group())
    if not pieces:
        return None
    pieces.append(nodes.Text(text[at:]))
    return [p for p in pieces if not (isinstance(p, nodes.Text) and not p.astext())]


class SpecCitations(SphinxTransform):
    """Link the spec citations of every document as it is read."""

    default_priority = 400

    def apply(self, **kwargs: Any) -> None:
        """Replace each citing text node by text and cross-references."""
        if self.env.docname == "spec":
            return
        for text in list(self.document.findall(nodes.Text)):
            parent = text.parent
            if parent is None or any(isinstance(a, SKIP) for a in _ancestors(text)):
                continue
            replacement = _split(text.astext())
            if replacement is not None:
                parent.replace(text, replacement)


def _ancestors(node: nodes.Node) -> list[nodes.Node]:
    found = []
    while node.parent is not None:
        node = node.parent
        found.append(node)
    return found


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the transform with Sphinx."""
    app.add_transform(SpecCitations)
    return {"parallel_read_safe": True, "version": "1"}
