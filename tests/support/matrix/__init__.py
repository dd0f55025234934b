"""The permission matrix, one module per route family, gathered here.

Each module in this package defines ``ROWS``: operation name -> :class:`Row`
(the default roles allowed to call it, how to call it in the access world,
and a note for the docs). ``test_permission_matrix.py`` checks every cell on
both stores, and the docs print the table.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import attrs

ALL_ROLES = frozenset(
    {"admin", "sales_manager", "sales_agent", "operator", "analyst", "oracle_agent"}
)
ADMIN_ONLY = frozenset({"admin"})


@attrs.frozen
class Row:
    """One operation: who may call it, how the test calls it, and a note for the docs."""

    allowed: frozenset[str]
    call: Callable[[Any, Any, Any], Any]
    note: str = ""


def _gather() -> dict[str, Row]:
    rows: dict[str, Row] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, row in module.ROWS.items():
            assert name not in rows, f"{name} is in the matrix twice"
            rows[name] = row
    return rows


ROWS: dict[str, Row] = _gather()
MATRIX: dict[str, frozenset[str]] = {name: row.allowed for name, row in ROWS.items()}
NOTES: dict[str, str] = {name: row.note for name, row in ROWS.items() if row.note}
