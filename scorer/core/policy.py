"""The scoring policy as plain immutable values: categories, rules, thresholds, the
lifecycle, timing, the hand-off loop's scenarios, SLA and inactivity, the account rules.

Durations are float seconds, named `*_s` (the rules file's keys keep their user-facing
names: `scorer/rules/loader.py` maps them); half-lives of `None` mean "never decays" (used
for penalties such as a hard bounce that should not fade). `rules.Rules` gathers them and
compiles their lookups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from scorer.core.conditions import ALWAYS, Condition
from scorer.core.events import EventKind


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
    """At most `points` (in absolute value) from one rule within any `window_s` seconds."""

    points: float
    window_s: float


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


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    half_life_s: float | None


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
    cooldown_s: float = 0.0
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
    lost_cool_off_s: float = 0.0


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
    """How often a scenario may fire for one lead when it has no `cooldown_s` (a scenario
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

    Repeat policy: with a `cooldown_s` (the rules' `repeat: {at_most_once_per: D}`) it may
    fire again once `cooldown_s` has passed since it last fired, whatever the cycle;
    without one, `repeat` says once per lead per lifecycle cycle (recycling starts a new
    cycle) or once per lead ever. While a delayed trigger is pending, further triggers
    of the same scenario are ignored.
    """

    id: str
    trigger: TriggerKind
    actions: tuple[ScenarioAction, ...]
    event: EventMatch | None = None
    state: StateCheck | None = None
    delay_s: float = 0.0
    # A pending delayed trigger is dropped by an event matching one of these whose event
    # time lies between the trigger and the due time ("unless ... meanwhile").
    unless: tuple[EventMatch, ...] = ()
    # Checked when triggered and again at the due time (as of the due time).
    require: StateCheck | None = None
    cooldown_s: float | None = None
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
    """A lead with no `activity` event for `after_s` seconds goes cold (once per stretch)."""

    after_s: float
    activity: frozenset[EventKind] = DEFAULT_ACTIVITY


@dataclass(frozen=True, slots=True)
class Sla:
    """Follow-up time allowed after a hand-off (MQL), per team, else `follow_up_s`."""

    follow_up_s: float
    follow_up_s_by_team: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def follow_up_s_for(self, team: str | None) -> float:
        if team is not None:
            return self.follow_up_s_by_team.get(team, self.follow_up_s)
        return self.follow_up_s


NEVER_LATE = float("inf")
# The defaults of `Timing.lateness_s_by_kind` (see the README's "Late data by source").
DEFAULT_LATENESS_BY_KIND: Mapping[str, float] = MappingProxyType(
    {"profile": 2 * 86400.0, "feedback": NEVER_LATE}
)


@dataclass(frozen=True, slots=True)
class Timing:
    # How far behind a lead's latest event an event may be and still be scored exactly,
    # for the input kinds (event categories) not in `lateness_s_by_kind`.
    allowed_lateness_s: float = 3600.0
    # Per input kind (web, email, seminar, profile, feedback); NEVER_LATE = never refused
    # for lateness (a feedback older than the lead's settled history applies at its end).
    lateness_s_by_kind: Mapping[str, float] = field(
        default_factory=lambda: DEFAULT_LATENESS_BY_KIND
    )
    future_skew_s: float = 300.0
    # Crossings are emitted once the lead's watermark is this far past them. 0 = at once;
    # >= allowed_lateness_s makes alert ids independent of arrival order (see thresholds.py).
    alert_hold_s: float = 0.0
    # Bound on events kept open for late arrivals; beyond it the oldest are settled early.
    max_open_events: int = 256
    # The same for the fields of open profile updates (each field up to ~2 KB of input).
    max_open_profile_fields: int = 256
    # Events older than this before processing time are refused (`too_old`); None = never.
    max_age_s: float | None = 400 * 86400.0


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `max_events` scored events per lead per `per_s`-second slot of event time
    (slots aligned on the Unix epoch); sales feedback neither counts nor is limited."""

    max_events: int = 600
    per_s: float = 60.0


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
    cooldown_s: float = 0.0
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
    engaged_window_s: float = 14 * 86400.0
    engaged_min_points: float = 1.0
    roles: tuple[BuyingRole, ...] = ()
    role_points: float = 0.0
    thresholds: tuple[AccountThreshold, ...] = ()
    last_alert_contacts: int = 20
