"""The scoring model as plain immutable values (built by `scorer.rules.load_rules`).

Durations are seconds; half-lives of `None` mean "never decays" (used for penalties such
as a hard bounce that should not fade). Derived lookup tables are computed once here so
scoring an event does no rule scanning beyond the rules for its event kind.

The hand-off loop (scenarios, inactivity, SLA, the lost cool-off) is described here too;
its durations are the only ones `with_time_scale` touches, so a test can make "2 days"
last two seconds without changing how a lead scores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Generic, NamedTuple, TypeVar

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
    # Rules sharing an exclusive group replace one another: of those an event matches,
    # only the first in rules order applies (even when its cap or once-only lets no
    # points through).
    exclusive: str | None = None


Matcher = Callable[[Mapping[str, FieldValue]], bool]


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


T = TypeVar("T")

# The value types a `MatchMemo` key holds as they are (see `MatchMemo._remember`).
_PLAIN = frozenset({str, type(None)})

# How many distinct field-value combinations a `MatchMemo` remembers the answer for (a
# bound on memory, not on correctness).
MEMO_LIMIT = 4096


class MatchMemo(Generic[T]):
    """Items, each with the condition some fields must meet for it (an event kind's
    award plans, the scenarios its events trigger or cancel, the fit rules, the buying
    roles), matched with the answers remembered.

    Whether a condition holds depends only on the values of the fields it names (a
    missing field reads as None), so the matching items are a function of those values.
    The same few URLs, asset types, titles and form ids come back again and again, so
    the answer is remembered per combination of values (at most `MEMO_LIMIT`). Values
    that are all strings or missing are their own key; others are keyed with their
    types, since `1`, `1.0` and `True` are equal dict keys but do not match alike.
    """

    __slots__ = ("_memo", "_single", "entries", "groups", "names")

    def __init__(
        self,
        entries: tuple[tuple[T, Matcher | None, Condition], ...],
        groups: tuple[str | None, ...] | None = None,
    ) -> None:
        self.entries = entries
        # Per entry, its exclusive group (None: not exclusive); of the matching entries
        # of one group only the first is kept. None: no entry is exclusive.
        self.groups = groups if groups is not None and any(groups) else None
        names: set[str] = set()
        for _, matcher, condition in entries:
            if matcher is not None:
                names.update(_field_names(condition))
        self.names = tuple(sorted(names))
        # With one field the key is its value itself (no tuple to build, hash and compare).
        self._single = self.names[0] if len(self.names) == 1 else None
        self._memo: dict[object, tuple[T, ...]] = {}

    def matching(self, fields: Mapping[str, FieldValue]) -> tuple[T, ...]:
        """The items whose condition `fields` meet, in order (what `evaluate` returns)."""
        single = self._single
        key = fields.get(single) if single is not None else tuple(map(fields.get, self.names))
        # Keys are stored as they are only when they hold nothing but strings and Nones
        # (see `_remember`), and only a string or None equals one of those: a key found as
        # it is has the same values.
        try:
            hit = self._memo.get(key)
        except TypeError:  # an unhashable value (not a FieldValue): no memo for it
            return self.evaluate(fields)
        if hit is not None:
            return hit
        return self._remember(key, fields)

    def _remember(self, key: object, fields: Mapping[str, FieldValue]) -> tuple[T, ...]:
        values = (key,) if self._single is not None else key
        assert isinstance(values, tuple)  # noqa: S101 - built by `matching`
        types = tuple(map(type, values))
        if not _PLAIN.issuperset(types):
            key = (values, types)  # a tuple of two tuples: never equal to a plain key
            hit = self._memo.get(key)
            if hit is not None:
                return hit
        matched = self.evaluate(fields)
        memo = self._memo
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[key] = matched
        return matched

    def evaluate(self, fields: Mapping[str, FieldValue]) -> tuple[T, ...]:
        """The items whose condition `fields` meet, in order, without the memo."""
        groups = self.groups
        if groups is None:
            return tuple(
                [item for item, match, _ in self.entries if match is None or match(fields)]
            )
        taken: set[str] = set()
        matched: list[T] = []
        for (item, match, _), group in zip(self.entries, groups, strict=True):
            if group in taken or not (match is None or match(fields)):
                continue
            if group is not None:
                taken.add(group)
            matched.append(item)
        return tuple(matched)


def _field_names(condition: Condition) -> set[str]:
    names = {test.name for test in condition.all_of}
    for group in condition.any_of:
        names.update(test.name for test in group)
    return names


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
    """A named line with hysteresis: fire upward at `value`, re-arm below `rearm_below`.

    `rearm_on_recycle`: whether recycling the lead re-arms this line at once (its
    renewed interest is a new crossing). None (the default) = only the hand-off lines
    (`moves_to` mql) do; other lines re-arm through their hysteresis as usual.
    """

    name: str
    value: float
    rearm_below: float
    cooldown: float = 0.0
    basis: ScoreBasis = ScoreBasis.TOTAL
    moves_to: Stage | None = None
    alert_in_stages: frozenset[Stage] = DEFAULT_ALERT_STAGES
    rearm_on_recycle: bool | None = None

    @property
    def rearms_on_recycle(self) -> bool:
        if self.rearm_on_recycle is None:
            return self.moves_to is Stage.MQL
        return self.rearm_on_recycle


@dataclass(frozen=True, slots=True)
class Lifecycle:
    engaged_min_points: float = 1.0
    recycle_factor: float = 0.0
    recycle_lost: bool = True
    disqualify_reasons: frozenset[str] = frozenset()
    # With recycle_lost, a lost lead stays `lost` this long before it is recycled (a
    # timer); 0 recycles at once.
    lost_cool_off: float = 0.0


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """Leads whose product interest is one of `products` (any, if empty) and whose
    attributes match `when` (region, account owner, company size ...) go to `team`."""

    team: str
    products: frozenset[str] = frozenset()
    when: Condition = ALWAYS


@dataclass(frozen=True, slots=True)
class Routing:
    """Which inside-sales team gets a lead: the first matching rule, else the team of the
    product interest, else the default team (see `scorer.core.routing.route`)."""

    default_team: str | None = None
    by_product: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    rules: tuple[RoutingRule, ...] = ()


class ActionKind(StrEnum):
    """What a scenario asks downstream tools to do (the scorer decides, they execute)."""

    SEND_EMAIL = "send_email"
    ASSIGN = "assign"
    NOTIFY = "notify"
    ENROLL_NURTURE = "enroll_nurture"


class TriggerKind(StrEnum):
    EVENT = "event"  # an applied event of a kind, with field conditions
    STATE = "state"  # stage and/or score condition, checked after each scoring event
    WENT_COLD = "went_cold"  # the inactivity period elapsed without activity


class Repeat(StrEnum):
    """How often a scenario may fire for one lead when it has no `cooldown` (a scenario
    with a cooldown fires at most once per cooldown, whatever the cycle)."""

    ONCE_PER_CYCLE = "once_per_cycle"  # once per lifecycle cycle (recycling starts one)
    ONCE = "once"  # once per lead, ever


@dataclass(frozen=True, slots=True)
class ScenarioAction:
    kind: ActionKind
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class EventMatch:
    on: frozenset[EventKind]
    when: Condition = ALWAYS


@dataclass(frozen=True, slots=True)
class StateCheck:
    """Stage and score conditions on a lead, read at one moment of event time.

    `stages` None means any stage; scores are read with decay up to that moment.
    """

    stages: frozenset[Stage] | None = None
    min_score: float | None = None
    max_score: float | None = None
    basis: ScoreBasis = ScoreBasis.TOTAL


@dataclass(frozen=True, slots=True)
class Scenario:
    """Trigger -> optional delay -> re-checked conditions -> actions.

    Repeat policy: with a `cooldown` (the rules' `repeat: {at_most_once_per: D}`) it may
    fire again once `cooldown` has passed since it last fired, whatever the cycle;
    without one, `repeat` says once per lead per lifecycle cycle (recycling starts a new
    cycle) or once per lead ever. While a delayed trigger is pending, further triggers
    of the same scenario are ignored.
    """

    id: str
    trigger: TriggerKind
    actions: tuple[ScenarioAction, ...]
    event: EventMatch | None = None
    state: StateCheck | None = None
    delay: float = 0.0
    # A pending delayed trigger is dropped by an event matching one of these whose event
    # time lies between the trigger and the due time ("unless ... meanwhile").
    unless: tuple[EventMatch, ...] = ()
    # Checked when triggered and again at the due time (as of the due time).
    require: StateCheck | None = None
    cooldown: float | None = None
    label: str = ""
    repeat: Repeat = Repeat.ONCE_PER_CYCLE


DEFAULT_ACTIVITY = frozenset(
    {
        EventKind.PAGE_VIEW,
        EventKind.CONTENT_DOWNLOAD,
        EventKind.FORM_SUBMIT,
        EventKind.EMAIL_OPEN,
        EventKind.EMAIL_CLICK,
        EventKind.SEMINAR_REGISTERED,
        EventKind.SEMINAR_ATTENDED,
    }
)


@dataclass(frozen=True, slots=True)
class Inactivity:
    """A lead with no `activity` event for `after` seconds goes cold (once per stretch)."""

    after: float
    activity: frozenset[EventKind] = DEFAULT_ACTIVITY


@dataclass(frozen=True, slots=True)
class Sla:
    """Follow-up deadline after a hand-off (MQL), per team, else `follow_up`."""

    follow_up: float
    by_team: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def deadline_for(self, team: str | None) -> float:
        if team is not None:
            return self.by_team.get(team, self.follow_up)
        return self.follow_up


NEVER_LATE = float("inf")
# The defaults of `Timing.lateness_by_kind` (see the README's "Late data by source").
DEFAULT_LATENESS_BY_KIND: Mapping[str, float] = MappingProxyType(
    {"profile": 2 * 86400.0, "feedback": NEVER_LATE}
)


@dataclass(frozen=True, slots=True)
class Timing:
    # How far behind a lead's latest event an event may be and still be scored exactly,
    # for the input kinds (event categories) not in `lateness_by_kind`.
    allowed_lateness: float = 3600.0
    # Per input kind (web, email, seminar, profile, feedback); NEVER_LATE = never refused
    # for lateness (a feedback older than the lead's settled history applies at its end).
    lateness_by_kind: Mapping[str, float] = field(default_factory=lambda: DEFAULT_LATENESS_BY_KIND)
    future_skew: float = 300.0
    # Crossings are emitted once the lead's watermark is this far past them. 0 = at once;
    # >= allowed_lateness makes alert ids independent of arrival order (see thresholds.py).
    alert_hold: float = 0.0
    # Bound on events kept open for late arrivals; beyond it the oldest are settled early.
    max_open_events: int = 256
    # The same for the fields of open profile updates (each field up to ~2 KB of input).
    max_open_profile_fields: int = 256
    # Events older than this before processing time are refused (`too_old`); None = never.
    max_age: float | None = 400 * 86400.0


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `max_events` scored events per lead per `per`-second slot of event time
    (slots aligned on the Unix epoch); sales feedback neither counts nor is limited."""

    max_events: int = 600
    per: float = 60.0


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
    scenarios: tuple[Scenario, ...] = ()
    inactivity: Inactivity | None = None
    sla: Sla | None = None
    # IANA name of the zone people read times in (display only; scoring is in UTC instants).
    time_zone: str | None = None
    rate_limit: RateLimit | None = RateLimit()
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
    # Hand-off loop lookups (see `_loop_lookups`).
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
    # min(timing.alert_hold, timing.allowed_lateness): the hold alerts actually wait.
    effective_hold: float = field(init=False, compare=False, repr=False)
    # Allowed lateness per event kind (NEVER_LATE: never too late), and the window of a
    # lead's history kept open for late events: the largest finite lateness.
    lateness_of: Mapping[EventKind, float] = field(init=False, compare=False, repr=False)
    open_window: float = field(init=False, compare=False, repr=False)

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
        object.__setattr__(
            self, "effective_hold", min(self.timing.alert_hold, self.timing.allowed_lateness)
        )
        timing = self.timing
        lateness = {
            kind: timing.lateness_by_kind.get(kind.category, timing.allowed_lateness)
            for kind in EventKind
        }
        object.__setattr__(self, "lateness_of", MappingProxyType(lateness))
        object.__setattr__(
            self,
            "open_window",
            max(timing.allowed_lateness, *(v for v in lateness.values() if v != NEVER_LATE)),
        )
        object.__setattr__(self, "threshold_names", tuple(t.name for t in self.thresholds))
        object.__setattr__(self, "category_names", tuple(c.name for c in self.categories))
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
        self._loop_lookups()

    def _loop_lookups(self) -> None:
        ids = [s.id for s in self.scenarios]
        if len(set(ids)) != len(ids):
            raise ValueError("scenario ids must be unique")
        triggers: dict[EventKind, list[tuple[Scenario, Matcher | None]]] = {}
        unless: dict[EventKind, list[tuple[str, Matcher | None]]] = {}
        # The same per kind, with the conditions, for the memos (see `MatchMemo`).
        watched: dict[EventKind, list[tuple[Scenario, Matcher | None, Condition]]] = {}
        cancels: dict[EventKind, list[tuple[str, Matcher | None, Condition]]] = {}
        for scenario in self.scenarios:
            if scenario.trigger is TriggerKind.WENT_COLD and self.inactivity is None:
                raise ValueError(f"scenario {scenario.id}: went_cold needs an inactivity period")
            if scenario.unless and scenario.delay <= 0.0:
                raise ValueError(f"scenario {scenario.id}: unless needs a delay")
            if scenario.event is not None and scenario.trigger is TriggerKind.EVENT:
                matcher = _matcher(scenario.event.when)
                for kind in sorted(scenario.event.on):
                    triggers.setdefault(kind, []).append((scenario, matcher))
                    watched.setdefault(kind, []).append((scenario, matcher, scenario.event.when))
            for match in scenario.unless:
                matcher = _matcher(match.when)
                for kind in sorted(match.on):
                    unless.setdefault(kind, []).append((scenario.id, matcher))
                    cancels.setdefault(kind, []).append((scenario.id, matcher, match.when))
        loop: dict[EventKind, tuple[tuple[Scenario | None, Matcher | None], ...]] = {}
        for kind in {*triggers, *unless}:
            loop[kind] = (
                *triggers.get(kind, ()),
                *((None, matcher) for _, matcher in unless.get(kind, ())),
            )
        object.__setattr__(
            self, "scenario_by_id", MappingProxyType({s.id: s for s in self.scenarios})
        )
        object.__setattr__(
            self, "trigger_plans", MappingProxyType({k: tuple(v) for k, v in triggers.items()})
        )
        object.__setattr__(
            self, "unless_plans", MappingProxyType({k: tuple(v) for k, v in unless.items()})
        )
        object.__setattr__(self, "loop_matchers", MappingProxyType(loop))
        loop_memos = {
            kind: MatchMemo(
                (
                    *watched.get(kind, ()),
                    *((None, matcher, when) for _, matcher, when in cancels.get(kind, ())),
                )
            )
            for kind in loop
        }
        object.__setattr__(self, "loop_memos", MappingProxyType(loop_memos))
        object.__setattr__(
            self,
            "trigger_memos",
            MappingProxyType({k: MatchMemo(tuple(v)) for k, v in watched.items()}),
        )
        object.__setattr__(
            self,
            "unless_memos",
            MappingProxyType({k: MatchMemo(tuple(v)) for k, v in cancels.items()}),
        )
        object.__setattr__(
            self,
            "state_scenarios",
            tuple(s for s in self.scenarios if s.trigger is TriggerKind.STATE),
        )
        object.__setattr__(
            self,
            "cold_scenarios",
            tuple(s for s in self.scenarios if s.trigger is TriggerKind.WENT_COLD),
        )
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

    def rule_label(self, rule_id: str) -> str:
        rule = self.rule_by_id.get(rule_id)
        if rule is not None:
            return rule.label or rule.id
        fit_rule = self.fit_by_id.get(rule_id)
        if fit_rule is not None:
            return fit_rule.label or fit_rule.id
        return rule_id


def _matcher(condition: Condition) -> Matcher | None:
    return None if condition is ALWAYS else condition.matcher()


def with_time_scale(rules: Rules, factor: float) -> Rules:
    """`rules` with the hand-off loop's durations multiplied by `factor`: scenario delays
    and cooldowns, the inactivity period, SLA deadlines and the lost cool-off.

    Scoring durations (half-lives, cap windows, threshold cooldowns, lateness, skew) stay
    as they are, so a lead scores the same whatever the scale; only the loop runs faster.
    """
    if not factor > 0.0:
        raise ValueError("the time scale must be positive")
    if factor == 1.0:
        return rules
    scenarios = tuple(
        replace(
            s,
            delay=s.delay * factor,
            cooldown=None if s.cooldown is None else s.cooldown * factor,
        )
        for s in rules.scenarios
    )
    inactivity = rules.inactivity
    if inactivity is not None:
        inactivity = replace(inactivity, after=inactivity.after * factor)
    sla = rules.sla
    if sla is not None:
        sla = Sla(
            sla.follow_up * factor,
            MappingProxyType({team: d * factor for team, d in sla.by_team.items()}),
        )
    lifecycle = replace(rules.lifecycle, lost_cool_off=rules.lifecycle.lost_cool_off * factor)
    return replace(rules, scenarios=scenarios, inactivity=inactivity, sla=sla, lifecycle=lifecycle)
