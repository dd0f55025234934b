"""The writeback policy: rules that classify a proposed change, and their defaults.

A :class:`Rule` looks at a :class:`~velocity_domain.governance.change.ProposedChange`
and who proposes it, and either says nothing (``None``) or gives a
:class:`Verdict`: an outcome (approve at once, send for review, deny), a risk
level, its own name and a reason. The :class:`Policy` asks every rule and keeps
the gravest verdict (deny over review over approve; then the higher risk and
the larger number of approvals). When no rule speaks, a human's or the host
system's change is approved at once (low risk) and an agent's goes to review.

The default rules (:data:`DEFAULT_RULES`) send to review: merges (two
approvals), deletions, changes to money fields (prices, deal values,
budgets) or to their currency, stage moves to ``won`` or ``lost``, a change
of the assigned user of a row that has one, bulk proposals over
:data:`BULK_THRESHOLD` changes, an agent's change to a person's contact
details, and an import's updates of people and possible duplicates
(``import_review``; its new people pass as any create does); an agent's
change to identity tables is denied. A host adds, replaces or removes rules
by name on ``velocity.governance.policy``.

>>> from uuid import UUID
>>> from velocity_domain.access.principal import Principal
>>> change = ProposedChange(
...     operation="crm.opportunities.move_stage",
...     target_table="crm_opportunities",
...     change_kind="update",
...     target_ref=UUID(int=1),
...     base_version=4,
...     fields={"stage": "won"},
...     current={"stage": "booking"},
... )
>>> verdict = Policy().classify(change, Principal.system("demo"))
>>> (verdict.outcome.value, verdict.rule, verdict.risk.value)
('review_required', 'closing_stage', 'high')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import attrs

from velocity_domain.access.principal import Principal, PrincipalKind
from velocity_domain.errors import ValidationFailed, VelocityError
from velocity_domain.governance.change import ProposedChange
from velocity_domain.kernel.arguments import enum_arg
from velocity_domain.workflow.entities import ChangeKind, PolicyOutcome, RiskLevel, TargetDomain

__all__ = [
    "BULK_THRESHOLD",
    "CONTACT_DETAIL_FIELDS",
    "DEFAULT_RULES",
    "FieldRule",
    "Policy",
    "Rule",
    "Verdict",
    "bulk_rule",
]

#: More changes than this proposed together go to review.
BULK_THRESHOLD = 25
#: The fields of ``crm_people`` (and its contact points) an agent may not change unreviewed.
CONTACT_DETAIL_FIELDS = frozenset(
    {"full_name", "primary_email", "primary_phone", "linkedin_url", "value", "normalized_value"}
)
_CONTACT_TABLES = frozenset({"crm_people", "crm_contact_points"})
_MONEY_KINDS = frozenset({"money", "currency"})

_OUTCOME_RANK = {
    PolicyOutcome.AUTO_APPROVE: 0,
    PolicyOutcome.REVIEW_REQUIRED: 1,
    PolicyOutcome.DENY: 2,
}
_RISK_RANK = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}


def _check_name(field: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(field, "must be a non-empty string", value=value)


def _check_callable(field: str, value: object) -> None:
    if not callable(value):
        raise ValidationFailed(field, f"must be callable, not {type(value).__name__}")


def _outcome(value: object) -> PolicyOutcome:
    return enum_arg(PolicyOutcome, value, "outcome")


def _risk(value: object) -> RiskLevel:
    return enum_arg(RiskLevel, value, "risk")


def _check_approvals(_: object, __: object, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationFailed(
            "required_approvals", "must be a whole number of at least 1", value=value
        )


@attrs.frozen
class Verdict:
    """A rule's judgement of one change; checked when built (``ValidationFailed`` naming the field).

    ``outcome`` and ``risk`` take members or their values, ``rule`` and
    ``reason`` are single-line texts as a policy decision stores them, and
    ``required_approvals`` is at least 1.
    """

    outcome: PolicyOutcome = attrs.field(converter=_outcome)
    risk: RiskLevel = attrs.field(converter=_risk)
    rule: str = attrs.field(validator=lambda _, __, rule: _check_name("rule", rule))
    reason: str = attrs.field(validator=lambda _, __, reason: _check_name("reason", reason))
    required_approvals: int = attrs.field(default=1, validator=_check_approvals)

    def graver_than(self, other: Verdict) -> bool:
        """Order verdicts: outcome first, then risk, then approvals needed."""
        mine = (_OUTCOME_RANK[self.outcome], _RISK_RANK[self.risk], self.required_approvals)
        theirs = (_OUTCOME_RANK[other.outcome], _RISK_RANK[other.risk], other.required_approvals)
        return mine > theirs


class Rule(Protocol):
    """A policy rule: a name, and a judgement of a change (``None`` when it does not apply)."""

    @property
    def name(self) -> str:
        """The rule's name, recorded with every verdict it gives."""
        ...

    def __call__(self, change: ProposedChange, proposer: Principal) -> Verdict | None:
        """Judge ``change`` proposed by ``proposer``."""
        ...


Judge = Callable[[ProposedChange, Principal], str | None]


@attrs.frozen
class FieldRule:
    """A rule made of a test that returns a reason when it fires, and what to decide then.

    >>> rule = FieldRule("no_vip_edits", lambda c, p: "VIP" if "vip" in c.fields else None)
    >>> rule.name
    'no_vip_edits'
    """

    name: str = attrs.field(validator=lambda _, __, name: _check_name("name", name))
    test: Judge = attrs.field(validator=lambda _, __, test: _check_callable("test", test))
    outcome: PolicyOutcome = attrs.field(default=PolicyOutcome.REVIEW_REQUIRED, converter=_outcome)
    risk: RiskLevel = attrs.field(default=RiskLevel.HIGH, converter=_risk)
    required_approvals: int = attrs.field(default=1, validator=_check_approvals)

    def __call__(self, change: ProposedChange, proposer: Principal) -> Verdict | None:
        """Return the verdict when the test gives a reason, else ``None``."""
        reason = self.test(change, proposer)
        if reason is None:
            return None
        return Verdict(self.outcome, self.risk, self.name, reason, self.required_approvals)


def _merge(change: ProposedChange, _: Principal) -> str | None:
    return "merges are reviewed" if change.change_kind is ChangeKind.MERGE else None


def _delete(change: ProposedChange, _: Principal) -> str | None:
    return "deletions are reviewed" if change.change_kind is ChangeKind.DELETE else None


def _money(change: ProposedChange, _: Principal) -> str | None:
    if change.change_kind is not ChangeKind.UPDATE:
        return None
    kinds = change.field_kinds()
    # A currency is half of an amount: 10 lakh INR becoming 10 lakh USD is a money change.
    touched = sorted(name for name in change.changed if kinds.get(name) in _MONEY_KINDS)
    return f"changes money fields: {', '.join(touched)}" if touched else None


def _closing_stage(change: ProposedChange, _: Principal) -> str | None:
    stage = change.fields.get("stage")
    if change.target_table == "crm_opportunities" and stage in ("won", "lost"):
        return f"moves the deal to {stage}"
    return None


def _reassignment(change: ProposedChange, _: Principal) -> str | None:
    # A first assignment (from nobody) is ordinary work; taking a row from its holder is not.
    holder = change.current.get("assigned_user_id")
    if change.change_kind is ChangeKind.UPDATE and "assigned_user_id" in change.changed and holder:
        return "changes the assigned user"
    return None


def bulk_rule(threshold: int = BULK_THRESHOLD, *, risk: RiskLevel = RiskLevel.MEDIUM) -> FieldRule:
    """The rule sending to review each of more than ``threshold`` changes proposed together.

    A host changes the threshold with ``policy.replace(bulk_rule(100))``; a
    threshold that is not a whole number of at least 1 is ``ValidationFailed``.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise ValidationFailed("threshold", "must be a whole number of at least 1", value=threshold)

    def judge(change: ProposedChange, _: Principal) -> str | None:
        if change.bulk_size > threshold:
            return f"one of {change.bulk_size} changes proposed together (over {threshold})"
        return None

    return FieldRule("bulk", judge, risk=risk)


def _agent_contact_details(change: ProposedChange, proposer: Principal) -> str | None:
    if proposer.kind is not PrincipalKind.AGENT or change.target_table not in _CONTACT_TABLES:
        return None
    touched = sorted(change.changed & CONTACT_DETAIL_FIELDS)
    return f"an agent changes contact details: {', '.join(touched)}" if touched else None


def _import_review(change: ProposedChange, _: Principal) -> str | None:
    outcome = change.context.get("outcome")
    if change.operation == "crm.imports.commit" and outcome in ("update", "duplicate"):
        what = "updates of people" if outcome == "update" else "possible duplicates"
        return f"imported {what} are reviewed ({change.context.get('rows', '?')} rows)"
    return None


def _agent_identity(change: ProposedChange, proposer: Principal) -> str | None:
    if proposer.kind is PrincipalKind.AGENT and change.target_domain is TargetDomain.IDENTITY:
        return "agents never change users, roles or sessions"
    return None


#: The rules a new :class:`Policy` starts with.
DEFAULT_RULES: tuple[Rule, ...] = (
    FieldRule("merge", _merge, required_approvals=2),
    FieldRule("delete", _delete),
    FieldRule("price_or_value", _money),
    FieldRule("closing_stage", _closing_stage),
    FieldRule("reassignment", _reassignment, risk=RiskLevel.MEDIUM),
    bulk_rule(),
    FieldRule("agent_contact_details", _agent_contact_details),
    FieldRule("import_review", _import_review, risk=RiskLevel.MEDIUM),
    FieldRule("agent_identity", _agent_identity, outcome=PolicyOutcome.DENY),
)


class Policy:
    """An ordered, named set of rules, and the verdict they give a change together."""

    def __init__(self, rules: Iterable[Rule] = DEFAULT_RULES) -> None:
        self._rules: dict[str, Rule] = {}
        if isinstance(rules, str | bytes) or not isinstance(rules, Iterable):
            raise ValidationFailed("rules", "must be a collection of rules")
        for rule in rules:
            self.add(rule)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules, in the order they are asked."""
        return tuple(self._rules.values())

    def add(self, rule: Rule) -> None:
        """Add a rule; its name must be new (use :meth:`replace` to change one).

        A rule without a name, one that cannot be called, or a name already
        taken is ``ValidationFailed`` on ``rule``.
        """
        name = _rule_name(rule)
        if name in self._rules:
            raise ValidationFailed("rule", f"the policy already has a rule named {name!r}")
        self._rules[name] = rule

    def replace(self, rule: Rule) -> None:
        """Put ``rule`` in place of the rule of the same name (``ValidationFailed`` if none)."""
        name = _rule_name(rule)
        if name not in self._rules:
            raise ValidationFailed("rule", f"the policy has no rule named {name!r}")
        self._rules[name] = rule

    def remove(self, name: str) -> None:
        """Drop the rule called ``name`` (``ValidationFailed`` on ``name`` if there is none)."""
        if not isinstance(name, str) or name not in self._rules:
            raise ValidationFailed("name", f"the policy has no rule named {name!r}", value=name)
        del self._rules[name]

    def classify(self, change: ProposedChange, proposer: Principal) -> Verdict:
        """Return the gravest verdict of the rules, or the default when none applies.

        Never a ``KeyError`` or ``ValueError``: a rule that cannot judge the
        change (a field it needs is missing or of another type) or that
        returns something other than a :class:`Verdict` is ``ValidationFailed``
        naming the field (the missing one, else ``change``) and the rule.
        """
        if not isinstance(change, ProposedChange):
            raise ValidationFailed("change", "must be a ProposedChange")
        if not isinstance(proposer, Principal):
            raise ValidationFailed("proposer", "must be a Principal")
        chosen: Verdict | None = None
        for rule in self._rules.values():
            verdict = _judge(rule, change, proposer)
            if verdict is not None and (chosen is None or verdict.graver_than(chosen)):
                chosen = verdict
        if chosen is not None:
            return chosen
        if proposer.kind is PrincipalKind.AGENT:
            return Verdict(
                PolicyOutcome.REVIEW_REQUIRED,
                RiskLevel.LOW,
                "agent_default",
                "an agent's change is reviewed unless a rule approves it",
            )
        return Verdict(
            PolicyOutcome.AUTO_APPROVE,
            RiskLevel.LOW,
            "default",
            "no rule marks this change as risky",
        )


def _rule_name(rule: object) -> str:
    """The name of a rule about to join a policy, checked with the rule."""
    name = getattr(rule, "name", None)
    _check_name("rule", name)
    _check_callable("rule", rule)
    return str(name)


def _judge(rule: Rule, change: ProposedChange, proposer: Principal) -> Verdict | None:
    """Ask one rule, turning a rule that cannot judge ``change`` into ``ValidationFailed``."""
    try:
        verdict = rule(change, proposer)
    except VelocityError:
        raise
    except (LookupError, ValueError, TypeError, AttributeError, ArithmeticError) as exc:
        key = exc.args[0] if isinstance(exc, KeyError) and exc.args else None
        raise ValidationFailed(
            key if isinstance(key, str) else "change",
            f"policy rule {rule.name!r} could not judge the change ({type(exc).__name__}: {exc})",
        ) from exc
    if verdict is not None and not isinstance(verdict, Verdict):
        raise ValidationFailed(
            "rule", f"policy rule {rule.name!r} returned a {type(verdict).__name__}, not a Verdict"
        )
    return verdict
