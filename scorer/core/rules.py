"""`Rules`: the scoring model (built by `scorer.rules.load_rules`) and its compiled lookups.

The policy values a rules file describes are plain immutable values in `policy.py`;
`Rules` gathers them and, once, when it is built, compiles the lookups scoring needs
(per-event-kind award plans matched through `match_memo.MatchMemo`, fit and role plans,
the hand-off loop's scenario matchers, lateness per event kind), so scoring an event does
no rule scanning beyond the rules for its event kind. The hand-off loop's lookups are
compiled in `loop_lookups.py`; `time_scale.py` scales the loop's durations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from scorer.core.conditions import ALWAYS
from scorer.core.events import EventKind
from scorer.core.identity import IdentityPolicy
from scorer.core.loop_lookups import compile_loop_lookups
from scorer.core.match_memo import (
    MEMO_LIMIT,
    Matcher,
    MatchMemo,
)
from scorer.core.policy import (
    DEFAULT_ACTIVITY,
    DEFAULT_ALERT_STAGES,
    NEVER_LATE,
    AccountAggregate,
    AccountRules,
    AccountThreshold,
    ActionKind,
    BuyingRole,
    Cap,
    Category,
    EngagementRule,
    EventMatch,
    Explain,
    FitLevel,
    FitRule,
    GradeBands,
    Inactivity,
    Lifecycle,
    RateLimit,
    Repeat,
    Routing,
    RoutingRule,
    Scenario,
    ScenarioAction,
    ScoreBasis,
    Sla,
    Stage,
    StateCheck,
    Threshold,
    Timing,
    TriggerKind,
)

# The policy values and the matcher are re-exported: `scorer.core.rules` stays the one
# import for everything a rules file describes.
__all__ = [
    "DEFAULT_ACTIVITY",
    "DEFAULT_ALERT_STAGES",
    "MEMO_LIMIT",
    "NEVER_LATE",
    "AccountAggregate",
    "AccountRules",
    "AccountThreshold",
    "ActionKind",
    "Award",
    "AwardPlan",
    "BuyingRole",
    "Cap",
    "Category",
    "EngagementRule",
    "EventMatch",
    "Explain",
    "FitLevel",
    "FitRule",
    "GradeBands",
    "Inactivity",
    "Lifecycle",
    "MatchMemo",
    "Matcher",
    "RateLimit",
    "Repeat",
    "Routing",
    "RoutingRule",
    "Rules",
    "Scenario",
    "ScenarioAction",
    "ScoreBasis",
    "Sla",
    "Stage",
    "StateCheck",
    "Threshold",
    "Timing",
    "TriggerKind",
]


class Award(NamedTuple):
    """Points one rule gave one event (after cap / once-only; `timeline.Point.awards`)."""

    rule_id: str
    category: str
    raw: float
    points: float
    product: str | None = None


class AwardPlan(NamedTuple):
    """An engagement rule as applied to one event kind: its compiled condition (None when
    it always matches), the category its points go to, and its full award alone (all its
    points, no product): the awards of most events, shared by every lead's points, as
    memory per tracked lead matters."""

    rule: EngagementRule
    matcher: Matcher | None
    category: str
    full_alone: tuple[Award]


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
    grades: GradeBands = GradeBands()  # noqa: RUF009 - a frozen dataclass (policy.py)
    thresholds: tuple[Threshold, ...] = ()
    lifecycle: Lifecycle = Lifecycle()  # noqa: RUF009 - a frozen dataclass (policy.py)
    routing: Routing = Routing()  # noqa: RUF009 - a frozen dataclass (policy.py)
    timing: Timing = Timing()  # noqa: RUF009 - a frozen dataclass (policy.py)
    explain: Explain = Explain()  # noqa: RUF009 - a frozen dataclass (policy.py)
    account: AccountRules = AccountRules()  # noqa: RUF009 - a frozen dataclass (policy.py)
    description: str = ""
    scenarios: tuple[Scenario, ...] = ()
    inactivity: Inactivity | None = None
    sla: Sla | None = None
    # IANA name of the zone people read times in (display only; scoring is in UTC instants).
    time_zone: str | None = None
    rate_limit: RateLimit | None = RateLimit()  # noqa: RUF009 - a frozen dataclass (policy.py)
    identity: IdentityPolicy = field(default_factory=IdentityPolicy)
    # Derived lookups, filled in __post_init__.
    category_index: Mapping[str, int] = field(init=False, compare=False, repr=False)
    half_lives_s: tuple[float | None, ...] = field(init=False, compare=False, repr=False)
    category_half_life_s: Mapping[str, float | None] = field(init=False, compare=False, repr=False)
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
    # The same plans per event kind, matched through a memo (see `MatchMemo`).
    kind_plans: Mapping[EventKind, MatchMemo[AwardPlan]] = field(
        init=False, compare=False, repr=False
    )
    # Fit rules and buying-group roles with their compiled conditions, in rules order.
    fit_plans: tuple[tuple[FitRule, Matcher], ...] = field(init=False, compare=False, repr=False)
    role_plans: tuple[tuple[str, Matcher], ...] = field(init=False, compare=False, repr=False)
    # The same through memos (see `MatchMemo`): the fit rules and the roles that match.
    fit_memo: MatchMemo[FitRule] = field(init=False, compare=False, repr=False)
    role_memo: MatchMemo[str] = field(init=False, compare=False, repr=False)
    # Hand-off loop lookups (see `loop_lookups.py`).
    scenario_by_id: Mapping[str, Scenario] = field(init=False, compare=False, repr=False)
    trigger_plans: Mapping[EventKind, tuple[tuple[Scenario, Matcher | None], ...]] = field(
        init=False, compare=False, repr=False
    )
    unless_plans: Mapping[EventKind, tuple[tuple[str, Matcher | None], ...]] = field(
        init=False, compare=False, repr=False
    )
    # Per event kind, every (scenario, matcher) that can send an event to the loop: the
    # scenario of a trigger (to skip one that cannot fire again), None for a cancel.
    loop_matchers: Mapping[EventKind, tuple[tuple[Scenario | None, Matcher | None], ...]] = field(
        init=False, compare=False, repr=False
    )
    # The same through a memo (see `MatchMemo`): the scenarios (None for a cancel) whose
    # trigger or cancel condition an event's fields meet.
    loop_memos: Mapping[EventKind, MatchMemo[Scenario | None]] = field(
        init=False, compare=False, repr=False
    )
    # `trigger_plans` and `unless_plans` through memos: the scenarios an event triggers,
    # the ids of those it cancels.
    trigger_memos: Mapping[EventKind, MatchMemo[Scenario]] = field(
        init=False, compare=False, repr=False
    )
    unless_memos: Mapping[EventKind, MatchMemo[str]] = field(init=False, compare=False, repr=False)
    state_scenarios: tuple[Scenario, ...] = field(init=False, compare=False, repr=False)
    cold_scenarios: tuple[Scenario, ...] = field(init=False, compare=False, repr=False)
    activity_kinds: frozenset[EventKind] = field(init=False, compare=False, repr=False)
    # Thresholds whose crossing hands the lead to sales (they move it to `mql`).
    handoff_thresholds: frozenset[str] = field(init=False, compare=False, repr=False)
    # The state a new lead starts from (a `LeadState`, set by `LeadState.new` on first use).
    # The names of the thresholds and categories, in order: one tuple every lead shares.
    threshold_names: tuple[str, ...] = field(init=False, compare=False, repr=False)
    category_names: tuple[str, ...] = field(init=False, compare=False, repr=False)
    # min(timing.alert_hold_s, timing.allowed_lateness_s): the hold alerts actually wait.
    effective_hold_s: float = field(init=False, compare=False, repr=False)
    # Allowed lateness per event kind (NEVER_LATE: never too late), and the window of a
    # lead's history kept open for late events: the largest finite lateness.
    lateness_s_of: Mapping[EventKind, float] = field(init=False, compare=False, repr=False)
    open_window_s: float = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        index, by_kind = self._checked()
        self._compile_categories(index, by_kind)
        self._compile_timing()
        object.__setattr__(self, "threshold_names", tuple(t.name for t in self.thresholds))
        object.__setattr__(self, "category_names", tuple(c.name for c in self.categories))
        self._compile_plans(by_kind)
        loop = compile_loop_lookups(self.scenarios, has_inactivity=self.inactivity is not None)
        for name, value in loop._asdict().items():
            object.__setattr__(self, name, value)
        # Without an inactivity period nothing reads the activity clock: leave it still.
        object.__setattr__(
            self,
            "activity_kinds",
            self.inactivity.activity if self.inactivity is not None else frozenset(),
        )
        object.__setattr__(
            self,
            "handoff_thresholds",
            frozenset(t.name for t in self.thresholds if t.moves_to is Stage.MQL),
        )

    def _checked(self) -> tuple[dict[str, int], dict[EventKind, list[EngagementRule]]]:
        """(category index by name, engagement rules by event kind), once the categories,
        rule ids and threshold names are known to be consistent."""
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
        return index, by_kind

    def _compile_categories(
        self, index: dict[str, int], by_kind: dict[EventKind, list[EngagementRule]]
    ) -> None:
        object.__setattr__(self, "category_index", MappingProxyType(index))
        object.__setattr__(self, "half_lives_s", tuple(c.half_life_s for c in self.categories))
        object.__setattr__(
            self,
            "decaying",
            tuple(
                (i, c.half_life_s)
                for i, c in enumerate(self.categories)
                if c.half_life_s is not None
            ),
        )
        object.__setattr__(
            self,
            "category_half_life_s",
            MappingProxyType({c.name: c.half_life_s for c in self.categories}),
        )
        object.__setattr__(
            self,
            "rules_by_kind",
            MappingProxyType({k: tuple(v) for k, v in by_kind.items()}),
        )
        object.__setattr__(self, "rule_by_id", MappingProxyType({r.id: r for r in self.engagement}))
        object.__setattr__(self, "fit_by_id", MappingProxyType({r.id: r for r in self.fit}))

    def _compile_timing(self) -> None:
        object.__setattr__(
            self, "effective_hold_s", min(self.timing.alert_hold_s, self.timing.allowed_lateness_s)
        )
        timing = self.timing
        lateness_s = {
            kind: timing.lateness_s_by_kind.get(kind.category, timing.allowed_lateness_s)
            for kind in EventKind
        }
        object.__setattr__(self, "lateness_s_of", MappingProxyType(lateness_s))
        object.__setattr__(
            self,
            "open_window_s",
            max(timing.allowed_lateness_s, *(v for v in lateness_s.values() if v != NEVER_LATE)),
        )

    def _compile_plans(self, by_kind: dict[EventKind, list[EngagementRule]]) -> None:
        """The award plans per event kind, the fit and role plans, and their memos."""
        plans = {
            kind: tuple(
                AwardPlan(
                    rule,
                    None if rule.when is ALWAYS else rule.when.matcher(),
                    rule.category or kind.category,
                    (Award(rule.id, rule.category or kind.category, rule.points, rule.points),),
                )
                for rule in kind_rules
            )
            for kind, kind_rules in by_kind.items()
        }
        object.__setattr__(self, "award_plans", MappingProxyType(plans))
        object.__setattr__(
            self,
            "kind_plans",
            MappingProxyType(
                {
                    kind: MatchMemo(
                        tuple((plan, plan.matcher, plan.rule.when) for plan in p),
                        tuple(plan.rule.exclusive for plan in p),
                    )
                    for kind, p in plans.items()
                }
            ),
        )
        object.__setattr__(self, "fit_plans", tuple((r, r.when.matcher()) for r in self.fit))
        object.__setattr__(
            self, "role_plans", tuple((r.name, r.when.matcher()) for r in self.account.roles)
        )
        object.__setattr__(
            self, "fit_memo", MatchMemo(tuple((r, m, r.when) for r, m in self.fit_plans))
        )
        roles = self.account.roles
        object.__setattr__(
            self,
            "role_memo",
            MatchMemo(
                tuple(
                    (name, m, r.when) for (name, m), r in zip(self.role_plans, roles, strict=True)
                )
            ),
        )

    def rule_label(self, rule_id: str) -> str:
        rule = self.rule_by_id.get(rule_id)
        if rule is not None:
            return rule.label or rule.id
        fit_rule = self.fit_by_id.get(rule_id)
        if fit_rule is not None:
            return fit_rule.label or fit_rule.id
        return rule_id
