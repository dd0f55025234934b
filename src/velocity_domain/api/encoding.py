"""The data of HTTP responses, made by the library's converter (the app writes it as JSON).

The API's converter is a copy of :data:`velocity_domain.kernel.convert.converter`
that also turns the entities inside tuples (a page's ``items``) into dicts,
so a nested record is written exactly as a top-level one.

>>> from velocity_domain.kernel.pagination import Page
>>> from decimal import Decimal
>>> unstructure(Page((Decimal("1.50"),), None))
{'items': ['1.50'], 'next_cursor': None}
"""

from __future__ import annotations

from typing import Any

import cattrs

from velocity_domain.kernel.convert import converter

__all__ = ["api_converter", "unstructure"]


def _build() -> cattrs.Converter:
    conv = converter.copy()

    def sequence(value: Any) -> list[Any]:
        return [conv.unstructure(item) for item in value]

    conv.register_unstructure_hook_func(
        lambda t: t is tuple or getattr(t, "__origin__", None) is tuple, sequence
    )
    return conv


#: The converter of the HTTP layer (the library's, with nested tuples unstructured).
api_converter: cattrs.Converter = _build()


def unstructure(value: Any) -> Any:
    """Return ``value`` as JSON-safe data."""
    return api_converter.unstructure(value)
