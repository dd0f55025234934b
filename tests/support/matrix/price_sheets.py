"""Matrix rows of the developer price sheets (issue 14): inventory writers import, all read."""

from __future__ import annotations

import itertools
from typing import Any

from tests.support.matrix import ALL_ROLES, Row
from velocity_domain.imports.price_sheets import PriceSheetService

WRITERS = frozenset({"admin", "operator"})
_SHEET = b"Tower,Unit No,Type,Price,Status\r\nA,101,2 BHK,95 L,Available\r\n"
_serial = itertools.count()


def _service(v: Any) -> PriceSheetService:
    """``velocity.price_sheets``, or one built from the velocity's internals until it exists."""
    found = getattr(v, "price_sheets", None)
    if isinstance(found, PriceSheetService):
        return found
    return PriceSheetService(v._unit_of_work, v.clock, v.governance, inventory=v.inventory)


def _submit(v: Any, w: Any, p: Any) -> Any:
    project = v.inventory.create_project(w.admin, project_name=f"Sheet Towers {next(_serial)}")
    return _service(v).submit(p, _SHEET, project_id=project.key, source_system="matrix")


ROWS: dict[str, Row] = {
    "inventory.price_sheets.submit": Row(
        WRITERS, _submit, "each changed price is a proposal for an operator's approval"
    ),
    "inventory.price_sheets.get": Row(
        ALL_ROLES, lambda v, w, p: _service(v).get(p, _submit(v, w, w.admin).job.key)
    ),
    "inventory.price_sheets.list": Row(ALL_ROLES, lambda v, w, p: _service(v).list(p)),
}
