"""Sphinx configuration for the velocity_domain documentation."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
sys.path.insert(0, str(ROOT))

import velocity_domain  # noqa: E402

project = "velocity_domain"
author = "Project Velocity engineering"
copyright = "2026, Project Velocity"
release = velocity_domain.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "schema_doc",
    "spec_links",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
exclude_patterns = [
    "_build",
    "_generated/access-tables.rst",
    "_generated/lifecycles.rst",
    "_generated/routes.rst",
]
html_theme = "furo"
html_title = f"velocity_domain {release}"
html_static_path: list[str] = []
