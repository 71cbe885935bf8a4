"""The scoring model as plain immutable values (built by `scorer.rules.load_rules`).

Durations are seconds; half-lives of `None` mean "never decays" (used for penalties such
as a hard bounce that should not fade). Derived lookup tables are computed once here so
scoring an event does no rule scanning beyond the rules for its event kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from scorer.core.conditions import ALWAYS, Condition
from scorer.core.events import EventKind, FieldValue


class Stage(StrEnum):
    """Lifecycle stages of a lead."""

    NEW = "new"
    ENGAGED = "engaged"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    WON = "won"
    LOST = "lost"
    RECYCLED = "recycled"
    DISQUALIFIED = "disqualified"


class FitLevel(StrEnum):
    """Company-level fit rules also feed the account's fit."""

    PERSON = "person"
    COMPANY = "company"


class ScoreBasis(StrEnum):
    TOTAL = "total"
    ENGAGEMENT = "engagement"
    FIT = "fit"


class AccountAggregate(StrEnum):
    SUM = "sum"
    TOP_N = "top_n"


@dataclass(frozen=True, slots=True)
class FitRule:
    id: str
    points: float
    when: Condition = ALWAYS
    label: str = ""
    level: FitLevel = FitLevel.PERSON


@dataclass(frozen=True, slots=True)
class Cap:
    """At most `points` (in absolute value) from one rule within any `window` seconds."""

    points: float
    window: float


@dataclass(frozen=True, slots=True)
class EngagementRule:
    id: str
    on: frozenset[EventKind]
    points: float
    when: Condition = ALWAYS
    label: str = ""
    category: str | None = None
    cap: Cap | None = None
    once: bool = False


Matcher = Callable[[Mapping[str, FieldValue]], bool]


class AwardPlan(NamedTuple):
    """An engagement rule as applied to one event kind: its compiled condition (None when
    it always matches) and the category its points go to."""

    rule: EngagementRule
    matcher: Matcher | None
    category: str


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    half_life: float | None


@dataclass(frozen=True, slots=True)
class GradeBands:
    """Fit letters and engagement digits, each as (label, minimum) from best to worst.

    A score below every minimum gets the last label (`fallback_*`).
    """

    fit: tuple[tuple[str, float], ...] = (("A", 40.0), ("B", 25.0), ("C", 10.0))
    fallback_fit: str = "D"
    engagement: tuple[tuple[str, float], ...] = (("1", 60.0), ("2", 30.0), ("3", 10.0))
    fallback_engagement: str = "4"


DEFAULT_ALERT_STAGES = frozenset({Stage.NEW, Stage.ENGAGED, Stage.MQL, Stage.RECYCLED, Stage.LOST})


@dataclass(frozen=True, slots=True)
class Threshold:
    """A named line with hysteresis: fire upward at `value`, re-arm below `rearm_below`."""

    name: str
    value: float
    rearm_below: float
    cooldown: float = 0.0
    basis: ScoreBasis = ScoreBasis.TOTAL
    moves_to: Stage | None = None
    alert_in_stages: frozenset[Stage] = DEFAULT_ALERT_STAGES
    rearm_on_recycle: bool = True


@dataclass(frozen=True, slots=True)
class Lifecycle:
    engaged_min_points: float = 1.0
    recycle_factor: float = 0.0
    recycle_lost: bool = True
    disqualify_reasons: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Routing:
    default_team: str | None = None
    by_product: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Timing:
    allowed_lateness: float = 3600.0
    future_skew: float = 300.0
    # Crossings are emitted once the lead's watermark is this far past them. 0 = at once;
    # >= allowed_lateness makes alert ids independent of arrival order (see thresholds.py).
    alert_hold: float = 0.0
    # Bound on events kept open for late arrivals; beyond it the oldest are settled early.
    max_open_events: int = 256


@dataclass(frozen=True, slots=True)
class Explain:
    last_changes: int = 10
    top_reasons: int = 5
    recent_event_ids: int = 128


@dataclass(frozen=True, slots=True)
class AccountThreshold:
    name: str
    value: float
    rearm_below: float
    cooldown: float = 0.0
    min_engaged_contacts: int = 0
    min_roles: int = 0


@dataclass(frozen=True, slots=True)
class BuyingRole:
    name: str
    when: Condition


@dataclass(frozen=True, slots=True)
class AccountRules:
    aggregate: AccountAggregate = AccountAggregate.SUM
    top_n: int = 5
    engaged_window: float = 14 * 86400.0
    engaged_min_points: float = 1.0
    roles: tuple[BuyingRole, ...] = ()
    role_points: float = 0.0
    thresholds: tuple[AccountThreshold, ...] = ()
    last_alert_contacts: int = 20


@dataclass(frozen=True, slots=True)
class Rules:
    version: str
    categories: tuple[Category, ...] = (
        Category("web", 14 * 86400.0),
        Category("email", 30 * 86400.0),
        Category("seminar", 30 * 86400.0),
    )
    fit: tuple[FitRule, ...] = ()
    engagement: tuple[EngagementRule, ...] = ()
    grades: GradeBands = GradeBands()
    thresholds: tuple[Threshold, ...] = ()
    lifecycle: Lifecycle = Lifecycle()
    routing: Routing = Routing()
    timing: Timing = Timing()
    explain: Explain = Explain()
    account: AccountRules = AccountRules()
    description: str = ""
    # Derived lookups, filled in __post_init__.
    category_index: Mapping[str, int] = field(init=False, compare=False, repr=False)
    half_lives: tuple[float | None, ...] = field(init=False, compare=False, repr=False)
    category_half_life: Mapping[str, float | None] = field(init=False, compare=False, repr=False)
    # (index, half-life) of the categories that decay.
    decaying: tuple[tuple[int, float], ...] = field(init=False, compare=False, repr=False)
    rules_by_kind: Mapping[EventKind, tuple[EngagementRule, ...]] = field(
        init=False, compare=False, repr=False
    )
    rule_by_id: Mapping[str, EngagementRule] = field(init=False, compare=False, repr=False)
    fit_by_id: Mapping[str, FitRule] = field(init=False, compare=False, repr=False)
    award_plans: Mapping[EventKind, tuple[AwardPlan, ...]] = field(
        init=False, compare=False, repr=False
    )
    # Fit rules and buying-group roles with their compiled conditions, in rules order.
    fit_plans: tuple[tuple[FitRule, Matcher], ...] = field(init=False, compare=False, repr=False)
    role_plans: tuple[tuple[str, Matcher], ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        index = {c.name: i for i, c in enumerate(self.categories)}
        if len(index) != len(self.categories):
            raise ValueError("duplicate category name")
        by_kind: dict[EventKind, list[EngagementRule]] = {}
        for rule in self.engagement:
            if rule.category is not None and rule.category not in index:
                raise ValueError(f"rule {rule.id}: unknown category {rule.category!r}")
            for kind in rule.on:
                if rule.category is None and kind.category not in index:
                    raise ValueError(f"rule {rule.id}: no category {kind.category!r} defined")
                by_kind.setdefault(kind, []).append(rule)
        ids = [r.id for r in self.engagement] + [r.id for r in self.fit]
        if len(set(ids)) != len(ids):
            raise ValueError("rule ids must be unique across fit and engagement rules")
        names = [t.name for t in self.thresholds]
        if len(set(names)) != len(names):
            raise ValueError("threshold names must be unique")
        object.__setattr__(self, "category_index", MappingProxyType(index))
        object.__setattr__(self, "half_lives", tuple(c.half_life for c in self.categories))
        object.__setattr__(
            self,
            "decaying",
            tuple(
                (i, c.half_life) for i, c in enumerate(self.categories) if c.half_life is not None
            ),
        )
        object.__setattr__(
            self,
            "category_half_life",
            MappingProxyType({c.name: c.half_life for c in self.categories}),
        )
        object.__setattr__(
            self,
            "rules_by_kind",
            MappingProxyType({k: tuple(v) for k, v in by_kind.items()}),
        )
        object.__setattr__(self, "rule_by_id", MappingProxyType({r.id: r for r in self.engagement}))
        object.__setattr__(self, "fit_by_id", MappingProxyType({r.id: r for r in self.fit}))
        plans = {
            kind: tuple(
                AwardPlan(
                    rule,
                    None if rule.when is ALWAYS else rule.when.matcher(),
                    rule.category or kind.category,
                )
                for rule in kind_rules
            )
            for kind, kind_rules in by_kind.items()
        }
        object.__setattr__(self, "award_plans", MappingProxyType(plans))
        object.__setattr__(self, "fit_plans", tuple((r, r.when.matcher()) for r in self.fit))
        object.__setattr__(
            self, "role_plans", tuple((r.name, r.when.matcher()) for r in self.account.roles)
        )

    def rule_label(self, rule_id: str) -> str:
        rule = self.rule_by_id.get(rule_id)
        if rule is not None:
            return rule.label or rule.id
        fit_rule = self.fit_by_id.get(rule_id)
        if fit_rule is not None:
            return fit_rule.label or fit_rule.id
        return rule_id
