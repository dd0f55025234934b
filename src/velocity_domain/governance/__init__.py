"""The writeback release flow (spec sections 8, 9 and 12): the workflow/policy bridge.

A change to canonical data is described as a :class:`~.change.ProposedChange`.
The :class:`~.policy.Policy` classifies it; a change it marks for review is
stored as a ``workflow_writebacks`` row (with its ``workflow_policy_decisions``
row) and waits for operators; an approved writeback is applied by the applier
its operation registered (:class:`~.appliers.Appliers`). The services call
this package; ``velocity.writebacks`` is its face.
"""

from velocity_domain.governance.appliers import Appliers
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.engine import Governance
from velocity_domain.governance.policy import DEFAULT_RULES, Policy, Rule, Verdict

__all__ = [
    "DEFAULT_RULES",
    "Appliers",
    "Governance",
    "Policy",
    "ProposedChange",
    "Rule",
    "Verdict",
]
