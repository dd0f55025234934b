"""Discovery of every canonical entity class, and hypothesis strategies built from their specs."""

from __future__ import annotations

import functools
import importlib
import string
from datetime import UTC
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st

from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.fields import FieldSpec, field_spec
from velocity_domain.kernel.model import Entity

DOMAINS = ("crm", "intel", "inventory", "oracle", "identity", "workflow")

# The 48 tables of spec section 4, the two import tables the lifecycle needs, and merges.
SPEC_TABLES = {
    "crm": [
        "crm_people",
        "crm_accounts",
        "crm_households",
        "crm_relationships",
        "crm_leads",
        "crm_opportunities",
        "crm_property_interests",
        "crm_stage_history",
        "crm_import_batches",
        "crm_import_rows",
        "crm_person_merges",
    ],
    "intel": [
        "intel_interactions",
        "intel_messages",
        "intel_calls",
        "intel_call_recordings",
        "intel_transcripts",
        "intel_emails",
        "intel_whatsapp_threads",
        "intel_visits",
        "intel_reminders",
        "intel_qd_scores",
        "intel_qd_timeseries",
        "intel_vehicle_events",
        "intel_perception_events",
        "intel_cctv_links",
        "intel_blob_store_index",
    ],
    "inventory": [
        "inventory_projects",
        "inventory_units",
        "inventory_pricing_history",
        "inventory_availability",
        "inventory_media",
        "inventory_location_index",
        "inventory_import_jobs",
    ],
    "oracle": [
        "oracle_component_families",
        "oracle_component_chapters",
        "oracle_component_templates",
        "oracle_component_examples",
        "oracle_component_tags",
        "oracle_component_lineage",
    ],
    "identity": [
        "core_users",
        "core_roles",
        "core_permissions",
        "core_role_assignments",
        "core_sessions",
        "core_audit_events",
    ],
    "workflow": [
        "workflow_actions",
        "workflow_branches",
        "workflow_approvals",
        "workflow_writebacks",
        "workflow_agent_runs",
        "workflow_policy_decisions",
    ],
}


def entity_classes(domain: str | None = None) -> list[type[Entity]]:
    """Every entity class exported by the given domain's ``entities`` module (or all)."""
    found: list[type[Entity]] = []
    for name in [domain] if domain else list(DOMAINS):
        module = importlib.import_module(f"velocity_domain.{name}.entities")
        for export in getattr(module, "__all__", []):
            obj = getattr(module, export)
            if isinstance(obj, type) and issubclass(obj, Entity) and "table_name" in vars(obj):
                found.append(obj)
    return found


_SAFE_CHARS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
_SAFE_TEXT = st.text(alphabet=_SAFE_CHARS, min_size=1)
_PHONES = ["+919830012345", "+14155552671", "+442079460958", "+919876543210"]


def _matching(spec: FieldSpec) -> st.SearchStrategy[str]:
    """Strings that fully match ``spec.pattern`` and pass the usual text checks."""
    assert spec.pattern is not None
    limit = spec.max_length or 500
    return st.from_regex(spec.pattern, fullmatch=True, alphabet=_SAFE_CHARS).filter(
        lambda s: len(s) <= limit and s.strip()
    )


def _strategy(spec: FieldSpec, *, allow_none: bool = True) -> st.SearchStrategy[Any]:
    kind = spec.kind
    limit = min(spec.max_length or 40, 40)
    base: st.SearchStrategy[Any]
    if kind in ("id", "ref"):
        base = st.uuids()
    elif kind == "text" and spec.pattern:
        base = _matching(spec)
    elif kind in ("text", "long_text"):
        base = st.text(
            alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")),
            min_size=1,
            max_size=limit,
        ).filter(str.strip)
    elif kind == "email":
        base = st.builds(
            "{}@{}.com".format,
            st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12),
            st.text(string.ascii_lowercase, min_size=1, max_size=12),
        )
    elif kind == "phone":
        base = st.sampled_from(_PHONES)
    elif kind == "url":
        base = st.builds(
            "https://example.com/{}".format, st.text(string.ascii_lowercase, max_size=20)
        )
    elif kind == "choice":
        assert spec.choices is not None
        base = st.sampled_from(list(spec.choices))
    elif kind == "int":
        low = int(spec.minimum or 0)
        high = int(spec.maximum) if spec.maximum is not None else low + 1_000_000
        base = st.integers(min_value=low, max_value=high)
    elif kind in ("decimal", "money", "ratio"):
        low = Decimal(spec.minimum) if spec.minimum is not None else Decimal(-1_000_000)
        high = Decimal(spec.maximum) if spec.maximum is not None else Decimal(10**12)
        places = 2 if kind == "money" else 4
        base = st.decimals(
            min_value=low, max_value=high, places=places, allow_nan=False, allow_infinity=False
        )
    elif kind == "currency":
        base = st.sampled_from(["INR", "USD", "AED", "GBP"])
    elif kind == "datetime":
        base = st.datetimes(timezones=st.just(UTC))
    elif kind == "date":
        base = st.dates()
    elif kind == "bool":
        base = st.booleans()
    elif kind == "json":
        leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
        base = st.dictionaries(
            st.text(max_size=8),
            st.recursive(
                leaves,
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3)
                ),
                max_leaves=6,
            ),
            max_size=4,
        )
    elif kind == "labels":
        label = (
            _matching(spec)
            if spec.pattern
            else _SAFE_TEXT.filter(str.strip).map(lambda s: s[:limit])
        )
        base = st.lists(label, max_size=4, unique=True).map(tuple)
    else:  # pragma: no cover - a new kind must be taught here
        raise AssertionError(f"no strategy for kind {kind}")
    return st.none() | base if spec.optional and allow_none else base


# How many times a draw that breaks a cross-field rule is repaired before it is given up.
_REPAIRS = 8


@functools.cache
def entity_strategy(cls: type[Entity]) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for ``cls``: every init field drawn from its spec.

    Random fields break cross-field rules (status-dependent fields, time order,
    the source pair) so often that most draws would be thrown away. So the
    times and dates drawn are put in the order their fields are declared (which
    is their order in time: ``created_at`` before ``updated_at``, ``valid_from``
    before ``valid_to``), and a draw the entity still refuses is repaired a few
    times: the field the error names is cleared when it may be empty, otherwise
    drawn again (never empty).
    """
    specs = {f.name: field_spec(f) for f in attrs.fields(cls) if f.init}
    drawn = st.fixed_dictionaries({name: _strategy(spec) for name, spec in specs.items()})
    redrawn = {name: _strategy(spec, allow_none=False) for name, spec in specs.items()}
    timelines = [[n for n, s in specs.items() if s.kind == kind] for kind in ("datetime", "date")]

    @st.composite
    def repaired(draw: st.DrawFn) -> dict[str, Any]:
        kwargs: dict[str, Any] = draw(drawn)
        for names in timelines:
            present = [n for n in names if kwargs[n] is not None]
            kwargs.update(zip(present, sorted(kwargs[n] for n in present), strict=True))
        for _ in range(_REPAIRS):
            try:
                cls(**kwargs)
            except ValidationFailed as err:
                spec = specs.get(err.field)
                if spec is None:
                    break
                if spec.optional and kwargs[err.field] is not None:
                    kwargs[err.field] = None
                else:
                    kwargs[err.field] = draw(redrawn[err.field])
            else:
                break
        return kwargs

    return repaired()
