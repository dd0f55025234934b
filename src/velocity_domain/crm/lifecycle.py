"""The opportunity stage pipeline: which stage may follow which.

The default is the real-estate sales pipeline ``new -> contacted ->
site_visit_scheduled -> site_visit_done -> negotiation -> booking -> won``.
Every open stage may also move to ``lost`` (the service asks for a lost
reason), and ``site_visit_scheduled`` may go back to ``contacted`` when a
visit falls through. ``won`` and ``lost`` close the deal and are terminal.

A host replaces the pipeline with its own table over the same stage values;
the table is checked when the :class:`Pipeline` is built.

>>> DEFAULT_PIPELINE.allowed(OpportunityStage.NEW) == {
...     OpportunityStage.CONTACTED, OpportunityStage.LOST}
True
>>> Pipeline({"new": ["won"]})
Traceback (most recent call last):
...
velocity_domain.errors.ValidationFailed: table: stage lost is never reached from new
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from velocity_domain.crm.entities import ImportBatchStatus, LeadStatus, OpportunityStage
from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.lifecycle import Lifecycle

__all__ = ["DEFAULT_PIPELINE", "DEFAULT_TABLE", "IMPORT_BATCH", "LEAD_STATUS", "Pipeline"]

_S = OpportunityStage
_CLOSED = frozenset({_S.WON, _S.LOST})

#: The default real-estate transition table (``won`` and ``lost`` are terminal).
DEFAULT_TABLE: Mapping[OpportunityStage, frozenset[OpportunityStage]] = {
    _S.NEW: frozenset({_S.CONTACTED, _S.LOST}),
    _S.CONTACTED: frozenset({_S.SITE_VISIT_SCHEDULED, _S.LOST}),
    _S.SITE_VISIT_SCHEDULED: frozenset({_S.SITE_VISIT_DONE, _S.CONTACTED, _S.LOST}),
    _S.SITE_VISIT_DONE: frozenset({_S.NEGOTIATION, _S.LOST}),
    _S.NEGOTIATION: frozenset({_S.BOOKING, _S.LOST}),
    _S.BOOKING: frozenset({_S.WON, _S.LOST}),
}

#: Lead qualification: a converted lead stays converted.
LEAD_STATUS: Lifecycle[LeadStatus] = Lifecycle(
    "lead status",
    {
        LeadStatus.OPEN: {LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED, LeadStatus.CONVERTED},
        LeadStatus.QUALIFIED: {LeadStatus.DISQUALIFIED, LeadStatus.CONVERTED},
        LeadStatus.DISQUALIFIED: {LeadStatus.OPEN},
    },
)

_I = ImportBatchStatus

#: The import lifecycle of spec section 8. ``failed`` may be reached from every
#: state but ``committed`` (once rows are in the canonical tables the batch is
#: done) and needs a reason. Retries: a ``failed`` batch may go back to
#: ``uploaded`` and run again from the start, which writes nothing twice
#: because a failed batch never reached ``committed`` (no move leads from
#: ``committed`` to ``failed``); a ``proposed`` batch may go back to ``mapped``
#: when a reviewer wants the mapping changed. Nothing leaves ``committed``.
IMPORT_BATCH: Lifecycle[ImportBatchStatus] = Lifecycle(
    "import batch",
    {
        _I.UPLOADED: {_I.PARSED, _I.FAILED},
        _I.PARSED: {_I.MAPPED, _I.FAILED},
        _I.MAPPED: {_I.PROPOSED, _I.FAILED},
        _I.PROPOSED: {_I.APPROVED, _I.MAPPED, _I.FAILED},
        _I.APPROVED: {_I.COMMITTED, _I.FAILED},
        _I.FAILED: {_I.UPLOADED},
    },
)


def _stage(value: Any) -> OpportunityStage:
    if isinstance(value, OpportunityStage):
        return value
    try:
        return OpportunityStage(value)
    except ValueError:
        allowed = ", ".join(s.value for s in OpportunityStage)
        raise ValidationFailed(
            "table", f"{value!r} is not a stage (one of: {allowed})", value=value
        ) from None


class Pipeline:
    """An opportunity pipeline: a transition table over :class:`OpportunityStage`.

    ``table`` maps each stage (a member or its string value) to the stages it
    may move to.

    Checked at construction: ``won`` and ``lost`` are terminal, every stage
    the table names is reachable from ``new``, both ``won`` and ``lost`` are
    reached, and no other stage is a dead end. Stages the table never names
    are simply not used by this pipeline.
    """

    initial: OpportunityStage = OpportunityStage.NEW

    def __init__(
        self,
        table: Mapping[Any, Iterable[Any]],
        *,
        name: str = "opportunity pipeline",
    ) -> None:
        if not isinstance(table, Mapping) or not table:
            raise ValidationFailed("table", "must be a non-empty mapping of stage to next stages")
        edges: dict[OpportunityStage, frozenset[OpportunityStage]] = {}
        for source, targets in table.items():
            if isinstance(targets, str | bytes) or not isinstance(targets, Iterable):
                raise ValidationFailed("table", f"the moves from {source!r} must be a collection")
            edges[_stage(source)] = frozenset(_stage(t) for t in targets)
        self._check(edges)
        self.name = name
        self.lifecycle: Lifecycle[OpportunityStage] = Lifecycle(name, edges)
        self.stages: tuple[OpportunityStage, ...] = tuple(
            s for s in OpportunityStage if s in edges or any(s in t for t in edges.values())
        )

    @staticmethod
    def _check(edges: Mapping[OpportunityStage, frozenset[OpportunityStage]]) -> None:
        for closed in sorted(_CLOSED):
            if edges.get(closed):
                raise ValidationFailed("table", f"stage {closed.value} must be terminal")
        named = set(edges) | {t for targets in edges.values() for t in targets}
        for stage in named - _CLOSED:
            if not edges.get(stage):
                raise ValidationFailed(
                    "table", f"stage {stage.value} is a dead end; only won and lost may be"
                )
        reached = {Pipeline.initial}
        frontier = [Pipeline.initial]
        while frontier:
            for target in edges.get(frontier.pop(), ()):
                if target not in reached:
                    reached.add(target)
                    frontier.append(target)
        for stage in OpportunityStage:
            if (stage in named or stage in _CLOSED) and stage not in reached:
                raise ValidationFailed("table", f"stage {stage.value} is never reached from new")

    def allowed(self, current: OpportunityStage) -> frozenset[OpportunityStage]:
        """Return the stages ``current`` may move to (empty for ``won`` and ``lost``)."""
        return self.lifecycle.allowed(current)

    def is_open(self, stage: OpportunityStage) -> bool:
        """Say whether a deal in ``stage`` is still open (not won or lost)."""
        return stage not in _CLOSED

    def transition(self, current: OpportunityStage, target: OpportunityStage) -> OpportunityStage:
        """Return ``target`` if the move is allowed, else raise ``InvalidTransition``."""
        return self.lifecycle.transition(current, target)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, {len(self.stages)} stages)"


#: The pipeline every :class:`~velocity_domain.Velocity` starts with.
DEFAULT_PIPELINE = Pipeline(DEFAULT_TABLE)
